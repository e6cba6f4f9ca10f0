"""Run face detection on videos with a deployed stack, and write their faces.

One VIDEO runs as a single launch. Several, a folder or an s3://bucket/prefix/ run as a batch: one
results file per video in --out-dir, and DIR/batch.jsonl."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore
from botocore.exceptions import BotoCoreError, ClientError

from rekognition_limits import MAX_OPEN_JOBS

from . import __version__
from .aws import AwsSettings, Clients
from .batch.discovery import OnUnreadable, discover, is_batch, left_out_line
from .batch.log import read_batch_log
from .batch.scheduler import Batch, OutDirLock
from .jobs.errors import BadInput, ExitCode, LauncherError, from_client_error
from .jobs.formats import FORMATS
from .options import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_OUT_DIR,
    DEFAULT_RETRY_WAIT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_RETRY_WAIT_SECONDS,
    STDOUT,
    BatchOptions,
    LaunchOptions,
    check_batch_options,
)
from .plan import LIST_PRICE_PER_MINUTE_USD, LIST_PRICE_REGION, Plan, check_money, default_price, make_plan, render
from .redact.options import DEFAULT_STYLE, STYLES, RedactOptions, parse_keep
from .single import Launch, LaunchResult
from .stack import StackOutputs, load_outputs_file, load_stack
from .terminal import UntilReaderStops, one_line, shell_word

if TYPE_CHECKING:
    from .redact.audit import AuditDetector
    from .redact.redaction import BatchRedaction

PROG = "scripts/launch.py"
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "launch.py"
EXIT_CODES = "\n".join(f"  {code.value:>3}  {code.name.lower().replace('_', ' ')}" for code in ExitCode)
EXAMPLES = f"""\
examples:
  one local video, its faces in clip.mp4.faces.json:
    python {PROG} clip.mp4 --outputs outputs.json
  an S3 object, as CSV, with a report beside it:
    python {PROG} s3://my-bucket/clips/clip.mp4 --stack dev --format csv --report
  a folder as a batch, into results/, one line per video as it ends:
    python {PROG} videos/ --outputs outputs.json --out-dir results --report
  the faces on standard output (notes go to standard error), counted by jq:
    python {PROG} clip.mp4 --outputs outputs.json --out - | jq '.Faces | length'
  the summary as JSON, for a script:
    python {PROG} clip.mp4 --outputs outputs.json --json --quiet

exit codes:
{EXIT_CODES}"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog as written; each option's default when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default:" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


def version_text() -> str:
    """Like the AWS CLI's: the tool, then what it runs on."""
    return (
        f"{PROG} {__version__} Python/{platform.python_version()} {platform.system()}/{platform.release()} "
        f"boto3/{boto3.__version__} botocore/{botocore.__version__}"
    )


# -- the options, one group per function (so that each feature adds its own group) --------------------


def _add_videos(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "videos",
        metavar="VIDEO",
        nargs="+",
        help="a local MP4/MOV (H.264) file, or s3://bucket/key[?versionId=ID]; for a batch, several of "
        "them, a folder, or s3://bucket/prefix/",
    )


