"""The batch form: many videos through one stack, never more than ``max_jobs`` of its jobs open, one
queue consumer for all of them, and a ledger that lets a stopped batch resume.

One scheduler thread owns the state and the ledger. Helpers around it only report back through one
event queue: preparation workers check and upload (or pin) the next videos ahead of time, so that a
freed slot is filled at once; fetch workers page each finished job's results into its file; the
queue consumer receives completions for every job of the batch, dispatches them by JobId, deletes
them (so none reaches the dead-letter queue, even a duplicate), and gives any other job's message
back at once to its owner.

Starts are one call each, without botocore's own retries: LimitExceeded (other jobs hold the
account's quota) and throttling only put the video back in line, and the scheduler tries again
after a wait that doubles from ``retry_wait`` up to a minute, or as soon as one of its jobs ends.
A dropped connection is tried again at once as botocore's standard mode does (``retry_transient``):
the start is idempotent by its token.

A batch always ends: whatever a worker meets (a bug included) ends that video in ERROR with the
message, and the batch goes on; a watchdog ends in ERROR the videos nothing can move any more.
One batch at a time writes into an --out-dir: ``OutDirLock`` (``flock``, released by the kernel
even after ``kill -9``) refuses a second one.
Status polling is the fallback for a completion that does not come (a reused token publishes none;
another launcher may hold the message): each job's status is read at once, after ``grace`` seconds
without its completion, then with backoff, and every ``SHARED_STATUS_SECONDS`` once the queue is seen
to be shared; the batch as a whole reads at most ``STATUS_CALLS_PER_SECOND`` statuses a second.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import math
import queue
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError
from tqdm import tqdm

from ..aws import Clients, retry_transient
from ..jobs.detection import MAX_RETRY_WAIT_SECONDS, RETRY_LATER, FaceDetection, StartRequest
from ..jobs.errors import BadInput, ExitCode, LauncherError
from ..jobs.formats import PERSONS_FILE, Summary
from ..jobs.notifications import (
    CLEANUP_SECONDS,
    FINAL_STATUSES,
    LOOK_SECONDS,
    SEARCH_WAIT_SECONDS,
    SHARED_STATUS_SECONDS,
    SQS_MAX_WAIT_SECONDS,
    YIELD_SECONDS,
    Completion,
    receive_completions,
    status_check_times,
)
from ..jobs.s3video import S3Video, is_s3_uri
from ..options import BatchOptions, check_batch_options, check_name
from ..upload import check_local_video, pinned_video
from .discovery import discover, left_out_line, result_names
from .ledger import ERROR, FAILED, SKIPPED, SUCCEEDED, Entry, Ledger
from .log import BATCH_LOG

log = logging.getLogger(__name__)

STATUS_CALLS_PER_SECOND = 2.0  # the bound on the fallback's GetFaceDetection calls
PREPARE_WORKERS = 2  # hashing and uploading run ahead of the starts
FETCH_WORKERS = 2
START_WORKERS = 4  # starts in flight at once: a freed slot does not wait for another start's reply
CONSUMER_ERROR_PAUSE_SECONDS = 5.0
UNREACHABLE_SECONDS = 300.0  # AWS (or the endpoint) silent this long, even after retries: the batch ends
SETTLE_SECONDS = 10.0  # at the end, the longest wait for the consumer to delete the last completions
# total_max_attempts, not max_attempts: botocore reads the latter as the number of retries.
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


LOCK_NAME = ".batch.lock"


def _refuse_out_dir(folder: Path, why: object) -> BadInput:
    return BadInput(f"cannot use --out-dir {folder}: {why}; pick a folder you may write to")


def make_out_dir(folder: Path) -> None:
    """Create it if need be, and make sure a file can be written in it (by writing one: root passes
    every permission check, not a read-only mount's or a virtual file system's)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", suffix=".partial"):
            pass
    except OSError as error:
        raise _refuse_out_dir(folder, error.strerror or error) from None


