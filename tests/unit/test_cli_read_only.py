"""Folders that cannot be written, and inputs that cannot be read, are refused in one line before
anything starts. The tests run as root, which passes every permission check: so the commands run
here as the user nobody (setpriv), and a virtual file system (/sys) stands for a folder even root
cannot write into."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic import make_video
from tests.support.offline_launch import ENV, OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
SETPRIV = shutil.which("setpriv")

needs_non_root = pytest.mark.skipif(
    SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to run a command as nobody"
)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder nobody may read (pytest's own are root's only), with a read-only folder in it."""
    folder = Path(tempfile.mkdtemp(prefix="read-only-"))
    folder.chmod(0o755)
    (folder / "ro").mkdir(mode=0o555)
    (folder / "ro").chmod(0o555)
    (folder / "outputs.json").write_text(json.dumps(OUTPUTS))
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def run(command: list[str], cwd: Path, as_nobody: bool = True) -> subprocess.CompletedProcess[str]:
    prefix = [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_nobody else []
    return subprocess.run(
        [*prefix, sys.executable, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ENV, "HOME": str(cwd)},
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    return lines[0]


@needs_non_root
def test_a_launch_into_a_read_only_folder_is_refused_before_anything_is_sent(shared):
    video = make_video(shared / "clip.mp4", seconds=0.2).path
    video.chmod(0o644)
    done = run(
        [str(ROOT / "scripts" / "launch.py"), str(video), "--outputs", "outputs.json", "--out", "ro/f.json"], shared
    )
    assert done.returncode == 2
    assert (
        one_line(done)
        == "error: cannot write ro/f.json: Permission denied in ro; pick a folder you may write to (--out)"
    )


@needs_non_root
def test_deploy_with_an_outputs_file_in_a_read_only_folder_is_refused_before_deploying(shared):
    (shared / "data").mkdir(mode=0o777)
    (shared / "data").chmod(0o777)
    command = [str(ROOT / "scripts" / "local.py"), "deploy", "--engine", "in-process", "--data-dir", "data"]
    done = run([*command, "--outputs-file", "ro/outputs.json"], shared)
    assert done.returncode == 1
    assert one_line(done) == "error: cannot use the folder ro (Permission denied); choose another --outputs-file"


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no /sys here")
def test_a_batch_into_a_folder_no_file_can_be_made_in_is_refused_in_one_line(shared):
    (shared / "videos").mkdir()
    (shared / "videos" / "a.mp4").write_bytes(b"")
    command = [str(ROOT / "scripts" / "launch.py"), "videos", "--outputs", "outputs.json", "--out-dir", "/sys/kernel"]
    done = run(command, shared, as_nobody=False)
    assert done.returncode == 2
    assert one_line(done).startswith("error: cannot use --out-dir /sys/kernel: ")


@needs_non_root
@pytest.mark.parametrize(
    "hidden, argv, line",
    [
        ("clip.mp4", ["clip.mp4"], "error: video clip.mp4 cannot be read (Permission denied): check its permissions"),
        (
            "outputs.json",
            ["clip.mp4"],
            "error: outputs file outputs.json cannot be read (Permission denied): check its permissions",
        ),
        ("videos", ["videos"], "error: folder videos cannot be read (Permission denied): check its permissions"),
        (
            "videos",
            ["videos", "--recursive"],
            "error: folder videos cannot be read (Permission denied): check its permissions",
        ),
    ],
)
def test_an_input_the_user_may_not_read_is_named_with_what_to_check(shared, hidden, argv, line):
    """Not 'pick a file or folder you may write to', 'not readable JSON: write it again', or (a
    folder with --recursive) 'has no videos'."""
    make_video(shared / "clip.mp4", seconds=0.2)
    (shared / "videos").mkdir()
    make_video(shared / "videos" / "a.mp4", seconds=0.2)
    for path in (shared / "clip.mp4", shared / "videos" / "a.mp4", shared / "videos"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (shared / hidden).chmod(0o700 if (shared / hidden).is_dir() else 0o600)
    done = run([str(ROOT / "scripts" / "launch.py"), *argv, "--outputs", "outputs.json"], shared)
    assert done.returncode == 2
    assert one_line(done) == line
