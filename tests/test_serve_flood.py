"""A real `semhash serve` flooded with uploads, some disconnected half-way: no traceback in
its log, one line per disconnect, every whole request answered with results, and its memory
measured before and after (bench/flood.py; `semhash bench-flood` runs the same)."""

import pytest

from semantic_hashing.bench.flood import flood


def _check(report, requests, disconnects):
    assert report.disconnects == disconnects
    assert report.answered == {200: requests - disconnects}, report
    assert report.tracebacks_in_log == 0, report.log_file
    assert report.disconnect_lines_in_log >= 1


def test_a_short_flood_leaves_no_traceback(collection, tmp_path):
    report = flood(collection, requests=60, disconnects=15, clients=4,
                   log_file=tmp_path / "serve.log")  # fmt: skip
    _check(report, 60, 15)


@pytest.mark.slow
def test_two_thousand_requests_three_hundred_disconnected(collection, tmp_path):
    report = flood(collection, requests=2000, disconnects=300, clients=8,
                   log_file=tmp_path / "serve.log")  # fmt: skip
    print("serve flood:", report.to_dict())
    _check(report, 2000, 300)
    assert report.rss_after_kb < report.rss_before_kb * 1.5  # no growth with the disconnects