if TYPE_CHECKING:  # PyAV, NumPy and dlib: imported when results are written
    from ..people.embedding import FaceEmbedder
    from ..people.pipeline import VideoPeople


def prepare_out_dir(folder: Path) -> None:
    """``make_out_dir``, then remove the temporary files of results a stopped run was writing (only
    under the folder's lock: another batch's are not stale)."""
    make_out_dir(folder)
    for partial in folder.glob(".*.partial"):
        partial.unlink(missing_ok=True)


class OutDirLock:
    """One batch at a time in an --out-dir: an exclusive ``flock`` on ``DIR/.batch.lock``, held while
    the batch runs. The kernel drops it when the process ends, however it ends (``kill -9`` too): it
    cannot be left stuck, and the file is left in place (removing it would race with a newcomer)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._file: IO[bytes] | None = None

    def __enter__(self) -> OutDirLock:
        make_out_dir(self.folder)
        try:
            self._file = (self.folder / LOCK_NAME).open("ab")
        except OSError as error:
            raise _refuse_out_dir(self.folder, error.strerror or error) from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            raise LauncherError(
                f"another batch is writing into {self.folder} (it holds {self.folder / LOCK_NAME}): wait for it "
                "to end, or pick another --out-dir",
                ExitCode.BAD_INPUT,
            ) from None
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((SUCCEEDED, SKIPPED, FAILED, ERROR), 0))
    faces: int = 0
    left_out: list[str] = field(default_factory=list)  # subfolders that could not be listed (--recursive)

    @property
    def ok(self) -> bool:
        """No video failed and no folder was left out: a batch that lost videos does not end 0."""
        return self.counts[FAILED] == self.counts[ERROR] == 0 and not self.left_out

    def describe(self, out_dir: Path) -> str:
        total = sum(self.counts.values())
        counts = ", ".join(f"{count} {status.lower()}" for status, count in self.counts.items())
        left_out = f"; {len(self.left_out)} folder(s) left out (cannot be read)" if self.left_out else ""
        return (
            f"{total} video(s): {counts}{left_out}; {self.faces} face(s); results in {out_dir}/ (each video in "
            f"{BATCH_LOG})"
        )


# A video's phases, in order.
WAITING, PREPARING, READY, STARTING, RUNNING, FETCHING, DONE = (
    "waiting",
    "preparing",
    "ready",
    "starting",
    "running",
    "fetching",
    "done",
)
NOT_STARTED = (WAITING, PREPARING, READY, STARTING)


@dataclass(eq=False)
class Video:
    entry: Entry
    phase: str = WAITING
    status_checks: Iterator[float] | None = None
    next_check: float = math.inf


class Workers:
    """A few daemon threads running submitted calls: they never hold the process at Ctrl-C (a result
    being written is a temporary file, removed at the next run). A call that raises does not end its
    thread; ``pending`` counts the calls submitted and not yet returned (for the watchdog), and
    ``on_idle`` is called when it falls to 0, so that the watchdog looks at once, not at the loop's
    next wake (up to a long poll later)."""

    def __init__(self, count: int, name: str, on_idle: Callable[[], None] = lambda: None) -> None:
        self._tasks: queue.Queue[Callable[[], None]] = queue.Queue()
        self._pending = 0
        self._on_idle = on_idle
        self._count_lock = threading.Lock()
        for index in range(count):
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True).start()

    @property
    def pending(self) -> int:
        with self._count_lock:
            return self._pending

    def submit(self, task: Callable[[], None]) -> None:
        with self._count_lock:
            self._pending += 1
        self._tasks.put(task)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                task()
            except BaseException:  # a bug in a task: logged; the watchdog ends the video it was on
                log.exception("a batch worker's task failed")
            finally:
                with self._count_lock:
                    self._pending -= 1
                    idle = self._pending == 0
                if idle:
                    self._on_idle()


def _message(error: BaseException) -> str:
    """What a video's ERROR says: the launcher's own line, else the exception's type and text."""
    if isinstance(error, LauncherError):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _warn_about(video: str, line: str) -> None:
    log.warning("%s: %s", video, line)