def _add_stack_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the stack (one of)")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--stack", metavar="NAME", help="read its outputs with: pulumi stack output --json --stack NAME"
    )
    source.add_argument(
        "--outputs", metavar="FILE", type=Path, help="the stack's outputs, as written by: pulumi stack output --json"
    )


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS (as the AWS CLI has them)")
    group.add_argument(
        "--region",
        metavar="REGION",
        help="instead of AWS_DEFAULT_REGION or the profile's; it must be the stack's region",
    )
    group.add_argument("--profile", metavar="NAME", help="a profile of ~/.aws/config, instead of AWS_PROFILE")
    group.add_argument(
        "--endpoint-url", metavar="URL", help="instead of AWS_ENDPOINT_URL, e.g. http://127.0.0.1:4566 (the local one)"
    )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the job")
    group.add_argument(
        "--attributes", choices=("DEFAULT", "ALL"), default="DEFAULT", help="FaceAttributes: ALL adds age, gender..."
    )
    group.add_argument("--job-tag", metavar="TAG", help="JobTag, echoed in the completion message")
    group.add_argument(
        "--token", metavar="TOKEN", help="ClientRequestToken (default: derived from the video version and every option)"
    )
    group.add_argument(
        "--key",
        metavar="KEY",
        help="upload a local video under this key (default: videos/<sha256>.<ext>, or the stack's incomingPrefix)",
    )
    group.add_argument("--attach", metavar="JOB_ID", help="wait for a job already started, instead of starting one")


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("waiting")
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="give up waiting (the job keeps running)",
    )
    group.add_argument(
        "--grace",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help="without a notification for this long, also poll the job's status",
    )
    group.add_argument(
        "--retry-wait",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_RETRY_WAIT_SECONDS,
        help=f"first wait after LimitExceededException, then doubled up to {MAX_RETRY_WAIT_SECONDS:g} s (at most that)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("results")
    group.add_argument(
        "--out", metavar="FILE", type=Path, help="results file, - for standard output (default: VIDEO.faces.FORMAT)"
    )
    group.add_argument("--format", choices=FORMATS, default="json", dest="fmt", help="the results file's format")
    group.add_argument(
        "--report",
        action="store_true",
        help="also write VIDEO.faces.html beside the results (a batch: DIR/index.html): who is on screen when",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing results file, report or --redact copy (without it, one is refused before anything "
        "starts)",
    )


def _add_people_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("people")
    group.add_argument(
        "--people",
        action="store_true",
        help="group appearances into people (who is who, across cuts, re-entries and a batch's videos) by a face "
        "embedding computed here: a biometric template, kept in memory only, never written",
    )


def _add_redaction_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "redaction (a copy of the video with every face covered, then checked for faces left: docs/redaction.md)"
    )
    group.add_argument(
        "--redact",
        metavar="OUT",
        nargs="?",
        const="",
        help="after the job, write a copy with every face covered (default OUT: VIDEO.redacted.mp4 beside the "
        "results; in a batch DIR/<name>.redacted.mp4). Put VIDEO before it, or write --redact=OUT",
    )
    group.add_argument("--redact-style", choices=STYLES, default=DEFAULT_STYLE, help="how faces are covered")
    group.add_argument(
        "--redact-keep",
        metavar="N[,M]",
        help="leave these appearances uncovered, or people as pN with --people (their numbers are in the results and "
        "the report)",
    )
    group.add_argument(
        "--audit-every",
        metavar="N",
        type=int,
        help="look for faces left in every N-th frame of the copy; 0: no audit (default: every frame up to 720p, "
        "every 2nd up to 1080p, every 4th above)",
    )


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("batch (several videos, a folder or an s3:// prefix)")
    group.add_argument(
        "--out-dir",
        metavar="DIR",
        type=Path,
        help=f"results files and batch.jsonl (default: {DEFAULT_OUT_DIR}/); also makes one video a batch",
    )
    group.add_argument(
        "--max-jobs",
        metavar="N",
        type=int,
        default=MAX_OPEN_JOBS,
        help="never more than N of the batch's jobs open at once",
    )
    group.add_argument("--recursive", action="store_true", help="a folder's subfolders' videos too")


def _add_console_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what is printed")
    loudness = group.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="errors only: no progress, notes or summary")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also what the launcher does, step by step")
    group.add_argument(
        "--json",
        action="store_true",
        help="print the summary (with --plan, the plan) as one JSON object on standard output (errors too)",
    )
    group.add_argument(
        "--debug", action="store_true", help="on an error, also print the traceback and AWS's request id"
    )
    group.add_argument("--version", action="version", version=version_text())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog=EXAMPLES.replace("    python ", f"    {python()} "),
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    _add_videos(parser)
    _add_stack_options(parser)
    _add_aws_options(parser)
    _add_job_options(parser)
    _add_output_options(parser)
    _add_people_options(parser)
    _add_redaction_options(parser)
    _add_wait_options(parser)
    _add_batch_options(parser)
    _add_console_options(parser)
    _add_plan_arguments(parser)
    return parser


