"""``scripts/launch.py``: run face detection on videos with a deployed stack, and write their faces.

One VIDEO runs as a single launch. Several, a folder or an s3://bucket/prefix/ run as a batch (see
launcher.batch.scheduler): one results file per video in --out-dir, and DIR/batch.jsonl."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from rekognition_limits import MAX_OPEN_JOBS

from .aws import Clients
from .batch.discovery import discover, is_batch
from .batch.log import read_batch_log
from .batch.scheduler import Batch
from .jobs.errors import BadInput, ExitCode, LauncherError, from_client_error
from .jobs.formats import FORMATS
from .options import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_OUT_DIR,
    DEFAULT_RETRY_WAIT_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    BatchOptions,
    LaunchOptions,
)
from .plan import LIST_PRICE_PER_MINUTE_USD, LIST_PRICE_REGION, Plan, check_money, default_price, make_plan, render
from .single import Launch
from .stack import StackOutputs, load_outputs_file, load_stack

EPILOG = "Exit codes: " + ", ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/launch.py",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "videos",
        metavar="VIDEO",
        nargs="+",
        help="a local MP4/MOV (H.264) file, or s3://bucket/key[?versionId=ID]; for a batch, several of "
        "them, a folder, or s3://bucket/prefix/",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--stack", metavar="NAME", help="read the outputs with `pulumi stack output --json --stack NAME`"
    )
    source.add_argument("--outputs", metavar="FILE", type=Path, help="the JSON of `pulumi stack output --json`")
    parser.add_argument("--attributes", choices=("DEFAULT", "ALL"), default="DEFAULT", help="FaceAttributes")
    parser.add_argument("--job-tag", metavar="TAG", help="JobTag, echoed in the completion message")
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="ClientRequestToken (default: derived from the video version and every parameter)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="upload a local video under this key (default: videos/<sha256>.<ext>, or the stack's incomingPrefix)",
    )
    parser.add_argument("--out", metavar="FILE", type=Path, help="results file (default: <video name>.faces.<format>)")
    parser.add_argument("--format", choices=FORMATS, default="json", dest="fmt")
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write <video name>.faces.html beside the results: who is on screen when, with pictures",
    )
    parser.add_argument(
        "--people",
        action="store_true",
        help="group appearances into people (who is who, across cuts, re-entries and a batch's videos) by a face "
        "embedding computed here: a biometric template, kept in memory only, never written",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="give up waiting (the job keeps running)",
    )
    parser.add_argument("--attach", metavar="JOB_ID", help="wait for a job already started, instead of starting one")
    parser.add_argument(
        "--grace",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help="without a notification for this long, also poll the job's status",
    )
    parser.add_argument(
        "--retry-wait",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_RETRY_WAIT_SECONDS,
        help="first wait after LimitExceededException (then doubled, up to a minute)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="on an error, also print the traceback and AWS's request id"
    )
    batch = parser.add_argument_group("batch (several videos, a folder or an s3:// prefix)")
    batch.add_argument(
        "--out-dir",
        metavar="DIR",
        type=Path,
        help=f"results files and batch.jsonl (default: {DEFAULT_OUT_DIR}/); also makes one video a batch",
    )
    batch.add_argument(
        "--max-jobs",
        metavar="N",
        type=int,
        default=MAX_OPEN_JOBS,
        help="never more than N of the batch's jobs open at once",
    )
    batch.add_argument("--recursive", action="store_true", help="a folder's subfolders' videos too")
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
    plan.add_argument("--json", action="store_true", help="with --plan, print the plan as JSON")


def _videos(args: argparse.Namespace, clients: Clients) -> list[str]:
    """The videos a launch would run on: one, or the batch's (folders and prefixes expanded)."""
    if args.out_dir is not None or is_batch(args.videos):
        return discover(args.videos, args.recursive, clients("s3"))
    return list(args.videos[:1])


