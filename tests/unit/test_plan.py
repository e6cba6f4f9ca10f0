"""The plan's arithmetic and its verdicts, without any video or AWS: the schedule under the quota,
the service's limits, the cost, and the table people read."""

from __future__ import annotations

import pytest

from launcher.jobs.errors import BadInput
from launcher.plan import (
    JOB_OVERHEAD_SECONDS,
    Plan,
    PlannedVideo,
    check_money,
    estimated_seconds,
    refusal,
    render,
)
from launcher.probe import VideoFacts


def facts(seconds: float) -> VideoFacts:
    return VideoFacts(int(seconds * 1000), "QuickTime / MOV", "h264", 1280, 720)


def test_jobs_fill_the_slots_longest_first():
    # 2 slots: 100 and 40+40+... -> [100] and [40, 40, 20] -> 100 s of video each, plus overheads
    assert estimated_seconds([40, 100, 40, 20], 2, speed=1.0, overhead=0.0) == 100
    assert estimated_seconds([60] * 40, 20, speed=2.0, overhead=0.0) == 60, "two rounds of 30 s jobs"
    assert estimated_seconds([10], 20, overhead=JOB_OVERHEAD_SECONDS) == 10 + JOB_OVERHEAD_SECONDS
    assert estimated_seconds([], 20) == 0


def test_the_service_limits_are_refusals():
    assert refusal(11 * 1024**3, facts(60)) == f"{11 * 1024**3} bytes: the service takes at most 10 GB"
    assert refusal(1000, facts(7 * 3600)) == "lasts 7.0 hours: the service takes at most 6"
    assert refusal(1000, facts(6 * 3600)) is None


def test_cost_counts_only_what_would_run():
    plan = Plan(
        [
            PlannedVideo("a.mp4", 10, facts(90), None),
            PlannedVideo("b.mp4", 10, facts(30), None),
            PlannedVideo("bad.mp4", 10, None, "not a readable video container"),
        ],
        "eu-west-1",
        0.12,
        20,
    )
    assert plan.minutes == pytest.approx(2.0) and plan.cost == pytest.approx(0.24)
    data = plan.to_json()
    assert (data["Accepted"], data["Refused"], data["EstimatedCostUSD"]) == (2, 1, 0.24)
    assert data["Videos"][2] == {
        "Video": "bad.mp4",
        "SizeBytes": 10,
        "Accepted": False,
        "Refusal": "not a readable video container",
    }
    text = render(plan, "--price-per-minute")
    assert "bad.mp4" in text and "refused: not a readable video container" in text
    assert "2 accepted, 1 refused; 2.0 minutes" in text and "$0.24 at $0.12 per minute" in text
    assert "nothing was uploaded and no job was started" in text


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf")])
def test_money_is_a_finite_amount_of_zero_or_more(value):
    with pytest.raises(BadInput, match="--max-cost must be zero or more US dollars"):
        check_money(value, "--max-cost")
