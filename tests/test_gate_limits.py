"""The helpers that give CI's gate tests their limits and read a soak's RSS samples."""

from __future__ import annotations

import pytest

from tests.gate_limits import failures, limit, soak_growth

pytestmark = pytest.mark.unit

GOOD_WATCH = {"min_fps": 28.0, "frame_bytes": {"p99": 3000}, "latency_ms": {"p95": 4.0},
              "gaps": 0, "skipped": 0, "reader_gaps": 0}


def test_limits_are_read_from_the_thresholds_file() -> None:
    assert limit("R16", "result.rss_growth_pct") == 2.0
    with pytest.raises(AssertionError, match="no R99 threshold"):
        limit("R99", "result.rss_growth_pct")


def test_failures_name_each_missed_and_each_missing_figure() -> None:
    assert failures("W2", "result.dashboards.", {"result": {"dashboards": GOOD_WATCH}}) == []
    bad = {**GOOD_WATCH, "latency_ms": {"p95": 12.0}, "gaps": 1}
    del bad["skipped"]
    missed = failures("W2", "result.dashboards.", {"result": {"dashboards": bad}})
    assert len(missed) == 3
    assert any("latency_ms.p95 = 12, not <= 10 ms" in m for m in missed)
    assert any("gaps = 1, not <= 0" in m for m in missed)
    assert any("missing" in m and "skipped" in m for m in missed)


def test_soak_growth_reads_the_samples_after_the_first_third() -> None:
    # 100 MB until the warm-up ends at 2 s, then +1 MB a second: +2 % by both measures.
    samples = [[0.0, 90.0], [1.0, 100.0], [2.0, 100.0], [3.0, 101.0], [4.0, 102.0]]
    end, trend, n = soak_growth({"seconds": 6.0, "rss_samples": samples})
    assert n == 3 and end == pytest.approx(2.0) and trend == pytest.approx(2.0)
    # One late spike decides the end point alone; the trend sees it as one sample of five.
    flat = [[float(t), 100.0] for t in range(2, 6)] + [[6.0, 103.0]]
    end, trend, n = soak_growth({"seconds": 6.0, "rss_samples": flat})
    assert n == 5 and end == pytest.approx(3.0) and 0 < trend < end
    assert soak_growth({"seconds": 6.0, "rss_samples": [[5.0, 100.0]]}) == (0.0, 0.0, 1)