class Batch:
    """Runs one batch; ``open_jobs`` says, after Ctrl-C, how many of its jobs keep running."""

    def __init__(
        self,
        options: BatchOptions,
        clock: Callable[[], float] = time.monotonic,
        on_end: Callable[[dict[str, Any]], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self._clock = clock
        self._on_end = on_end  # each batch.jsonl line, as its video ends
        self._on_warning = on_warning  # each subfolder left out, as it is found
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._lock = threading.Lock()  # guards what the consumer reads: _job_ids, _open, _unstarted
        self._job_ids: dict[str, list[Video]] = {}  # videos with the same bytes share a job
        self._open: set[str] = set()
        # Jobs whose end came from the status: until when the consumer looks for their message, to
        # delete it rather than leave it to go round other consumers into the dead-letter queue.
        self._unclaimed: dict[str, float] = {}
        self._unstarted = 0
        self._stop = threading.Event()
        self._settled = threading.Event()  # cleared while completions handed over wait for their delete
        self._settled.set()
        self._videos: list[Video] = []
        # Each phase's count and the videos the scheduler looks at, kept as videos move: no event
        # makes it look at every video of the batch.
        self._phases: Counter[str] = Counter()
        self._waiting: deque[Video] = deque()
        self._ready: deque[Video] = deque()
        self._attached: set[Video] = set()  # in phase RUNNING
        self._shared = False
        self._busy_until = 0.0
        self._busy_wait = options.retry_wait
        self._next_status_call = 0.0
        self._unreachable: tuple[float, str] | None = None  # since when AWS has not answered, and the last error
        self._embedder: FaceEmbedder | None = None
        self._people: dict[str, tuple[str, VideoPeople]] = {}  # --people: video -> (results, people), memory only
        self.tally = Tally()

    @property
    def open_jobs(self) -> int:
        with self._lock:
            return len(self._open)

    # -- set-up ------------------------------------------------------------------------------------

    def run(self) -> Tally:
        options = self.options
        check_batch_options(options)
        if options.people:
            from ..people.launch import load_model

            self._embedder = load_model(print)
        clients = Clients(options.outputs.region, options.aws)
        clients.check_region(options.outputs.region)
        self._s3, self._sqs = clients("s3"), clients("sqs")
        sources = discover(options.videos, options.recursive, self._s3, self._left_out)
        with OutDirLock(options.out_dir):
            prepare_out_dir(options.out_dir)
            (options.out_dir / PERSONS_FILE).unlink(missing_ok=True)  # a run with --people writes it anew
            return self._run(clients, sources)

    def _left_out(self, folder: str, error: OSError) -> None:
        """A subfolder --recursive cannot list: named now, counted, and the batch does not end 0."""
        self.tally.left_out.append(folder)
        if self._on_warning is not None:
            self._on_warning(left_out_line(folder, error))
        else:
            log.warning("%s", left_out_line(folder, error))  # on one line: the CLI's OneLineFormatter

    def _run(self, clients: Clients, sources: list[str]) -> Tally:
        options = self.options
        deadline = self._clock() + options.timeout
        self._jobs = FaceDetection(clients("rekognition"))
        # Starts without botocore's retries: the scheduler waits itself, without blocking the batch.
        self._starts = FaceDetection(clients.client("rekognition", ONE_ATTEMPT))
        wake = functools.partial(self._events.put, ("idle",))  # no-op event: the loop wakes, the watchdog looks
        self._preparers = Workers(PREPARE_WORKERS, "prepare", wake)
        self._fetchers = Workers(FETCH_WORKERS, "fetch", wake)
        self._starters = Workers(START_WORKERS, "start", wake)
        self._ledger = Ledger(options.out_dir)
        try:
            with (
                (options.out_dir / BATCH_LOG).open("w") as self._log,
                tqdm(
                    total=len(sources), unit=" videos", desc="faces", disable=True if options.quiet else None
                ) as self._progress,
            ):
                self._load(sources)
                self._loop(deadline)
                self._wait_for_unclaimed()
                self._settled.wait(SETTLE_SECONDS)  # the last completions deleted, not left for the DLQ
        finally:
            self._stop.set()
            self._ledger.close()
        if self._embedder is not None:
            self._people_of_skipped()
            self._write_persons()
        return self.tally

    def _people_of_skipped(self) -> None:
        """--people for the videos skipped as already written: their files are grouped again (and
        rewritten with their people), so that the batch's people cover every video."""
        from ..people.launch import regroup_written

        assert self._embedder is not None
        for video in self._videos:
            entry = video.entry
            if video.entry.video in self._people or entry.status != SUCCEEDED or not entry.results:
                continue
            results = Path(entry.results)
            if not results.is_file():
                continue
            s3_object = {"Bucket": entry.bucket, "Name": entry.key} if entry.bucket and entry.key else None
            if s3_object and entry.version:
                s3_object["Version"] = entry.version
            try:
                people = regroup_written(
                    results,
                    self.options.fmt,
                    entry.video,
                    s3_object,
                    lambda: self._s3,
                    self._embedder,
                    functools.partial(_warn_about, entry.video),
                )
            except (LauncherError, BotoCoreError, OSError, ValueError) as error:
                log.warning("%s: --people: %s", entry.video, error)
                continue
            if people is not None:
                self._people[entry.video] = (str(results), people)

    def _write_persons(self) -> None:
        """``DIR/persons.json``: the people across the videos whose results this run wrote."""
        from ..people.launch import write_batch_persons

        with self._lock:
            done = [
                (v.entry.video, *self._people[v.entry.video]) for v in self._videos if v.entry.video in self._people
            ]
        write_batch_persons(self.options.out_dir, done)

    def _params(self) -> str:
        outputs = self.options.outputs
        return json.dumps([self.options.attributes, self.options.job_tag, outputs.topic_arn, outputs.role_arn])

    def _load(self, sources: list[str]) -> None:
        """Each video's state from the ledger: written → SKIPPED; started → re-attached; the rest waits."""
        params = self._params()
        for source, name in result_names(sources, self._ledger.names(sources)):
            entry = self._ledger.get(source) or Entry(source, name, params)
            if entry.params != params:
                entry = Entry(source, name, params)
            video = Video(entry)
            self._videos.append(video)
            self._phases[WAITING] += 1
            out = self._out(video)
            if entry.status == SUCCEEDED and entry.results == str(out) and out.is_file():
                self._end(video, SKIPPED, faces=entry.faces, results=str(out), save=False)
            elif entry.job_id and entry.status in (None, SUCCEEDED):
                self._attach(video)
            else:
                if entry.status is not None:  # it failed: start afresh (a video fixed since gets a new job)
                    entry = video.entry = entry.restarted()
                self._ledger.save(entry)
                with self._lock:
                    self._unstarted += 1
                if entry.token and entry.bucket and entry.key:  # pinned, maybe started: the same token
                    self._move(video, READY)
                    self._ready.append(video)
                else:
                    self._waiting.append(video)
        threading.Thread(target=self._consume, name="queue-consumer", daemon=True).start()

    def _out(self, video: Video) -> Path:
        return self.options.out_dir.absolute() / f"{video.entry.name}.faces.{self.options.fmt}"

    # -- the scheduler -----------------------------------------------------------------------------

    def _loop(self, deadline: float) -> None:
        while self._phases[DONE] < len(self._videos):
            now = self._clock()
            unreachable = self._unreachable  # one read: the consumer thread may reset it meanwhile
            if unreachable is not None and now - unreachable[0] >= UNREACHABLE_SECONDS:
                raise LauncherError(
                    f"AWS has not answered for {UNREACHABLE_SECONDS:g} s ({unreachable[1]}): {self.open_jobs} "
                    f"job(s) keep running and {self._unstarted} video(s) are not started; check AWS_ENDPOINT_URL and "
                    "the network, then run the same command again to resume",
                    ExitCode.AWS_ERROR,
                )
            if now >= deadline:
                raise LauncherError(
                    f"--timeout passed with {self.open_jobs} job(s) still running (they keep running) and "
                    f"{self._unstarted} video(s) not started: run the same command again to resume",
                    ExitCode.TIMEOUT,
                )
            self._prepare_ahead()
            self._start_ready(now)
            self._check_statuses(now)
            self._show()
            self._watchdog()
            if self._phases[DONE] == len(self._videos):  # the watchdog ended the last ones: no wait
                break
            try:
                event = self._events.get(timeout=max(0.0, min(self._next_wake(), deadline) - self._clock()))
            except queue.Empty:
                continue
            while True:
                self._handle_safely(event)
                try:
                    event = self._events.get_nowait()
                except queue.Empty:
                    break

    def _watchdog(self) -> None:
        """End in ERROR the videos nothing can move any more: none waits to be prepared or started,
        no job is open, no worker has a call in flight and no event is coming. (Each worker ends its
        video itself whatever it meets: this is the net under a bug.)"""
        if self._phases[DONE] == len(self._videos) or self._waiting or self._ready or self._attached:
            return
        # The workers first: a call puts its event before it stops counting as pending.
        if self._preparers.pending or self._starters.pending or self._fetchers.pending:
            return
        if not self._events.empty():
            return
        for video in self._videos:
            if video.phase != DONE:
                log.error("video %s is %s and nothing can move it: it ends in ERROR", video.entry.video, video.phase)
                self._end(
                    video,
                    ERROR,
                    error=f"the batch could not go on with this video (it was {video.phase}, and nothing could "
                    "move it: a bug): run the same command again to resume it",
                )

    def _handle_safely(self, event: tuple[Any, ...]) -> None:
        """An event's handling; if it fails, its video ends in ERROR and the batch goes on."""
        try:
            self._handle(*event)
        except Exception as error:
            video = next((arg for arg in event[1:] if isinstance(arg, Video)), None)
            if video is None or video.phase == DONE:
                raise
            log.debug("handling %s failed", event[0], exc_info=True)
            self._end(video, ERROR, error=_message(error))

    def _next_wake(self) -> float:
        wake = self._clock() + SQS_MAX_WAIT_SECONDS
        if self._ready and self._running() < self.options.max_jobs:
            wake = min(wake, self._busy_until)
        if self._attached:
            wake = min(wake, max(min(video.next_check for video in self._attached), self._next_status_call))
        unreachable = self._unreachable  # one read: the consumer thread may reset it meanwhile
        if unreachable is not None:  # the batch ends then, if AWS still has not answered
            wake = min(wake, unreachable[0] + UNREACHABLE_SECONDS)
        return wake

    def _running(self) -> int:
        """The batch's open jobs, and the starts in flight."""
        return len({video.entry.job_id for video in self._attached}) + self._phases[STARTING]

    def _move(self, video: Video, phase: str) -> None:
        self._phases[video.phase] -= 1
        self._phases[phase] += 1
        if phase == RUNNING:
            self._attached.add(video)
        else:
            self._attached.discard(video)
        video.phase = phase

    def _show(self) -> None:
        self._progress.set_postfix_str(
            f"done {self.tally.counts[SUCCEEDED] + self.tally.counts[SKIPPED]}, running {self._phases[RUNNING]}, "
            f"waiting {sum(self._phases[phase] for phase in NOT_STARTED)}, "
            f"failed {self.tally.counts[FAILED] + self.tally.counts[ERROR]}",
            refresh=False,
        )

    def _handle(self, kind: str, *args: Any) -> None:
        if kind == "prepared":
            self._prepared(*args)
        elif kind == "started":
            self._started(*args)
        elif kind == "refused":
            self._refused(*args)
        elif kind == "completed":
            self._completed(*args)
        elif kind == "written":
            video, summary = args
            self._end(
                video,
                SUCCEEDED,
                faces=summary.faces,
                results=str(self._out(video)),
                metadata=summary.header.get("VideoMetadata"),
            )
        elif kind == "ended":
            self._end(*args)
        elif kind == "shared" and not self._shared:
            self._shared = True
            log.info("the queue is shared: reading each job's status every %g s too", SHARED_STATUS_SECONDS)
            for video in self._attached:
                video.next_check = min(video.next_check, self._clock() + SHARED_STATUS_SECONDS)

    # -- preparing: check, upload or pin, token ------------------------------------------------------

    def _prepare_ahead(self) -> None:
        """Keep enough videos prepared (or being prepared) to fill every slot the moment it frees."""
        while self._waiting and len(self._ready) + self._phases[PREPARING] < self.options.max_jobs:
            video = self._waiting.popleft()
            self._move(video, PREPARING)
            self._preparers.submit(functools.partial(self._prepare, video))

    def _prepare(self, video: Video) -> None:
        """In a worker: the pinned object version, or the reason the video is refused."""
        source = video.entry.video
        try:
            check_name(video.entry.name)
            if not is_s3_uri(source):
                check_local_video(Path(source))
            pinned, _ = pinned_video(self._s3, source, self.options.outputs.bucket_name, progress_bars=False)
            self._events.put(("prepared", video, pinned))
        except Exception as error:  # whatever it is, this video ends and the batch goes on
            self._events.put(("ended", video, ERROR, None, None, _message(error)))

    def _prepared(self, video: Video, pinned: S3Video) -> None:
        entry = video.entry
        entry.bucket, entry.key, entry.version = pinned.bucket, pinned.key, pinned.version
        entry.token = self._request(entry).derived_token()
        self._ledger.save(entry)  # before the start: a resumed batch starts with the same token
        self._move(video, READY)
        self._ready.append(video)

    def _request(self, entry: Entry) -> StartRequest:
        assert entry.bucket and entry.key
        outputs = self.options.outputs
        video = S3Video(entry.bucket, entry.key, entry.version)
        return StartRequest(
            video, outputs.topic_arn, outputs.role_arn, self.options.attributes, self.options.job_tag, entry.token
        )

    # -- starting ----------------------------------------------------------------------------------

    def _start_ready(self, now: float) -> None:
        """Hand ready videos to the start workers while the batch has free slots."""
        while self._ready and now >= self._busy_until and self._running() < self.options.max_jobs:
            video = self._ready.popleft()
            self._move(video, STARTING)
            self._starters.submit(functools.partial(self._start, video))

    def _start(self, video: Video) -> None:
        """In a worker: one StartFaceDetection call. The job is the batch's before the scheduler hears
        of it, so that the consumer takes its completion even if it comes first."""
        try:
            request = self._request(video.entry)
            job_id = retry_transient(lambda: self._starts.start_once(request))
        except LauncherError as error:
            self._events.put(("refused", video, error))
            return
        except Exception as error:  # the connection still dropped after every attempt, or a bug
            self._events.put(("ended", video, ERROR, None, None, _message(error)))
            return
        with self._lock:  # one step for the consumer: open, no longer unstarted, and "started" queued
            self._job_ids.setdefault(job_id, []).append(video)
            self._open.add(job_id)
            self._unstarted -= 1
            self._events.put(("started", video, job_id))

    def _started(self, video: Video, job_id: str) -> None:
        self._busy_wait = self.options.retry_wait
        video.entry.job_id = job_id
        self._ledger.save(video.entry)  # before anything else happens to the job
        self._attach(video)

    def _refused(self, video: Video, error: LauncherError) -> None:
        if error.exit_code not in RETRY_LATER:
            self._end(video, ERROR, error=str(error))
            return
        self._move(video, READY)
        self._ready.appendleft(video)
        if self._clock() >= self._busy_until:  # the first refusal of several starts in flight
            log.warning(
                "Rekognition is busy (%s); %d video(s) wait, trying again in %.1f s or when a job ends",
                error.exit_code.name,
                len(self._ready),
                self._busy_wait,
            )
            self._busy_until = self._clock() + self._busy_wait
            self._busy_wait = min(self._busy_wait * 2, MAX_RETRY_WAIT_SECONDS)

    def _attach(self, video: Video) -> None:
        """Wait for the job's completion; its status is read at once, since a reused token publishes none."""
        job_id = video.entry.job_id
        assert job_id is not None
        self._move(video, RUNNING)
        video.status_checks = status_check_times(self._clock(), self.options.grace)
        video.next_check = next(video.status_checks)
        with self._lock:
            if video not in self._job_ids.setdefault(job_id, []):
                self._job_ids[job_id].append(video)
            self._open.add(job_id)

    # -- waiting -----------------------------------------------------------------------------------

    def _wait_for_unclaimed(self) -> None:
        """After the last video: give the consumer the time left to delete the messages of jobs whose
        end came from the status (nothing to wait for if there are none)."""
        while not self._stop.is_set():
            with self._lock:
                until = max(self._unclaimed.values(), default=0.0)
            if self._clock() >= until:
                return
            self._stop.wait(0.1)

    def _consume(self) -> None:
        """The batch's one queue consumer, in its own thread, until no job of the batch can end and no
        message of a job that ended through its status is still looked for."""
        while not self._stop.is_set() and self._consumer_needed():
            with self._lock:
                waiting = bool(self._open) or self._unstarted > 0
            try:
                received = receive_completions(
                    self._sqs,
                    self.options.outputs.queue_url,
                    SQS_MAX_WAIT_SECONDS if waiting else SEARCH_WAIT_SECONDS,
                    self._owns,
                    self._dispatch,
                )
            except Exception as error:  # the queue unreachable (or a bug): polling covers
                if isinstance(error, BotoCoreError):
                    self._not_answering(error)
                log.warning("%s; the jobs' status is polled meanwhile", _message(error))
                self._stop.wait(CONSUMER_ERROR_PAUSE_SECONDS)
                continue
            finally:
                self._settled.set()
            self._unreachable = None
            if received.others:
                self._events.put(("shared",))
            if received.gave_back:
                self._stop.wait(YIELD_SECONDS)  # so that their owners, not this batch, receive them next

    def _not_answering(self, error: BaseException) -> None:
        """Remember since when AWS has not answered (the scheduler ends the batch after UNREACHABLE_SECONDS)."""
        unreachable = self._unreachable  # one read: the other thread may reset it meanwhile
        since = unreachable[0] if unreachable is not None else self._clock()
        self._unreachable = (since, _message(error))
        if unreachable is None:  # the loop wakes to take the deadline into its next wait (no-op event)
            self._events.put(("idle",))

    def _dispatch(self, completion: Completion) -> None:
        """To the scheduler, before the message is deleted: a freed slot is filled a round trip sooner."""
        self._settled.clear()
        with self._lock:
            self._open.discard(completion.job_id)
            self._unclaimed.pop(completion.job_id, None)
        self._events.put(("completed", completion.job_id, completion.status))

    def _owns(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._job_ids

    def _ended_by_status(self, job_id: str) -> None:
        """The job ended and its completion has not been seen: the consumer looks for it as long as a
        single launcher would (``CLEANUP_SECONDS`` on a queue seen to be shared, else one short look)."""
        look = CLEANUP_SECONDS if self._shared else LOOK_SECONDS
        with self._lock:
            if job_id in self._open:
                self._unclaimed[job_id] = self._clock() + look
            self._open.discard(job_id)

    def _consumer_needed(self) -> bool:
        now = self._clock()
        with self._lock:
            for job_id in [job_id for job_id, until in self._unclaimed.items() if until <= now]:
                del self._unclaimed[job_id]
            return bool(self._open) or self._unstarted > 0 or bool(self._unclaimed)

    def _check_statuses(self, now: float) -> None:
        """The fallback, at most STATUS_CALLS_PER_SECOND calls a second, the most overdue first."""
        due = sorted((video for video in self._attached if video.next_check <= now), key=lambda video: video.next_check)
        for video in due:
            if self._clock() < self._next_status_call:
                return
            self._next_status_call = self._clock() + 1 / STATUS_CALLS_PER_SECOND
            job_id = video.entry.job_id
            assert job_id is not None and video.status_checks is not None
            try:
                status = self._jobs.status(job_id)["JobStatus"]
            except LauncherError as error:
                with self._lock:
                    self._open.discard(job_id)
                self._end(video, ERROR, error=str(error))
                continue
            except BotoCoreError as error:  # the endpoint unreachable even after botocore's retries
                self._not_answering(error)
                log.warning("reading job %s's status: %s; trying again later", job_id, error)
                video.next_check = next(video.status_checks)
                continue
            self._unreachable = None
            if status in FINAL_STATUSES:
                self._ended_by_status(job_id)
                self._completed(job_id, status)
                continue
            while video.next_check <= now:
                video.next_check = next(video.status_checks)
            if self._shared:
                video.next_check = min(video.next_check, now + SHARED_STATUS_SECONDS)

    def _completed(self, job_id: str, status: str) -> None:
        with self._lock:
            videos = list(self._job_ids.get(job_id, []))
        for video in videos:
            if video.phase == RUNNING:  # not a duplicate delivery, and the fallback was not first
                self._move(video, FETCHING)
                self._busy_until = 0.0  # a slot of the account's quota is free: try again at once
                self._fetchers.submit(functools.partial(self._fetch, video, job_id, status))

    def _fetch(self, video: Video, job_id: str, status: str) -> None:
        """In a worker: the results into their file, or why there are none."""
        try:
            if status == SUCCEEDED:
                from ..people.launch import write_with_people  # cuts: PyAV, NumPy

                out = self._out(video)
                summary: Summary
                summary, people = write_with_people(
                    self._jobs.pages(job_id),
                    out,
                    self.options.fmt,
                    video.entry.video,
                    lambda: self._s3,
                    self._embedder,
                    lambda line: log.warning("%s: %s", video.entry.video, line),
                )
                if people is not None:
                    with self._lock:
                        self._people[video.entry.video] = (str(out), people)
                self._events.put(("written", video, summary))
            else:
                message = self._jobs.status(job_id).get("StatusMessage") or "no StatusMessage"
                self._events.put(("ended", video, FAILED, None, None, f"job {job_id} ended {status}: {message}"))
        except Exception as error:  # whatever it is, this video ends and the batch goes on
            self._events.put(("ended", video, ERROR, None, None, _message(error)))

    # -- the end of a video --------------------------------------------------------------------------

    def _end(
        self,
        video: Video,
        status: str,
        faces: int | None = None,
        results: str | None = None,
        error: str | None = None,
        save: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        entry = video.entry
        if video.phase in NOT_STARTED and status != SKIPPED:
            with self._lock:
                self._unstarted -= 1
        self._move(video, DONE)
        if save:
            entry.status, entry.faces, entry.results, entry.error = status, faces, results, error
            self._ledger.save(entry)
        line: dict[str, Any] = {
            "video": entry.video,
            "name": entry.name,
            "jobId": entry.job_id,
            "status": status,
            "faces": faces,
            "results": results,
            "error": error,
        }
        if metadata:  # the results' VideoMetadata: a csv or jsonl file holds the faces only
            line["videoMetadata"] = metadata
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()
        self.tally.counts[status] += 1
        self.tally.faces += faces or 0
        self._show()  # the counts first: the bar's last refresh shows them whole
        self._progress.update()
        if self._on_end is not None:
            self._on_end(line)
        elif status in (FAILED, ERROR):
            log.warning("%s: %s", entry.name, error)
