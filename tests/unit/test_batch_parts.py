"""The batch's pure parts: what is a batch, the results names, the ledger, the start logic's light
imports (an AWS Lambda function reuses it with boto3 alone), and when the scheduler's loop waits
(on a fake clock)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import queue
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from tqdm import tqdm

import launcher.batch.scheduler
from launcher.batch.discovery import discover, folder_videos, is_batch, result_names
from launcher.batch.ledger import ERROR, Entry, Ledger
from launcher.batch.scheduler import (
    RUNNING,
    STARTING,
    UNREACHABLE_SECONDS,
    Batch,
    Tally,
    Video,
    Workers,
    prepare_out_dir,
)
from launcher.jobs.errors import BadInput, ExitCode, LauncherError
from launcher.jobs.notifications import CLEANUP_SECONDS, LOOK_SECONDS, Completion
from launcher.options import BatchOptions, check_batch_options, file_name
from launcher.stack import StackOutputs
from tests.support.pulumi_mocks import FakeClock

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = StackOutputs("bucket", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:iam::123456789012:role/r", "q", "r")


def test_what_makes_a_batch(tmp_path: Path):
    assert not is_batch(["clip.mp4"]) and not is_batch(["s3://bucket/clip.mp4"])
    assert is_batch(["a.mp4", "b.mp4"]) and is_batch(["s3://bucket/prefix/"]) and is_batch([str(tmp_path)])


def test_a_folder_gives_its_videos_sorted_hidden_files_left_out(tmp_path: Path):
    for name in ("b.MOV", "a.mp4", "d.AVI", ".hidden.mp4", "notes.txt", "sub/c.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [Path(v).name for v in folder_videos(tmp_path, recursive=False)] == ["a.mp4", "b.MOV", "d.AVI"]
    assert [Path(v).name for v in folder_videos(tmp_path, recursive=True)] == ["a.mp4", "b.MOV", "d.AVI", "c.mp4"]


def test_an_empty_folder_is_bad_input(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.mp4").write_bytes(b"")
    with pytest.raises(BadInput, match=r"has no \.mp4/\.mov/\.avi videos \(add --recursive"):
        folder_videos(tmp_path, recursive=False)


def _tree(folder: Path, *names: str) -> None:
    """Empty files at ``names`` under ``folder``, their subfolders made."""
    for name in names:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"")


def _found_and_heard(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """A recursive discovery of ``folder``: the names of the videos found, and the (subfolder, reason)
    its handler heard of."""
    heard: list[tuple[str, str]] = []
    found = discover([str(folder)], True, None, lambda where, error: heard.append((where, str(error.strerror))))
    return [Path(video).name for video in found], heard


def test_a_subfolder_that_cannot_be_listed_is_handed_over_or_refused_never_skipped(tmp_path: Path, monkeypatch):
    """rglob skipped a subfolder whose listing failed, without a word. Here the disk fails to list
    one (EIO, which root meets too): a handler hears of it and the rest is found; without one, refused."""
    import errno
    import os

    import launcher.batch.discovery

    _tree(tmp_path, "a.mp4", "bad/b.mp4", "good/c.mp4")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == str(tmp_path / "bad"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(launcher.batch.discovery.os, "scandir", scandir)  # what os.walk lists with
    assert _found_and_heard(tmp_path) == (["a.mp4", "c.mp4"], [(str(tmp_path / "bad"), "Input/output error")])
    with pytest.raises(BadInput) as refused:
        discover([str(tmp_path)], True, None)
    assert str(refused.value) == (
        f"folder {tmp_path / 'bad'} cannot be read (Input/output error): check the disk, or copy the videos elsewhere"
    )


def test_a_subfolder_whose_files_cannot_be_looked_at_is_handed_over_or_refused(tmp_path: Path, monkeypatch):
    """A folder that may be read but not entered (0744) lists its names, but a stat of its files fails
    (EACCES): the whole batch was refused as a file it could not use. Root passes that check, so the
    stat of the files in one subfolder fails here as it does for another user."""
    import errno
    import os

    import launcher.batch.discovery

    _tree(tmp_path, "a.mp4", "part/b.mp4", "good/c.mp4")
    real_stat = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.path.dirname(os.fspath(path)) in (str(tmp_path / "part"), str(tmp_path) if entered is False else ""):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_stat(path, *args, **kwargs)

    entered = True
    monkeypatch.setattr(launcher.batch.discovery.os, "stat", stat)
    assert _found_and_heard(tmp_path) == (["a.mp4", "c.mp4"], [(str(tmp_path / "part"), "Permission denied")])
    with pytest.raises(BadInput) as refused:
        discover([str(tmp_path)], True, None)
    assert str(refused.value) == f"folder {tmp_path / 'part'} cannot be read (Permission denied): check its permissions"
    entered = False  # the folder given itself: refused, recursive or not
    for recursive in (False, True):
        with pytest.raises(BadInput) as refused:
            discover([str(tmp_path)], recursive, None, lambda folder, error: None)
        assert str(refused.value) == f"folder {tmp_path} cannot be read (Permission denied): check its permissions"


# Lists the folder given as another user would (root drops to nobody once the imports are done, in the
# folder above, so that nothing above it needs to be searchable): what it found, or the line refused.
_DISCOVER_AS_ANOTHER_USER = """
import os, sys
from pathlib import Path
from launcher.batch.discovery import discover
from launcher.jobs.errors import BadInput
os.chdir(sys.argv[1])
if os.getuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
heard = []
try:
    found = discover(["top"], sys.argv[2] == "recursive", None, lambda where, error: heard.append(where))
    print([Path(video).name for video in found], heard)
