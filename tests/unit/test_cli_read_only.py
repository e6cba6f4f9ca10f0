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


@pytest.fixture
def locked_subfolder(shared: Path) -> Path:
    """videos/a.mp4, videos/open/c.mp4, and videos/locked/b.mp4 in a subfolder nobody may list."""
    for name in ("a.mp4", "open/c.mp4", "locked/b.mp4"):
        (shared / "videos" / name).parent.mkdir(parents=True, exist_ok=True)
        make_video(shared / "videos" / name, seconds=0.2)
    for path in (shared / "videos").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (shared / "videos").chmod(0o755)
    (shared / "videos" / "locked").chmod(0o700)
    return shared


LEFT_OUT = (
    "warning: folder videos/locked cannot be read (Permission denied), so its videos are left out: check its "
    "permissions"
)


@needs_non_root
def test_a_recursive_plan_names_a_subfolder_it_cannot_read(locked_subfolder):
    """pathlib's rglob skipped it without a word: the plan counted two videos of three."""
    command = [str(ROOT / "scripts" / "launch.py"), "videos", "--recursive", "--plan", "--outputs", "outputs.json"]
    done = run(command, locked_subfolder)
    assert done.returncode == 0
    assert one_line(done) == LEFT_OUT
    assert "2 video(s): 2 accepted" in done.stdout and "b.mp4" not in done.stdout


@needs_non_root
def test_a_recursive_batch_names_a_subfolder_it_cannot_read_and_does_not_end_0(locked_subfolder):
    """As `aws s3 sync` (exit 2) and rsync (exit 23): the readable videos are done, the folder is named
    at once (with --quiet too) and in the summary, and the batch ends 5. Here the two readable videos'
    results are already written (the ledger says so), so nothing needs AWS: without the warning the
    batch ended 0, all done."""
    from launcher.batch.ledger import SUCCEEDED, Entry, Ledger

    out = locked_subfolder / "out"
    out.mkdir()
    params = json.dumps(["DEFAULT", None, OUTPUTS["topicArn"], OUTPUTS["roleArn"]])
    ledger = Ledger(out)
    for name in ("a.mp4", "open/c.mp4"):
        video = str(locked_subfolder / "videos" / name)
        results = out / f"{Path(name).name}.faces.json"
        results.write_text("{}")
        ledger.save(Entry(video, Path(name).name, params, status=SUCCEEDED, faces=1, results=str(results)))
    ledger.close()
    for path in [out, *out.iterdir()]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    command = [str(ROOT / "scripts" / "launch.py"), "videos", "--recursive", "--outputs", "outputs.json"]
    done = run([*command, "--out-dir", "out", "--json", "--quiet"], locked_subfolder)
    assert one_line(done) == LEFT_OUT
    summary = json.loads(done.stdout)
    assert (done.returncode, summary["exitCode"], summary["leftOut"]) == (5, 5, ["videos/locked"])
    assert summary["counts"] == {"SUCCEEDED": 0, "SKIPPED": 2, "FAILED": 0, "ERROR": 0}
    done = run([*command, "--out-dir", "out"], locked_subfolder)
    assert done.returncode == 5
    assert one_line(done) == LEFT_OUT
    assert "2 skipped, 0 failed, 0 error; 1 folder(s) left out (cannot be read); 2 face(s)" in done.stdout


@needs_non_root
def test_a_subfolder_that_may_be_read_but_not_entered_is_left_out_as_one_that_cannot_be_listed(shared):
    """A folder of mode 0744 (chmod -R 644 on a tree) lists its names, but its files cannot be looked
    at: the whole recursive batch was refused with "cannot use videos/part/b.mp4: Permission denied.
    What to do: pick a file or folder you may write to". It is left out as an unlistable one is; the
    folder given as VIDEO itself is refused as unreadable."""
    for name in ("a.mp4", "part/b.mp4"):
        (shared / "videos" / name).parent.mkdir(parents=True, exist_ok=True)
        make_video(shared / "videos" / name, seconds=0.2).path.chmod(0o644)
    (shared / "videos").chmod(0o755)
    (shared / "videos" / "part").chmod(0o744)
    command = [str(ROOT / "scripts" / "launch.py"), "videos", "--recursive", "--plan", "--outputs", "outputs.json"]
    done = run(command, shared)
    assert (done.returncode, one_line(done)) == (
        0,
        "warning: folder videos/part cannot be read (Permission denied), so its videos are left out: check its "
        "permissions",
    )
    assert "1 video(s): 1 accepted" in done.stdout and "b.mp4" not in done.stdout
    (shared / "videos" / "part").chmod(0o755)
    (shared / "videos").chmod(0o744)
    for recursive in ([], ["--recursive"]):
        done = run([*command[:2], *recursive, *command[3:]], shared)
        assert (done.returncode, one_line(done)) == (
            2,
            "error: folder videos cannot be read (Permission denied): check its permissions",
        )
