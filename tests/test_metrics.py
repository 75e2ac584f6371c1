"""Metrics against hand-computed examples, ties included."""

import numpy as np
import pytest

from semantic_hashing.bench.eval import (
    precision_recall_curve,
    precision_within_radius,
    relevant_counts,
)
from semantic_hashing.retrieval import metrics


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


def test_precision_within_radius_by_hand():
    dist = np.array([[0, 2, 3, 2], [5, 4, 3, 3], [1, 1, 2, 0]])
    same = np.array([[1, 0, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=bool)
    precision, found = precision_within_radius(dist, same, 2)
    # q0: ball {0, 1, 3} (distance 2 is inside), relevant {0, 3}; q1: empty ball counts 0;
    # q2: all four inside, two relevant
    assert precision == pytest.approx([2 / 3, 0.0, 0.5])
    assert found.tolist() == [True, False, True]


def test_recall_and_precision_recall_curves_by_hand():
    rel = np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=bool)
    n_relevant = np.array([3, 1])  # q0 has a third relevant item beyond the list
    ks = [1, 2, 4]
    assert metrics.hits_at(rel, ks).tolist() == [[1, 1, 2], [0, 1, 1]]
    recall = metrics.recall_at_k(rel, n_relevant, ks)
    assert recall == pytest.approx([(1 / 3 + 0) / 2, (1 / 3 + 1) / 2, (2 / 3 + 1) / 2])
    precision, recall2 = precision_recall_curve(rel, n_relevant, ks)
    assert precision == pytest.approx([(1 + 0) / 2, (0.5 + 0.5) / 2, (0.5 + 0.25) / 2])
    assert recall2 == pytest.approx(recall)
    with pytest.raises(ValueError, match="ranked list length"):
        metrics.hits_at(rel, [5])


def test_recall_of_a_query_without_relevant_items_is_zero():
    rel = np.zeros((1, 3), dtype=bool)
    assert metrics.recall_at_k(rel, np.array([0]), [3]).tolist() == [0.0]


def test_relevant_counts():
    db = np.array([0, 2, 2, 1, 2])
    assert relevant_counts(np.array([2, 0, 3]), db).tolist() == [3, 1, 0]
