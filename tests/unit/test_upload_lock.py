"""The machine-wide upload lock (one upload of a new video at a time, ``launcher.upload``) is bounded:
a launch waiting for another's upload gives up, in one line, once that upload has not moved for
``UPLOAD_STALL_SECONDS``, and waits as long as it moves. The other launch is a real process holding
the real lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import launcher.cli
import launcher.upload
from launcher.jobs.errors import ExitCode, LauncherError
from launcher.upload import DIGEST_METADATA, sha256_of, upload, upload_lock_path
from synthetic import make_video
from tests.support.offline_launch import ENV, OUTPUTS

# The holder: takes the lock, says so, touches the lock file every ``beat`` seconds (0: never, as
# a stopped or hung launch) for ``hold`` seconds, then ends (the kernel releases the lock).
HOLDER = """
import fcntl, os, sys, time
lock = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
beat, end = float(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    time.sleep(beat or 0.05)
    if beat:
        os.utime(lock)
"""


@contextmanager
def held(lock: Path, beat: float, hold: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``lock`` (a launch uploading, or one stopped mid-upload)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), str(beat), str(hold)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


class S3:
    """A stand-in for S3 where the same bytes are already uploaded (the first launch's)."""

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.calls = 0

    def head_object(self, **_: object) -> dict[str, object]:
        self.calls += 1
        return {"VersionId": "v1", "Metadata": {DIGEST_METADATA: self.digest}}


@pytest.fixture
def video(tmp_path: Path) -> tuple[Path, str, Path]:
    path = make_video(tmp_path / "clip.mp4", seconds=0.2).path
    digest = sha256_of(path, progress_bar=False)
    return path, digest, upload_lock_path("b", f"videos/{digest}.mp4", digest)


def stalled(lock: Path, seconds: float) -> str:
    return (
        f"another upload on this machine holds the lock {lock} (the same video's, or another video's whose lock "
        f"file is the same) but has sent nothing for {seconds:g} s (a launch stopped with Ctrl-Z, or hung): resume "
        "or end it, then run this again"
    )


def test_a_launch_waiting_for_a_stalled_upload_gives_up_in_one_line(video, monkeypatch):
    """It waited forever for a launch stopped (Ctrl-Z) or hung mid-upload. Here the holder never
    moves, and would end only after 30 s: without the bound this upload would then go on."""
    path, digest, lock = video
    monkeypatch.setattr(launcher.upload, "UPLOAD_STALL_SECONDS", 0.5)
    s3 = S3(digest)
    with held(lock, beat=0, hold=30) as holder, pytest.raises(LauncherError) as raised:
        upload(s3, path, "b", progress_bars=False)  # type: ignore[arg-type]
    assert holder.returncode == -signal.SIGKILL  # killed by held(): it still held the lock when the launch gave up
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    assert str(raised.value) == stalled(lock, 0.5)
    assert s3.calls == 0  # nothing looked at, nothing uploaded


def test_a_launch_waits_for_an_upload_that_moves_then_finds_its_bytes(video, monkeypatch):
    """Progress, not time, is bounded: a long upload that keeps moving is waited for."""
    path, digest, lock = video
    monkeypatch.setattr(launcher.upload, "UPLOAD_STALL_SECONDS", 1.0)
    s3 = S3(digest)
    start = time.monotonic()
    with held(lock, beat=0.05, hold=2.5):
        pinned, uploaded = upload(s3, path, "b", progress_bars=False)  # type: ignore[arg-type]
    assert time.monotonic() - start >= 2.5  # it waited for the holder to end, past the stall bound
    assert (pinned.version, uploaded, s3.calls) == ("v1", False, 1)


def test_an_upload_moving_touches_the_lock_for_its_waiters(video, monkeypatch):
    """The holder's heartbeat: upload progress moves the lock file's modification time (here on
    every call, not at most once a second)."""
    path, digest, lock = video
    monkeypatch.setattr(launcher.upload, "_HEARTBEAT_SECONDS", 0.0)
    seen: list[int] = []

    class Uploading(S3):
        def head_object(self, **_: object) -> dict[str, object]:
            self.calls += 1
            if self.calls == 1:
                return {}  # not there yet: upload it
            return {"VersionId": "v2"}

        def upload_file(self, *_: object, Callback: Callable[[int], None], **__: object) -> None:
            lock.touch()
            before = lock.stat().st_mtime_ns
            time.sleep(0.01)
            Callback(1)
            seen.append(lock.stat().st_mtime_ns - before)

    pinned, uploaded = upload(Uploading(digest), path, "b", progress_bars=False)  # type: ignore[arg-type]
    assert (pinned.version, uploaded) == ("v2", True)
    assert len(seen) == 1 and seen[0] > 0


def test_the_launch_command_says_the_one_line(tmp_path, monkeypatch, capsys):
    """Through the command line: one error line, no traceback, before any call to AWS (nothing
    answers at the endpoint, so a launch that got past the lock would say that instead)."""
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(launcher.upload, "UPLOAD_STALL_SECONDS", 0.5)
    path = make_video(tmp_path / "clip.mp4", seconds=0.2).path
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    digest = sha256_of(path, progress_bar=False)
    lock = upload_lock_path("b", f"videos/{digest}.mp4", digest)
    with held(lock, beat=0, hold=30):
        code = launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", "--quiet"])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT
    assert err == f"error: {stalled(lock, 0.5)}\n"
    with lock.open("rb") as other:  # released: the next launch is not kept waiting by this one
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_another_videos_upload_sharing_the_lock_file_is_not_called_the_same_video(video, monkeypatch, caplog):
    """256 lock files serve every video: a batch of two different new videos whose locks are one file
    said "another launch on this machine is uploading the same video" (reproduced against the local
    endpoint), and a stalled one "holds the upload lock ... for this video". Here the holder holds
    another video's lock, which is this one's file."""
    path, digest, lock = video
    base = path.read_bytes()
    other = next(  # other bytes (a different video) whose lock file is this one's
        candidate
        for candidate in (hashlib.sha256(base + i.to_bytes(4, "big")).hexdigest() for i in range(100_000))
        if candidate != digest and upload_lock_path("b", f"videos/{candidate}.mp4", candidate) == lock
    )
    assert other != digest
    monkeypatch.setattr(launcher.upload, "UPLOAD_STALL_SECONDS", 0.5)
    with (
        caplog.at_level("WARNING", "launcher.upload"),
        held(lock, beat=0, hold=30),
        pytest.raises(LauncherError) as raised,
    ):
        upload(S3(digest), path, "b", progress_bars=False)  # type: ignore[arg-type]
    assert str(raised.value) == stalled(lock, 0.5)
    assert [record.getMessage() for record in caplog.records] == [
        f"another upload on this machine holds the lock {lock} (the same video's, or another video's whose lock "
        "file is the same): waiting for it, so as not to upload the same video twice (giving up if it makes no "
        "progress for 0.5 s)"
    ]