def _dollars(text: str | None, option: str) -> float | None:
    """An amount in US dollars from the command line, or one line that names the option."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{option} {text!r}: give an amount in US dollars, e.g. 0.10") from None
    return check_money(value, option)


def _add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    plan = parser.add_argument_group("cost and time, before anything is spent")
    plan.add_argument(
        "--plan",
        action="store_true",
        help="read every video (duration, codec, size, would the service take it), print the minutes, the "
        "estimated cost and time, and start nothing, upload nothing",
    )
    plan.add_argument(
        "--price-per-minute",
        metavar="USD",
        help=f"the price of a minute of video (default: the list price, ${LIST_PRICE_PER_MINUTE_USD:g} in "
        f"{LIST_PRICE_REGION}; see docs/launcher.md)",
    )
    plan.add_argument(
        "--max-cost",
        metavar="USD",
        help="refuse to start anything if the estimated cost is above USD",
    )
    # --json (what is printed) prints the plan as JSON too.


def _videos(args: argparse.Namespace, clients: Clients, on_unreadable: OnUnreadable) -> list[str]:
    """The videos a launch would run on: one, or the batch's (folders and prefixes expanded)."""
    if args.out_dir is not None or is_batch(args.videos):
        return discover(args.videos, args.recursive, clients("s3"), on_unreadable)
    return list(args.videos[:1])


def _plan(args: argparse.Namespace, outputs: StackOutputs, on_unreadable: OnUnreadable) -> Plan:
    clients = Clients(outputs.region, _aws_settings(args))
    price = args.price_per_minute if args.price_per_minute is not None else default_price(outputs.region)
    return make_plan(_videos(args, clients, on_unreadable), lambda: clients("s3"), outputs.region, price, args.max_jobs)


def _price_source(args: argparse.Namespace) -> str:
    if args.price_per_minute is not None:
        return "--price-per-minute"
    return f"the {LIST_PRICE_REGION} list price; pass --price-per-minute for your region or contract"


def _show_plan(args: argparse.Namespace, plan: Plan) -> int:
    print(json.dumps(plan.to_json(), indent=2) if args.json else render(plan, _price_source(args)))
    return ExitCode.OK


def _check_cost(args: argparse.Namespace, outputs: StackOutputs) -> None:
    """With --max-cost, refuse before anything is uploaded or started if the estimate is above it."""
    max_cost: float | None = args.max_cost
    if max_cost is None:
        return
    plan = _plan(args, outputs, lambda folder, error: None)  # the batch that follows names them
    if plan.cost > max_cost:
        raise BadInput(
            f"the estimated cost ${plan.cost:,.2f} ({plan.minutes:.1f} minutes at ${plan.price_per_minute:g}) is above "
            f"--max-cost ${max_cost:g}: nothing was started; see the estimate with --plan"
        )


# -- what is printed ---------------------------------------------------------------------------------


