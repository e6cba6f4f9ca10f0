"""One launch, from a video to its results file: check, upload (or pin), start, wait, write."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from .autoprocess_wait import ResultWaiter
from .aws import Clients
from .jobs.detection import FaceDetection, StartRequest
from .jobs.errors import ExitCode, LauncherError
from .jobs.formats import Summary
from .jobs.notifications import CompletionWaiter
from .jobs.s3video import S3Video
from .options import STDOUT, LaunchOptions, check_launch_options
from .upload import UPLOAD_PREFIX, pinned_video

if TYPE_CHECKING:  # PyAV, NumPy and dlib are imported when a launch writes its results
    from .people.embedding import FaceEmbedder
    from .people.launch import CutsInBackground
    from .people.pipeline import VideoPeople
    from .redact.redaction import Redaction


@dataclass(frozen=True)
class LaunchResult:
    job_id: str
    out: Path
    summary: Summary
    report: Path | None = None
    people: VideoPeople | None = None  # memory only: the grouping went into the results
    redaction: Redaction | None = None

    @property
    def exit_code(self) -> ExitCode:
        """OK, or REDACTION_LEAKS when the redacted copy was written but its audit found faces."""
        return self.redaction.exit_code if self.redaction is not None else ExitCode.OK


class Launch:
    """Runs one launch; ``job_id`` is known as soon as the job is started (for Ctrl-C)."""

    def __init__(self, options: LaunchOptions, report: Callable[[str], None] = print) -> None:
        self.options = options
        self.job_id: str | None = options.attach
        self.finished = False  # the job ended and its results are written (or it failed)
        self._report = report
        self._audit_detector: Any = None
        self._bars = None if not options.quiet else True  # tqdm's disable: None shows them on a terminal
        self._embedder: FaceEmbedder | None = None
        self._cuts: CutsInBackground | None = None

    def run(self) -> LaunchResult:
        options = self.options
        check_launch_options(options)
        if options.redact is not None and options.redact.audit_every != 0:
            from .redact.audit import load_detector  # PyAV and a detector: only for --redact

            self._audit_detector = load_detector(options.redact.detector)  # refused now, not after the job
        deadline = time.monotonic() + options.timeout
        if options.people:
            from .people.launch import load_model

            self._embedder = load_model(self._report)
        clients = Clients(options.outputs.region, options.aws)
        clients.check_region(options.outputs.region)
        jobs = FaceDetection(clients("rekognition"))
        pinned: S3Video | None = None
        if options.attach is None:
            video = pinned = self._video(clients)
            request = StartRequest(
                video,
                options.outputs.topic_arn,
                options.outputs.role_arn,
                options.attributes,
                options.job_tag,
                options.token,
            )
            self.job_id = jobs.start(request, deadline, first_wait=options.retry_wait)
            self._report(f"job {self.job_id} on {video.uri}")
        job_id = self.job_id
        assert job_id is not None
        if pinned is not None or Path(options.video).is_file():  # the cuts, found while the job runs
            from .people.launch import CutsInBackground

            s3_object = pinned.as_s3_object() if pinned is not None else None
            s3 = clients("s3")  # made here: a boto3 session is not for making clients on two threads at once
            self._cuts = CutsInBackground(options.video, s3_object, lambda: s3, self._report)
        if options.outputs.auto_process:
            return self._collected(clients, jobs, job_id, deadline)
        # The waiter may go on searching for the job's own message while the results are written.
        with CompletionWaiter(
            clients("sqs"), options.outputs.queue_url, lambda job: jobs.status(job)["JobStatus"], options.grace
        ) as waiter:
            bar = f"waiting for job {job_id[:12]}…"
            with tqdm(desc=bar, unit=" polls", leave=False, disable=self._bars) as progress:
                status = waiter.wait(job_id, deadline, on_tick=progress.update)
            if status != "SUCCEEDED":
                self.finished = True
                message = jobs.status(job_id).get("StatusMessage") or "no StatusMessage"
                raise LauncherError(f"job {job_id} ended {status}: {message}", ExitCode.JOB_FAILED)
            out = options.out_path()
            with tqdm(desc="writing results", unit=" faces", leave=False, disable=self._bars) as progress:
                summary, people = self._write(clients, jobs.pages(job_id), out, progress.update)
            return self._finish(clients, job_id, out, summary, people)

    def _write(
        self, clients: Clients, pages: Iterator[dict[str, Any]], out: Path, on_face: Callable[[], object]
    ) -> tuple[Summary, VideoPeople | None]:
        """The results file: cuts found from the video, and people with --people."""
        from .people.launch import write_with_people

        options = self.options
        return write_with_people(
            pages,
            out,
            options.fmt,
            options.video,
            lambda: clients("s3"),
            self._embedder,
            self._report,
            on_face,
            cuts=self._cuts.result() if self._cuts else None,
        )

    def _finish(
        self, clients: Clients, job_id: str, out: Path, summary: Summary, people: VideoPeople | None
    ) -> LaunchResult:
        """After the results: the redacted copy (and its audit) if asked for, then the report."""
        self.finished = True  # the job ended and its results are written: nothing keeps running if what follows fails
        persons = people.assignment.person_of_appearance if people is not None else None
        redaction = self._redact(clients, out, summary, persons) if self.options.redact is not None else None
        report = self._write_report(clients, out, summary, redaction) if self.options.report else None
        return LaunchResult(job_id, out, summary, report, people, redaction)

    def _redact(
        self, clients: Clients, results: Path, summary: Summary, persons: Sequence[int] | None = None
    ) -> Redaction:
        from .redact.redaction import add_to_results, redact, video_source  # PyAV: only for --redact

        options = self.options
        assert options.redact is not None
        out = options.redact_path()
        assert out is not None
        frames = summary.header.get("VideoMetadata", {})
        total = round(frames.get("DurationMillis", 0) / 1000 * frames.get("FrameRate", 0)) or None
        with (
            video_source(options.video, summary.header, lambda: clients("s3")) as source,
            tqdm(desc="redacting", total=total, unit=" frames", leave=False, disable=self._bars) as writing,
            tqdm(
                desc="checking the copy for faces", total=total, unit=" frames", leave=False, disable=self._bars
            ) as auditing,
        ):
            redaction = redact(
                source,
                summary.appearances,
                out,
                options.redact,
                on_frame=writing.update,
                detector=self._audit_detector,
                on_audited=auditing.update,
                person_of_appearance=persons,
            )
        if results != STDOUT:  # results on standard output are gone: the summary says it instead
            add_to_results(results, options.fmt, redaction.to_api())
        return redaction

    def _write_report(
        self, clients: Clients, results: Path, summary: Summary, redaction: Redaction | None = None
    ) -> Path:
        from .report.html import video_report, write_report  # Pillow and the frame grabbing: only for --report

        options = self.options
        linked = None if results == STDOUT else results
        video = video_report(options.video_name(), options.video, summary, linked, lambda: clients("s3"))
        if redaction is not None:
            video = redaction.in_report(video)
        if video.note:
            self._report(video.note)
        return write_report([video], options.report_path())

    def _collected(self, clients: Clients, jobs: FaceDetection, job_id: str, deadline: float) -> LaunchResult:
        """autoProcess: the collector writes the result object; wait for it, then write the local file
        from it (the completion queue is the collector's, not ours)."""
        options, outputs = self.options, self.options.outputs
        assert outputs.results_prefix is not None
        video_key = jobs.status(job_id)["Video"]["S3Object"]["Name"]
        waiter = ResultWaiter(
            clients("s3"),
            outputs.bucket_name,
            outputs.results_prefix,
            lambda job: jobs.status(job)["JobStatus"],
            options.grace,
        )
        with tqdm(
            desc=f"waiting for the result of job {job_id[:12]}…", unit=" polls", leave=False, disable=self._bars
        ) as progress:
            result = waiter.wait(job_id, video_key, deadline, on_tick=progress.update)
        document = waiter.read(result)
        if result.failed:
            self.finished = True
            message = document.get("StatusMessage") or "no StatusMessage"
            raise LauncherError(f"job {job_id} ended {document.get('JobStatus')}: {message}", ExitCode.JOB_FAILED)
        out = options.out_path()
        summary, people = self._write(clients, iter([document]), out, lambda: None)
        return self._finish(clients, job_id, out, summary, people)

    def _video(self, clients: Clients) -> S3Video:
        """The pinned object version to run on: the s3:// URI's, or the local file's upload."""
        options = self.options
        prefix = options.outputs.incoming_prefix if options.outputs.auto_process else None
        video, uploaded = pinned_video(
            clients("s3"),
            options.video,
            options.outputs.bucket_name,
            options.key,
            prefix or UPLOAD_PREFIX,
            progress_bars=not options.quiet,
        )
        if not uploaded and not options.is_s3:
            self._report(f"{options.video} is already in the bucket as {video.uri}: not uploaded again")
        return video
