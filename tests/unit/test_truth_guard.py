"""bench/emulator_truth.py's guard: a rule change that costs human recall (more than 0.01 on a split
and resolution) or reports more non-human faces than the recorded baseline is refused; targets not
reached are listed apart, so a known miss does not hide a new one."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.support.bench import load_bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def truth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    module = load_bench(monkeypatch, "emulator_truth")
    monkeypatch.setattr(module, "BASELINE", tmp_path / "baseline.json")
    return module


def results(truth: ModuleType, found: int, non_human: int) -> dict:
    return {
        "640x360": {
            ("dev", "all human"): truth.Tally(eligible=100, found=found),
            ("dev", "all non-human"): truth.Tally(reported=non_human, samples=10),
        }
    }


def test_the_recorded_figures_pass_and_misses_of_the_target_are_listed(truth):
    assert truth.guard(results(truth, found=93, non_human=2), record=True)[0] == []
    refused, missed = truth.guard(results(truth, found=93, non_human=2), record=False)
    assert refused == []
    assert missed == ["human recall 640x360 dev: 0.9300 < 0.95", "640x360 dev non-human reported: 2 (target 0)"]


def test_a_loss_of_human_recall_is_refused(truth):
    truth.guard(results(truth, found=93, non_human=0), record=True)
    assert truth.guard(results(truth, found=92, non_human=0), record=False)[0] == []  # within 0.01
    (refused,) = truth.guard(results(truth, found=91, non_human=0), record=False)[0]
    assert refused == "human recall 640x360 dev: 0.9100, was 0.9300"


def test_one_more_non_human_face_is_refused(truth):
    truth.guard(results(truth, found=93, non_human=2), record=True)
    (refused,) = truth.guard(results(truth, found=99, non_human=3), record=False)[0]
    assert refused == "640x360 dev non-human reported: 3, was 2"


def test_a_loss_on_the_newest_batch_alone_is_refused(truth):
    """The untouched batch is guarded on its own: a loss there hides in the total of a bigger set."""

    def with_batch(found_total: int, found_new: int) -> dict:
        figures = results(truth, found=found_total, non_human=0)
        figures["640x360"]["dev", truth.batch_category("human", 3)] = truth.Tally(eligible=20, found=found_new)
        return figures

    truth.guard(with_batch(93, 15), record=True)
    (refused,) = truth.guard(with_batch(92, 14), record=False)[0]  # the total within 0.01, the batch not
    assert refused == "human recall 640x360 dev, batch 3: 0.7000, was 0.7500"