class Console:
    """Where each kind of line goes: notes and the per-video lines to standard output, unless it
    carries data (``--out -`` or ``--json``), then to standard error; nothing but errors with --quiet."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.quiet
        self.json = args.json
        self.data_on_stdout = args.json or args.out == STDOUT

    def note(self, *lines: str) -> None:
        """Each of ``lines`` on one line of its own, whatever names it holds (``one_line``)."""
        if not self.quiet:
            if self.data_on_stdout:
                print(_shown(lines), file=sys.stderr, flush=True)
            else:
                _print_out(_shown(lines))

    def error(self, *lines: str) -> None:
        print(_shown(lines), file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        """Something left out that the user must hear of, with --quiet too (as a failed video is)."""
        self.error(f"warning: {text}")

    def summary(self, lines: Sequence[str], document: dict[str, Any]) -> None:
        """The lines for people, or with --json the document, exact (json.dumps escapes what it must)."""
        if self.json:
            _print_out(json.dumps(document))
        else:
            self.note(*lines)


def _shown(lines: Sequence[str]) -> str:
    """Lines for a terminal: a newline or an escape sequence in a name cannot add or forge one."""
    return "\n".join(one_line(line) for line in lines)


def _print_out(text: str) -> None:
    """A line on standard output; once its reader has gone (``| head``), the rest goes nowhere and the
    launch goes on (its jobs, results files and errors are not the reader's)."""
    out = UntilReaderStops(sys.stdout)
    out.write(text + "\n")
    out.flush()


def _printable(text: str) -> str:
    """A name that is not UTF-8 (undecodable bytes kept as surrogates) printed with \\x escapes, not a crash."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _video_line(line: dict[str, Any]) -> str:
    """One plain line per video as it ends: name, status, faces, file (or why there is none); the
    console shows it on one line whatever the name holds."""
    name = line.get("name") or line["video"]
    if line["status"] in ("SUCCEEDED", "SKIPPED"):
        return f"{name}: {line['status']}, {line['faces']} face(s), {line['results']}"
    return f"{name}: {line['status']}, {line['error']}"


def python() -> str:
    """The interpreter running now, as short as it can be said from here (a pasted ``python`` may be
    another one, without this project's packages)."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") and len(relative) < len(sys.executable) else sys.executable


def python_command(*args: str) -> str:
    """A command line that runs with this very interpreter."""
    script = os.path.relpath(SCRIPT)
    return " ".join(map(shell_word, [python(), script if not script.startswith("..") else str(SCRIPT), *args]))


def _finish_command(argv: Sequence[str], job_id: str) -> str:
    """The command that finishes a launch whose job ended and whose results are written: it replaces them."""
    return _reattach_command(argv if "--overwrite" in argv else [*argv, "--overwrite"], job_id)


def _reattach_command(argv: Sequence[str], job_id: str) -> str:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--attach", "--token", "--job-tag", "--key", "--attributes"):
            skip = True
        elif not arg.startswith(("--attach=", "--token=", "--job-tag=", "--key=", "--attributes=")):
            kept.append(arg)
    return python_command(*kept, "--attach", job_id)


# -- running -------------------------------------------------------------------------------------------


def _aws_settings(args: argparse.Namespace) -> AwsSettings:
    return AwsSettings(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)


def _redact_options(args: argparse.Namespace) -> RedactOptions | None:
    """--redact and its companions; these without --redact are refused."""
    if args.redact is None:
        given = [
            option
            for option, value, default in (
                ("--redact-style", args.redact_style, DEFAULT_STYLE),
                ("--redact-keep", args.redact_keep, None),
                ("--audit-every", args.audit_every, None),
            )
            if value != default
        ]
        if given:
            raise BadInput(f"{', '.join(given)} apply with --redact")
        return None
    keep, keep_persons = parse_keep(args.redact_keep)
    if keep_persons and not args.people:
        raise BadInput("--redact-keep p<N> names people: add --people")
    return RedactOptions(
        out=Path(args.redact) if args.redact else None,
        style=args.redact_style,
        keep=keep,
        keep_persons=keep_persons,
        audit_every=args.audit_every,
        overwrite=args.overwrite,
    )


# Options naming one video's job or file, refused in a batch.
SINGLE_ONLY = {"out": "--out", "key": "--key", "token": "--token", "attach": "--attach", "overwrite": "--overwrite"}


def _batch_options(args: argparse.Namespace, outputs: StackOutputs) -> BatchOptions:
    for name, option in SINGLE_ONLY.items():
        if getattr(args, name) not in (None, False):
            raise BadInput(
                f"{option} applies to one video; a batch names its files with --out-dir, derives tokens, and skips "
                "the videos whose results it wrote (its ledger)"
            )
    if args.redact:
        raise BadInput("--redact OUT names one video's copy; a batch writes DIR/<name>.redacted.mp4 (DIR: --out-dir)")
    return BatchOptions(
        videos=args.videos,
        outputs=outputs,
        out_dir=args.out_dir or DEFAULT_OUT_DIR,
        recursive=args.recursive,
        max_jobs=args.max_jobs,
        attributes=args.attributes,
        job_tag=args.job_tag,
        fmt=args.fmt,
        timeout=args.timeout,
        grace=args.grace,
        retry_wait=args.retry_wait,
        aws=_aws_settings(args),
        quiet=args.quiet,
        people=args.people,
        redact=_redact_options(args),
    )


def _launch_options(args: argparse.Namespace, outputs: StackOutputs) -> LaunchOptions:
    if args.max_jobs != MAX_OPEN_JOBS or args.recursive:
        raise BadInput("--max-jobs and --recursive apply to a batch: several videos, a folder or an s3:// prefix")
    return LaunchOptions(
        video=args.videos[0],
        outputs=outputs,
        attributes=args.attributes,
        job_tag=args.job_tag,
        token=args.token,
        key=args.key,
        out=args.out,
        fmt=args.fmt,
        timeout=args.timeout,
        attach=args.attach,
        grace=args.grace,
        retry_wait=args.retry_wait,
        report=args.report,
        overwrite=args.overwrite,
        aws=_aws_settings(args),
        quiet=args.quiet,
        people=args.people,
        redact=_redact_options(args),
    )


def _run_batch(options: BatchOptions, console: Console, report: bool = False) -> int:
    # Not on a terminal (no progress bar): one plain line per video as it ends.
    on_end: Callable[[dict[str, Any]], None] | None = None
    if console.quiet:  # errors only: a video that failed is one
        on_end = lambda line: console.error(_video_line(line)) if line["status"] in ("FAILED", "ERROR") else None  # noqa: E731
    elif not sys.stderr.isatty():
        on_end = lambda line: console.note(_video_line(line))  # noqa: E731
    detector: AuditDetector | None = None
    if options.redact is not None:
        check_batch_options(options)
        if options.redact.audit_every != 0:
            from .redact.audit import load_detector  # PyAV and a detector: only for --redact

            detector = load_detector(options.redact.detector)  # refused now, not after the batch
    batch = Batch(options, on_end=on_end, on_warning=console.warn)
    try:
        tally = batch.run()
    except KeyboardInterrupt:
        stopped = f"interrupted: {batch.open_jobs} job(s) keep running"
        resume = "Run the same command again to resume: written results are skipped, started jobs re-attached"
        return _ended_early(console, ExitCode.INTERRUPTED, stopped, ["", f"{stopped}. {resume}"])
    index = None
    clients = Clients(options.outputs.region, options.aws)
    redacted: list[BatchRedaction] = []
    try:
        if options.redact is not None:
            from .redact.redaction import redact_batch  # PyAV: only for --redact

            def said(item: BatchRedaction) -> None:
                if item.error:
                    console.error(f"error: {item.video}: redaction failed: {item.error}")
                elif item.skipped is not None:
                    console.note(f"{item.video}: {item.skipped} exists, not redacted again")
                elif item.redaction is not None:
                    console.note(f"{item.video}: {item.redaction.describe()}")

            with OutDirLock(options.out_dir):
                redacted = redact_batch(
                    read_batch_log(options.out_dir),
                    options.out_dir,
                    options.fmt,
                    options.redact,
                    lambda: clients("s3"),
                    detector,
                    on_video=said,
                )
        if report:
            from .report.html import batch_report  # Pillow and the frame grabbing: only for --report

            sections = {str(item.results): item.redaction.in_report for item in redacted if item.redaction is not None}
            with OutDirLock(options.out_dir):
                index = batch_report(
                    read_batch_log(options.out_dir), options.out_dir, options.fmt, lambda: clients("s3"), sections
                )
    except KeyboardInterrupt:  # the jobs have ended and their results are written
        stopped = "interrupted after the batch's jobs ended (their results are written)"
        finish = "Run the same command again to finish: written results are skipped"
        return _ended_early(console, ExitCode.INTERRUPTED, stopped, ["", f"{stopped}. {finish}"])
    code = ExitCode.OK if tally.ok else ExitCode.BATCH_INCOMPLETE
    if code == ExitCode.OK and any(item.error for item in redacted):
        code = ExitCode.BATCH_INCOMPLETE
    elif code == ExitCode.OK and any(item.redaction is not None and item.redaction.leaked for item in redacted):
        code = ExitCode.REDACTION_LEAKS
    text = [tally.describe(options.out_dir), *([f"report written to {index}"] if index else [])]
    console.summary(
        text,
        {
            "exitCode": int(code),
            "outDir": str(options.out_dir),
            "counts": tally.counts,
            "faces": tally.faces,
            "report": str(index) if index else None,
            "leftOut": tally.left_out,
            "videos": read_batch_log(options.out_dir),
            "redactions": [
                {"video": item.video, "skipped": item.skipped is not None, "error": item.error}
                | (item.redaction.summary() if item.redaction is not None else {})
                for item in redacted
            ],
        },
    )
    return code


def _run_single(options: LaunchOptions, console: Console, launch: Launch) -> int:
    result: LaunchResult = launch.run()
    summary = result.summary
    where = "standard output" if result.out == STDOUT else str(result.out)
    text = [f"job {result.job_id}: {summary.describe()}", f"results written to {where}"]
    if result.redaction is not None:
        text.append(result.redaction.describe())
        leaks = result.redaction.audit.leaks
        if leaks:
            frames = ", ".join(str(leak.frame) for leak in leaks[:10]) + ("…" if len(leaks) > 10 else "")
            console.error(
                f"warning: faces were still found in {len(leaks)} frame(s) of the copy ({frames}): see Redaction in "
                "the results"
            )
    if result.report:
        text.append(f"report written to {result.report}")
    console.summary(
        text,
        {
            "exitCode": int(result.exit_code),
            "jobId": result.job_id,
            "video": options.video,
            "results": None if result.out == STDOUT else str(result.out),
            "report": str(result.report) if result.report else None,
            "faces": summary.faces,
            "appearances": len(summary.appearances),
            "firstMs": summary.first_ms,
            "lastMs": summary.last_ms,
            "videoMs": summary.video_ms,
            "redaction": result.redaction.summary() if result.redaction is not None else None,
        },
    )
    return result.exit_code


def _ended_early(
    console: Console, code: ExitCode, said: str, lines: Sequence[str], extra: dict[str, Any] | None = None
) -> ExitCode:
    """How a launch or batch that did not finish (Ctrl-C, an error) ends: its lines for people on
    standard error and, with --json, the one object a script reads on standard output whatever
    happened, ``{"exitCode", "error": said, **extra}``; returns ``code``. One place, so that every
    way out says the same in both."""
    console.error(*lines)
    if console.json:
        _print_out(json.dumps({"exitCode": int(code), "error": _printable(said), **(extra or {})}))
    return code


def _fail(console: Console, error: LauncherError, debug: bool, cause: BaseException | None = None) -> int:
    """One line (what failed, what to do); with --debug, first the traceback and AWS's request id."""
    if debug:
        traceback.print_exception(cause or error)
        if error.request_id:
            console.error(f"AWS request id: {error.request_id}")
    return _ended_early(console, error.exit_code, str(error), [f"error: {error}"])


def _as_launcher_error(error: BaseException) -> LauncherError | None:
    """The expected failures, as one line with its exit code; None for a bug (its traceback shows)."""
    if isinstance(error, LauncherError):
        return error
    if isinstance(error, ClientError):  # a refusal no wrapper expected: reported like the others
        return from_client_error(error, "an AWS call")
    if isinstance(error, BotoCoreError):  # credentials, endpoint, network
        return LauncherError(
            f"{error}. What to do: check AWS_PROFILE, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL "
            "(or --profile, --region, --endpoint-url)",
            ExitCode.AWS_ERROR,
        )
    if isinstance(error, OSError):  # a file that cannot be read or written (permissions, a full disk)
        where = f" {error.filename}" if error.filename else ""
        return LauncherError(
            f"cannot use{where}: {error.strerror or error}. What to do: pick a file or folder you may write to",
            ExitCode.BAD_INPUT,
        )
    return None


class OneLineFormatter(logging.Formatter):
    """A log line (a batch's warnings on a terminal, --verbose's steps) shown as the console's lines
    are: a video name's newline or escape sequence cannot split it or drive the terminal."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name
        return one_line(super().formatMessage(record))


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])  # as before, when nothing set logging up
    logging.getLogger("launcher").setLevel(level)  # the launcher's steps with --verbose, not botocore's requests


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """SIGTERM (kill, timeout, a supervisor) is taken as Ctrl-C while the launcher runs: the temporary
    files of a results file or a redacted copy being written are removed, and the line says what keeps
    running. By default the process ended at once, leaving them (.NAME.XXXX.partial) beside the results."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    console = Console(args)
    launch: Launch | None = None
    try:
        args.price_per_minute = _dollars(args.price_per_minute, "--price-per-minute")
        args.max_cost = _dollars(args.max_cost, "--max-cost")
        outputs = load_outputs_file(args.outputs) if args.outputs else load_stack(args.stack)
        if args.plan:
            return _show_plan(
                args, _plan(args, outputs, lambda folder, error: console.warn(left_out_line(folder, error)))
            )
        _check_cost(args, outputs)
        if args.out_dir is not None or is_batch(args.videos):
            return _run_batch(_batch_options(args, outputs), console, report=args.report)
        launch = Launch(_launch_options(args, outputs), report=console.note)
        return _run_single(launch.options, console, launch)
    except KeyboardInterrupt:
        job_id = launch.job_id if launch else None
        if job_id and launch_finished(launch):  # the results are written: a rerun must replace them
            finish = _finish_command(argv, job_id)
            said = f"interrupted after job {job_id} ended and its results were written; to finish, run:"
            lines = ["", said, f"  {finish}"]
            said += f" {finish}"  # not "keeps running": it has ended
        elif job_id:
            reattach = _reattach_command(argv, job_id)
            lines = ["", f"interrupted: job {job_id} keeps running. Re-attach with:", f"  {reattach}"]
            said = f"interrupted; job {job_id} keeps running"
        else:
            said = "interrupted before any job was started"
            lines = ["", said]
        return _ended_early(console, ExitCode.INTERRUPTED, said, lines, {"jobId": job_id})
    except Exception as error:
        launcher_error = _as_launcher_error(error)
        if launcher_error is None:
            raise
        code = _fail(console, launcher_error, args.debug, error)
        job_id = launch.job_id if launch else None
        if (
            job_id
            and code not in (ExitCode.OK, ExitCode.JOB_FAILED, ExitCode.RESOURCE_NOT_FOUND)
            and not launch_finished(launch)
        ):
            # The job may still run (the endpoint went away, a results file could not be written);
            # not when the service has no such job (a mistyped --attach).
            console.error(f"job {job_id} may keep running. Re-attach with:", f"  {_reattach_command(argv, job_id)}")
        elif (
            job_id
            and launch_finished(launch)
            and code != ExitCode.JOB_FAILED
            and (args.redact is not None or args.report)
        ):
            # --redact or --report failed (a full disk, an S3 read, a --redact-keep the video has not)
            # after the results were written: a rerun must replace them, and uses the same job. Bad input
            # (that --redact-keep) is in the command as given: it must be corrected first.
            then = "correct what the line above names and run" if code == ExitCode.BAD_INPUT else "run"
            finish = _finish_command(argv, job_id)
            console.error(f"job {job_id} ended and its results were written; to finish, {then}:", f"  {finish}")
        return code


def launch_finished(launch: Launch | None) -> bool:
    return launch is not None and launch.finished