def _plan(args: argparse.Namespace, outputs: StackOutputs) -> Plan:
    clients = Clients(outputs.region)
    price = args.price_per_minute if args.price_per_minute is not None else default_price(outputs.region)
    return make_plan(_videos(args, clients), lambda: clients("s3"), outputs.region, price, args.max_jobs)


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
    plan = _plan(args, outputs)
    if plan.cost > max_cost:
        raise BadInput(
            f"the estimated cost ${plan.cost:,.2f} ({plan.minutes:.1f} minutes at ${plan.price_per_minute:g}) is above "
            f"--max-cost ${max_cost:g}: nothing was started; see the estimate with --plan"
        )


# Options naming one video's job or file, refused in a batch.
SINGLE_ONLY = {"out": "--out", "key": "--key", "token": "--token", "attach": "--attach"}


def _batch_options(args: argparse.Namespace, outputs: StackOutputs) -> BatchOptions:
    for name, option in SINGLE_ONLY.items():
        if getattr(args, name) is not None:
            raise BadInput(f"{option} applies to one video; a batch names its files with --out-dir and derives tokens")
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
        people=args.people,
    )


def _run_batch(options: BatchOptions, report: bool = False) -> int:
    batch = Batch(options)
    try:
        tally = batch.run()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: {batch.open_jobs} job(s) keep running. Run the same command again to resume: "
            "written results are skipped, started jobs re-attached",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
    print(tally.describe(options.out_dir))
    if report:
        from .report.html import batch_report  # Pillow and the frame grabbing: only for --report

        clients = Clients(options.outputs.region)
        index = batch_report(read_batch_log(options.out_dir), options.out_dir, options.fmt, lambda: clients("s3"))
        print(f"report written to {index}")
    return ExitCode.OK if tally.ok else ExitCode.BATCH_INCOMPLETE


def _reattach_command(argv: Sequence[str], job_id: str) -> str:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--attach", "--token", "--job-tag", "--key", "--attributes"):
            skip = True
        elif not arg.startswith(("--attach=", "--token=", "--job-tag=", "--key=", "--attributes=")):
            kept.append(arg)
    return shlex.join(["python", "scripts/launch.py", *kept, "--attach", job_id])


def _report(error: LauncherError, debug: bool, cause: BaseException | None = None) -> None:
    """One line; with --debug, first the traceback and AWS's request id."""
    if debug:
        traceback.print_exception(cause or error)
        if error.request_id:
            print(f"AWS request id: {error.request_id}", file=sys.stderr)
    print(f"error: {error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    launch: Launch | None = None
    try:
        args.price_per_minute = _dollars(args.price_per_minute, "--price-per-minute")
        args.max_cost = _dollars(args.max_cost, "--max-cost")
        outputs = load_outputs_file(args.outputs) if args.outputs else load_stack(args.stack)
        if args.json and not args.plan:
            raise BadInput("--json applies to --plan")
        if args.plan:
            return _show_plan(args, _plan(args, outputs))
        _check_cost(args, outputs)
        if args.out_dir is not None or is_batch(args.videos):
            return _run_batch(_batch_options(args, outputs), report=args.report)
        if args.max_jobs != MAX_OPEN_JOBS or args.recursive:
            raise BadInput("--max-jobs and --recursive apply to a batch: several videos, a folder or an s3:// prefix")
        launch = Launch(
            LaunchOptions(
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
                people=args.people,
            )
        )
        result = launch.run()
    except KeyboardInterrupt:
        job_id = launch.job_id if launch else None
        if job_id:
            print(
                f"\ninterrupted: job {job_id} keeps running. Re-attach with:\n  {_reattach_command(argv, job_id)}",
                file=sys.stderr,
            )
        else:
            print("\ninterrupted before any job was started", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except ClientError as error:  # a refusal no wrapper expected: reported like the others
        launcher_error = from_client_error(error, "an AWS call")
        _report(launcher_error, args.debug, error)
        return launcher_error.exit_code
    except LauncherError as error:
        _report(error, args.debug)
        return error.exit_code
    except BotoCoreError as error:  # credentials, endpoint, network
        if args.debug:
            traceback.print_exception(error)
        print(
            f"error: {error}. What to do: check AWS_PROFILE, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL.", file=sys.stderr
        )
        return ExitCode.AWS_ERROR
    print(f"job {result.job_id}: {result.summary.describe()}")
    print(f"results written to {result.out}")
    if result.report:
        print(f"report written to {result.report}")
    return ExitCode.OK
