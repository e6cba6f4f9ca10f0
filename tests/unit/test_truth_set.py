"""The evaluation set's images reach a fresh machine: bench/truth_set.py --download clones each source
repository (here a real git repository on disk, through git's file:// transport) and copies every
image, checked by its sha256; an unreachable source is one line naming the offline way; and the
benchmark without its images says in one line which command fills the cache."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.bench import git, load_bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def truth_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    module = load_bench(monkeypatch, "truth_set")
    monkeypatch.setattr(module, "MANIFEST", tmp_path / "manifest.json")
    return module


def source_repository(root: Path, payload: bytes) -> tuple[str, str]:
    """A repository owner/photos under ``root`` holding ``payload`` as data/face.jpg: (commit, sha256)."""
    work = root / "owner" / "photos"
    (work / "data").mkdir(parents=True)
    (work / "data" / "face.jpg").write_bytes(payload)
    git("init", "-q", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-qm", "photo", cwd=work)
    return git("rev-parse", "HEAD", cwd=work), hashlib.sha256(payload).hexdigest()


def write_manifest(path: Path, commit: str, sha256: str) -> None:
    item = {"id": "one", "repo": "owner/photos", "commit": commit, "path": "data/face.jpg", "sha256": sha256}
    path.write_text(json.dumps({"items": [item]}))


def test_download_fills_the_cache_from_the_source_repositories(truth_set, tmp_path):
    commit, sha256 = source_repository(tmp_path / "src", b"\xff\xd8 a photograph's bytes")
    write_manifest(truth_set.MANIFEST, commit, sha256)
    cache = tmp_path / "cache"
    assert truth_set.missing(cache) == ["one"]

    assert truth_set.download(cache, f"file://{tmp_path / 'src'}/{{repo}}") == {}
    assert truth_set.fetch(cache / "clones", cache) == []

    assert truth_set.missing(cache) == []
    assert (cache / "one.jpg").read_bytes() == b"\xff\xd8 a photograph's bytes"


def test_an_image_that_changed_upstream_is_refused(truth_set, tmp_path):
    commit, _ = source_repository(tmp_path / "src", b"other bytes")
    write_manifest(truth_set.MANIFEST, commit, hashlib.sha256(b"the labelled bytes").hexdigest())
    cache = tmp_path / "cache"
    truth_set.download(cache, f"file://{tmp_path / 'src'}/{{repo}}")
    (problem,) = truth_set.fetch(cache / "clones", cache)
    assert "sha256 differs" in problem and not (cache / "one.jpg").exists()


def test_an_unreachable_source_is_one_line_naming_the_offline_way(truth_set, tmp_path):
    write_manifest(truth_set.MANIFEST, "0" * 40, "0" * 64)
    failed = truth_set.download(tmp_path / "cache", f"file://{tmp_path / 'nowhere'}/{{repo}}")
    assert list(failed) == ["owner/photos"]
    (line,) = failed.values()
    assert "\n" not in line and "could not clone" in line and "--clones DIR" in line


def test_the_benchmark_without_its_images_names_the_command_that_fills_them(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "emulator_truth.py"), "--cache", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "images missing" in line and "bench/truth_set.py --download" in line
    assert not (tmp_path / "empty").exists()
