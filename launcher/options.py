"""The launcher's options and every default in one place, and the checks that refuse bad ones before
a byte is sent. ``JobOptions`` is what a single launch (``LaunchOptions``) and a batch
(``BatchOptions``) share."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from rekognition_limits import MAX_DURATION_MS, MAX_OPEN_JOBS

from .aws import AwsSettings
from .jobs.detection import DEFAULT_RETRY_WAIT_SECONDS, MAX_RETRY_WAIT_SECONDS, check_parameter
from .jobs.errors import BadInput
from .jobs.formats import FORMATS, OutputAdvice, check_name_fits, check_output_file, name_max
from .jobs.notifications import DEFAULT_GRACE_SECONDS
from .jobs.s3video import is_s3_uri, parse_s3_uri
from .redact.options import SIDECAR_SUFFIX, RedactOptions
from .redact.options import SUFFIX as REDACTED_SUFFIX
from .stack import StackOutputs
from .upload import check_local_video

DEFAULT_TIMEOUT_SECONDS = MAX_DURATION_MS / 1000  # as long as Rekognition's longest video
DEFAULT_OUT_DIR = Path("faces-results")
STDOUT = Path("-")  # --out -: the results on standard output
# The longest suffix a file named from a video's results name has: ".faces.jsonl.redaction.json",
# --redact's record beside a jsonl results file. With ".faces.jsonl" alone, a long name's results fit
# but its redacted copy (".redacted.mp4", one byte more) and that record did not: "File name too long"
# after the job, for every long name of a batch with --redact.
LONGEST_SUFFIX = max(
    len(suffix)
    for suffix in (
        *(f".faces.{fmt}" for fmt in ("html", "json", "jsonl", "csv")),
        REDACTED_SUFFIX,
        *(f".faces.{fmt}{SIDECAR_SUFFIX}" for fmt in ("jsonl", "csv")),
    )
)
_DIGEST_LENGTH = 8
# Defaults and limits the CLI shows.
__all__ = ["DEFAULT_GRACE_SECONDS", "DEFAULT_RETRY_WAIT_SECONDS", "MAX_OPEN_JOBS", "MAX_RETRY_WAIT_SECONDS"]


def file_name(video: str) -> str:
    """The video's file name: the last part of its path or of its object key."""
    return (parse_s3_uri(video).key if is_s3_uri(video) else video).rstrip("/").rsplit("/", 1)[-1]


def results_name(name: str, folder: Path = Path(".")) -> str:
    """``name`` as the stem of its results files (``<stem>.faces.<format>``): itself, the bytes the file
    system gave, when that fits the file system's longest name; else its first bytes and a short hash
    of the whole, so that two long names stay apart."""
    raw = os.fsencode(name)
    room = name_max(folder) - LONGEST_SUFFIX
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:_DIGEST_LENGTH]
    return os.fsdecode(raw[: room - _DIGEST_LENGTH - 1]) + "-" + digest


def check_name(name: str, what: str = "video") -> None:
    """A name no file system or service takes: refused, saying why."""
    if "\0" in name:
        raise BadInput(
            f"{what} {name!r} contains a NUL byte, which no file name or S3 key the launcher writes may hold"
        )


@dataclass(frozen=True, kw_only=True)
class JobOptions:
    """What a single launch and a batch share: the stack, what each job asks for, and how long to wait."""

    outputs: StackOutputs
    attributes: str = "DEFAULT"
    job_tag: str | None = None
    fmt: str = "json"
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    grace: float = DEFAULT_GRACE_SECONDS
    retry_wait: float = DEFAULT_RETRY_WAIT_SECONDS
    aws: AwsSettings = field(default_factory=AwsSettings)  # --region, --profile, --endpoint-url
    quiet: bool = False  # no progress bars
    people: bool = False  # group appearances into people by a face embedding (biometric; opt-in)


@dataclass(frozen=True, kw_only=True)
class LaunchOptions(JobOptions):
    """One video: a local file or an S3 object, and where its results go."""

    video: str  # a local path or s3://bucket/key[?versionId=...]
    token: str | None = None
    key: str | None = None
    out: Path | None = None
    attach: str | None = None
    report: bool = False
    overwrite: bool = False  # replace an existing results file or report (and --redact's copy)
    redact: RedactOptions | None = None  # --redact: also write a copy with every face covered

    @property
    def is_s3(self) -> bool:
        return is_s3_uri(self.video)

    def video_name(self) -> str:
        return file_name(self.video)

    @property
    def to_stdout(self) -> bool:
        return self.out == STDOUT

    def out_path(self) -> Path:
        """The results file (``STDOUT`` for standard output)."""
        return self.out or Path(f"{results_name(self.video_name())}.faces.{self.fmt}")

    def report_path(self) -> Path:
        """Beside the results file (in the current folder when they go to standard output)."""
        folder = Path(".") if self.to_stdout else self.out_path().parent
        return folder / f"{results_name(self.video_name(), folder)}.faces.html"

    def redact_path(self) -> Path | None:
        """The redacted copy: --redact's OUT, or <results name>.redacted.mp4 beside the results (the
        video's name, shortened as the results' when too long)."""
        if self.redact is None:
            return None
        folder = self.out_path().parent
        return self.redact.path(results_name(self.video_name(), folder), folder)


@dataclass(frozen=True, kw_only=True)
class BatchOptions(JobOptions):
    """Many videos into one folder, never more than ``max_jobs`` jobs open."""

    videos: list[str]  # files, folders, s3://bucket/key URIs and s3://bucket/prefix/ prefixes
    out_dir: Path = DEFAULT_OUT_DIR
    recursive: bool = False
    max_jobs: int = MAX_OPEN_JOBS  # the service's default quota
    redact: RedactOptions | None = None  # --redact: DIR/<name>.redacted.mp4 for each video that succeeded


