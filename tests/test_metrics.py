"""Metrics against hand-computed examples, ties included."""

import numpy as np
import pytest

from retrieval import metrics


def test_precision_and_ap_by_hand():
    rel = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    assert metrics.precision_at_k(rel, 2) == pytest.approx((0.5 + 0 + 1) / 3)
    ap = metrics.average_precision_at_k(rel, 4)
    # query 0: hits at ranks 1 and 3 -> (1/1 + 2/3) / 2
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)
    assert ap[1] == 0.0 and ap[2] == pytest.approx(1.0)
    assert metrics.mean_average_precision(rel, 4) == pytest.approx(ap.mean())


def test_ties_keep_database_order():
    dist = np.array([[2, 1, 1, 0, 1]])
    assert metrics.rank_by_distance(dist, 4).tolist() == [[3, 1, 2, 4]]


def test_relevance_ignores_missing_neighbours():
    db_labels = np.array([0, 1, 0])
    rel = metrics.relevance(np.array([0]), db_labels, np.array([[2, -1, 0]]))
    assert rel.tolist() == [[True, False, True]]