except BadInput as refused:
    print(refused, heard)
"""


@pytest.mark.parametrize("recursive", ["recursive", "flat"])
def test_a_folder_given_that_may_be_listed_but_not_entered_is_refused_as_unreadable(tmp_path: Path, recursive: str):
    """The folder given of mode 0744 with its videos in subfolders only: a recursive batch warned of
    each subfolder as unreadable and then said the folder had no videos, and a flat one told to add
    --recursive. Real permissions, in a real process of a user other than root."""
    from tests.support.pulumi_mocks import ROOT

    (tmp_path / "top").mkdir()
    _tree(tmp_path / "top", "a/b.mp4", "c/d.mp4")
    tmp_path.chmod(0o755)
    (tmp_path / "top").chmod(0o744)
    done = subprocess.run(
        [sys.executable, "-c", _DISCOVER_AS_ANOTHER_USER, str(tmp_path), recursive],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stderr, done.stdout) == (
        0,
        "",
        "folder top cannot be read (Permission denied): check its permissions []\n",
    )


def test_a_batch_with_a_folder_left_out_is_not_ok():
    assert Tally().ok and not Tally(left_out=["videos/locked"]).ok
    assert "; 1 folder(s) left out (cannot be read); 0 face(s)" in Tally(left_out=["x"]).describe(Path("out"))


def test_discover_keeps_the_order_given_once_each(tmp_path: Path):
    (tmp_path / "x.mp4").write_bytes(b"")
    found = discover([str(tmp_path / "x.mp4"), str(tmp_path), "s3://b/k.mov", "missing.mp4"], False, s3=None)
    assert found == [str(tmp_path / "x.mp4"), "s3://b/k.mov", str(Path("missing.mp4").absolute())]
    with pytest.raises(BadInput, match="not an S3 video URI"):
        discover(["s3:/b/k.mp4"], False, s3=None)


def test_results_names_are_distinct_and_stable():
    videos = ["/a/clip.mp4", "/b/clip.mp4", "s3://bucket/x/other.mov", "/c/CLIP.mp4"]
    names = dict(result_names(videos, {}))
    assert names["s3://bucket/x/other.mov"] == "other.mov" and names["/c/CLIP.mp4"] == "CLIP.mp4"
    assert names["/a/clip.mp4"] != names["/b/clip.mp4"]
    assert names["/a/clip.mp4"].startswith("clip-") and names["/a/clip.mp4"].endswith(".mp4")
    assert dict(result_names(list(reversed(videos)), {})) == names, "independent of the order"
    # A name the ledger already gave stays, and a newcomer avoids it.
    later = dict(result_names(["/a/clip.mp4", "/d/clip.mp4"], {"/a/clip.mp4": "clip.mp4"}))
    assert later["/a/clip.mp4"] == "clip.mp4" and later["/d/clip.mp4"].startswith("clip-")
    assert file_name("s3://bucket/a%20b/c%3Fd.mp4") == "c?d.mp4"


def test_the_ledger_keeps_what_it_was_told_across_connections(tmp_path: Path):
    ledger = Ledger(tmp_path)
    entry = Entry("/v/clip.mp4", "clip.mp4", "[]", "bucket", "videos/x.mp4", "v1", "t" * 64)
    ledger.save(entry)
    entry.job_id = "j" * 64
    ledger.save(entry)
    ledger.close()  # like a process that ends here
    again = Ledger(tmp_path)
    assert again.get("/v/clip.mp4") == entry
    assert again.get("/v/other.mp4") is None
    assert again.names(["/v/clip.mp4", "/v/other.mp4"]) == {"/v/clip.mp4": "clip.mp4"}
    assert entry.restarted() == Entry("/v/clip.mp4", "clip.mp4", "[]")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"max_jobs": 0}, "--max-jobs must be at least 1"),
        ({"fmt": "xml"}, "--format 'xml'"),
        ({"job_tag": "no spaces"}, "--job-tag"),
        ({"timeout": 0}, "--timeout must be a positive"),
        ({"grace": -1}, "--grace must be zero or more"),
    ],
)
def test_batch_options_refused(change, message):
    with pytest.raises(BadInput, match=message):
        check_batch_options(BatchOptions(videos=["a.mp4"], outputs=OUTPUTS, **change))


def test_an_auto_processing_stack_is_not_for_a_batch():
    outputs = dataclasses.replace(OUTPUTS, incoming_prefix="incoming/", starter_function_name="starter")
    with pytest.raises(BadInput, match="autoProcess"):
        check_batch_options(BatchOptions(videos=["a.mp4"], outputs=outputs))


def test_an_out_dir_that_cannot_be_a_folder(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput, match="cannot use --out-dir"):
        prepare_out_dir(tmp_path / "file" / "results")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / ".clip.mp4.faces.json.x1.partial").write_text("half")
    prepare_out_dir(tmp_path / "ok")
    assert list((tmp_path / "ok").iterdir()) == [], "a stopped run's temporary file is removed"


def test_the_summary_line():
    tally = Tally()
    tally.counts.update(SUCCEEDED=2, SKIPPED=1, ERROR=1)
    tally.faces = 7
    assert not tally.ok
    assert tally.describe(Path("out")) == (
        "4 video(s): 2 succeeded, 1 skipped, 0 failed, 1 error; 7 face(s); results in out/ (each video in batch.jsonl)"
    )


def test_the_start_logic_imports_with_boto3_alone():
    """No tqdm, no PyAV: what an AWS Lambda function has."""
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, *args):\n"
        "        if name.split('.')[0] in ('tqdm', 'av', 'numpy'):\n"
        "            raise ImportError(f'{name} is not there')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from launcher.jobs.detection import FaceDetection, StartRequest, RETRY_LATER\n"
        "from launcher.jobs.s3video import S3Video, parse_s3_uri\n"
        "request = StartRequest(parse_s3_uri('s3://b/k.mp4?versionId=1'), 'topic', 'role')\n"
        "print(len(request.derived_token()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "64"


def test_a_batch_looks_for_the_messages_of_jobs_whose_end_came_from_the_status():
    """Its consumer goes on until it has deleted them (left, they would go round other consumers
    into the dead-letter queue), at most as long as a single launcher would look."""
    clock = FakeClock()
    batch = Batch(BatchOptions(videos=["a.mp4"], outputs=OUTPUTS), clock=clock)
    batch._open.update({"found", "never"})
    batch._shared = True
    batch._ended_by_status("found")
    batch._ended_by_status("never")
    assert batch._consumer_needed()
    batch._dispatch(Completion("found", "SUCCEEDED"))
    clock.now = CLEANUP_SECONDS - 0.1
    assert batch._consumer_needed(), "'never' is still looked for"
    clock.now = CLEANUP_SECONDS
    assert not batch._consumer_needed()

    batch._shared = False
    batch._open.add("reused-token")
    batch._ended_by_status("reused-token")
    clock.now += LOOK_SECONDS
    assert not batch._consumer_needed(), "on a queue nobody shares: one short look"


class Waits(queue.Queue[tuple[Any, ...]]):
    """The scheduler's event queue on a fake clock: a wait that no event ends moves the clock on by its
    whole timeout at once (no real time passes), and ``meanwhile`` runs during the first wait, as
    another thread would act while the scheduler waits."""

    def __init__(self, clock: FakeClock, meanwhile: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.meanwhile = meanwhile
        self.timeouts: list[float | None] = []  # each blocking wait's

    def get(self, block: bool = True, timeout: float | None = None) -> tuple[Any, ...]:
        if not block:  # get_nowait: the events already there
            return super().get(block=False)
        self.timeouts.append(timeout)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        if self.empty():
            assert timeout is not None, "the scheduler never waits without a timeout"
            self.clock.now += timeout
            raise queue.Empty
        return super().get(block=False)


@contextlib.contextmanager
def looping_batch(tmp_path: Path, clock: FakeClock, phase: str) -> Iterator[Batch]:
    """A batch of one video in ``phase``, ready for its loop: no AWS, no worker threads, a ``Waits``
    event queue on ``clock``."""
    batch = Batch(BatchOptions(videos=["/v/a.mp4"], outputs=OUTPUTS, out_dir=tmp_path), clock=clock)
    batch._events = Waits(clock)
    batch._preparers = batch._starters = batch._fetchers = Workers(0, "none")
    batch._ledger = Ledger(tmp_path)
    video = Video(Entry("/v/a.mp4", "a.mp4", "[]", job_id="job-a"))
    batch._videos.append(video)
    batch._phases[video.phase] += 1
    batch._move(video, phase)
    if phase == STARTING:
        batch._unstarted = 1
    try:
        with (tmp_path / "batch.jsonl").open("w") as batch._log, tqdm(total=1, disable=True) as batch._progress:
            yield batch
    finally:
        batch._ledger.close()


def test_the_loop_ends_without_waiting_once_the_watchdog_ended_the_last_video(tmp_path: Path):
    """Nothing can move the video (a lost start): the watchdog ends it, and the loop returns at once
    rather than wait up to a long poll for an event that never comes."""
    clock = FakeClock()
    with looping_batch(tmp_path, clock, STARTING) as batch:
        batch._loop(deadline=math.inf)
        assert isinstance(batch._events, Waits)
        assert batch._events.timeouts == [], "the loop waited for an event after the last video ended"
        assert batch.tally.counts[ERROR] == 1 and clock.now == 0.0


def test_a_silent_aws_wakes_the_loop_once_with_its_deadline():
    """The first failure puts one no-op event (the loop takes the deadline into its next wait);
    more failures neither move the start of the silence nor add events."""
    clock = FakeClock()
    batch = Batch(BatchOptions(videos=["a.mp4"], outputs=OUTPUTS), clock=clock)
    clock.now = 5.0
    batch._not_answering(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    clock.now = UNREACHABLE_SECONDS - 1.0
    batch._not_answering(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert [batch._events.get_nowait() for _ in range(batch._events.qsize())] == [("idle",)]
    assert batch._unreachable is not None and batch._unreachable[0] == 5.0
    assert batch._next_wake() <= 5.0 + UNREACHABLE_SECONDS


def test_the_batch_ends_when_aws_has_been_silent_for_its_deadline_not_a_long_poll_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The loop waits a long poll for its one job's completion; the consumer meets a dead endpoint
    1 s in: the batch ends UNREACHABLE_SECONDS after that, not at the end of the wait it was in."""
    monkeypatch.setattr(launcher.batch.scheduler, "UNREACHABLE_SECONDS", 3.0)
    clock = FakeClock()
    with looping_batch(tmp_path, clock, RUNNING) as batch:
        batch._videos[0].next_check = math.inf  # its status is not due: only the silence ends the wait

        def consumer_fails() -> None:
            clock.now = 1.0
            batch._not_answering(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))

        batch._events = Waits(clock, meanwhile=consumer_fails)
        with pytest.raises(LauncherError, match="AWS has not answered for 3 s") as raised:
            batch._loop(deadline=math.inf)
        assert raised.value.exit_code == ExitCode.AWS_ERROR
        assert clock.now == 4.0, "the batch ended at the deadline"


def test_a_damaged_ledger_is_named_with_what_to_do_and_left_as_it_was(tmp_path):
    """Not 'pick a folder you may write to' for a folder that can be written."""
    (tmp_path / "ledger.sqlite3").write_bytes(b"not a database\n")
    with pytest.raises(BadInput) as refused:
        Ledger(tmp_path)
    assert str(refused.value) == (
        f"the batch's ledger {tmp_path / 'ledger.sqlite3'} cannot be read (file is not a database): move it away "
        "(the same command then re-attaches to the same jobs), or pick another --out-dir"
    )
    assert (tmp_path / "ledger.sqlite3").read_bytes() == b"not a database\n"