def check_job_options(options: JobOptions) -> None:
    """The options a single launch and a batch share, refused before a byte is sent."""
    if options.fmt not in FORMATS:
        raise BadInput(f"--format {options.fmt!r}: choose one of {', '.join(FORMATS)}")
    if options.attributes not in ("DEFAULT", "ALL"):
        raise BadInput(f"--attributes {options.attributes!r}: choose DEFAULT or ALL")
    if options.job_tag is not None:
        check_parameter("StartFaceDetection", "JobTag", options.job_tag, "--job-tag")
    for option, value in (("--timeout", options.timeout), ("--retry-wait", options.retry_wait)):
        if not value > 0:  # also refuses NaN
            raise BadInput(f"{option} must be a positive number of seconds, got {value:g}")
    if not options.retry_wait <= MAX_RETRY_WAIT_SECONDS:  # the doubling's ceiling; inf would reach sleep(inf)
        raise BadInput(f"--retry-wait must be at most {MAX_RETRY_WAIT_SECONDS:g} seconds, got {options.retry_wait:g}")
    if not options.grace >= 0:
        raise BadInput(f"--grace must be zero or more seconds, got {options.grace:g}")


def check_launch_options(options: LaunchOptions) -> None:
    """Everything that can be refused before a byte is sent."""
    check_job_options(options)
    if options.token is not None:
        check_parameter("StartFaceDetection", "ClientRequestToken", options.token, "--token")
    if options.attach is not None:
        check_parameter("GetFaceDetection", "JobId", options.attach, "--attach")
    if options.outputs.auto_process and (options.attributes != "DEFAULT" or options.job_tag or options.token):
        raise BadInput(
            "this stack processes its videos itself (autoProcess), with the default attributes, no job tag and "
            "the derived token: --attributes ALL, --job-tag and --token apply only to stacks without autoProcess"
        )
    if options.key is not None and not options.key.strip("/"):  # '' would be ignored, '/' is no S3 key
        raise BadInput(f"--key {options.key!r} names no object: give a key such as videos/clip.mp4, or leave it out")
    if options.is_s3:
        parse_s3_uri(options.video)
        if options.key:
            raise BadInput("--key names where a local video is uploaded; an s3:// video is not uploaded")
    elif options.attach is None:
        check_name(options.video)
        check_local_video(Path(options.video))
    check_name(options.video_name())
    paths = [] if options.to_stdout else [options.out_path()]
    paths += [options.report_path()] if options.report else []
    for path in paths:
        check_name_fits(path, TOO_LONG)
    check_distinct(options, paths)
    for path in paths:
        check_writable(path, options.overwrite, is_report=options.report and path == paths[-1])
    if options.redact is not None and options.fmt != "json" and not options.to_stdout:
        # --redact's record beside a jsonl or csv results file, written after the job and the copy: a
        # --out that fits but leaves no room for it failed then ("File name too long", naming a
        # temporary file).
        out = options.out_path()
        check_name_fits(out.with_name(out.name + SIDECAR_SUFFIX), TOO_LONG)
    redacted = options.redact_path()
    if options.redact is not None and redacted is not None:
        options.redact.check()
        options.redact.check_path(redacted, options.video, tuple(paths))


def check_distinct(options: LaunchOptions, paths: list[Path]) -> None:
    """Neither the results file nor the report is the video itself, nor are they one file: with
    --overwrite, one would replace the other."""
    source = None if options.is_s3 else Path(options.video)
    for path in paths:
        if source is not None and source.is_file() and path.is_file() and path.samefile(source):
            raise BadInput(f"--out {path}: that is the video itself; give --out another file")
    if len(paths) == 2 and paths[0].resolve() == paths[1].resolve():
        raise BadInput(f"--out {paths[0]}: --report writes its page there; give --out another file")


TOO_LONG = "give a shorter --out"


def check_writable(path: Path, overwrite: bool, is_report: bool = False) -> None:
    """Before a job starts: the results file or report can be written (``check_output_file``), with
    advice that names --out. ``is_report``: the page --report writes beside the results, whose name no
    option gives."""
    if is_report:
        not_a_file = "--report writes its page there: move it away, or give --out a file in another folder"
        elsewhere = "give --out a file in another folder"
    else:
        not_a_file, elsewhere = "give --out - for standard output, or a file name", "--out another file"
    advice = OutputAdvice(
        not_a_file, elsewhere, too_long=TOO_LONG, unwritable="; pick a folder you may write to (--out)"
    )
    check_output_file(path, overwrite, advice)


def check_batch_options(options: BatchOptions) -> None:
    """What can be refused before a byte is sent (the videos themselves are checked one by one)."""
    if options.max_jobs < 1:
        raise BadInput(f"--max-jobs must be at least 1, got {options.max_jobs}")
    if options.outputs.auto_process:
        raise BadInput(
            "this stack processes its videos itself (autoProcess: its collector owns the queue): copy the "
            f"videos under s3://{options.outputs.bucket_name}/{options.outputs.incoming_prefix} instead of a batch"
        )
    check_job_options(options)
    if options.redact is not None:
        options.redact.check()
        if options.redact.keep or options.redact.keep_persons:
            raise BadInput("--redact-keep names one video's appearances; a batch covers every face of every video")
        if options.redact.out is not None:
            raise BadInput(
                "--redact OUT names one video's copy; a batch writes DIR/<name>.redacted.mp4 (use --out-dir)"
            )
