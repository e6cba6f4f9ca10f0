"""Run the local AWS endpoint (serve), deploy this project's Pulumi program into it (deploy,
destroy), show what it holds (status), and publish the redactor's layer there (redactor-layer)."""

from __future__ import annotations

import argparse
import faulthandler
import fcntl
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from .awslambda.runner import REDACTOR_LAYER_NAME, REDACTOR_LAYER_PACKAGES, endpoint_packages_layer
from .clients import local_client
from .defaults import DEFAULT_REGION, set_aside_users_profile
from .deploy.errors import BadPath, DeployError, EndpointUnreachable, PulumiCliError, StackBusy
from .deploy.pulumi_cli import PulumiCli, cli_available
from .endpoint import DEFAULT_HOST, DEFAULT_PORT, LocalEndpoint
from .hints import local_command, python
from .rekognition.models import JOB_STORE, EmulatorSettings
from .signals import STOP_SIGNALS, handlers_replaced
from .state.files import StateError
from .status import UNREACHABLE, EndpointStatus
from .vision.detector import check_detector
from .vision.emotions import check_emotion_model
from .vision.landmark_models import LANDMARK_MODELS, described_choices

DEFAULT_DATA_DIR = Path(".local")
PROJECT_DIR = Path(__file__).resolve().parents[1]
# Reported in one line (with --debug, also the traceback and AWS's request id): the deployer's own
# errors, the component's and Pulumi's config errors, and AWS's. Anything else is a bug: its traceback shows.
if TYPE_CHECKING:
    from .deploy.handlers import Context

# The deployer (Pulumi's engine, the stack's component) is imported by the commands that deploy, not
# by serve or status: it is about 0.4 s of a fresh process's start.


def _reported_errors() -> tuple[type[BaseException], ...]:
    """The errors a command reports in one line (with a traceback only under --debug)."""
    import pulumi

    from components import ConfigError

    return (DeployError, ConfigError, pulumi.RunError, ClientError, BotoCoreError)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MAX_SAMPLE_INTERVAL_MS = 60_000


def _sample_interval(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SAMPLE_INTERVAL_MS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of milliseconds from 1 to {MAX_SAMPLE_INTERVAL_MS}, got {text!r}"
        )
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 65535, got {text!r}") from None
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_PORT} (0 picks a free port), got {value}")
    return value


def _origin(text: str) -> str:
    parts = urlsplit(text)
    if text == "*" or (parts.scheme in ("http", "https") and parts.hostname and parts.path in ("", "/")):
        return text.rstrip("/")
    raise argparse.ArgumentTypeError(f"must be an origin such as http://localhost:3000 (or *), got {text!r}")


def _endpoint_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be a URL such as http://127.0.0.1:{DEFAULT_PORT}, got {text!r}")
    return text


def _stack_name(text: str) -> str:
    """A stack name as Pulumi takes it: it names files here (Pulumi.<stack>.yaml, the deploy state, the outputs)."""
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", text):
        raise argparse.ArgumentTypeError(
            f"a stack name has only letters, digits, '-', '_' and '.' (not first), as Pulumi's, got {text!r}"
        )
    return text


DEBUG_HELP = "on an error, also print the traceback and AWS's request id"
PROG = "scripts/local.py"
SCRIPT = PROJECT_DIR / "scripts" / "local.py"
EXAMPLES = f"""\
examples:
  the endpoint on its default port, in the foreground (Ctrl-C stops it):
    python {PROG} serve
  in another terminal, the stack deployed into it; its outputs in .local/outputs-local.json:
    python {PROG} deploy
  everything deploy made removed, the videos in its bucket too:
    python {PROG} destroy --force

exit codes: 0 done, 1 failed (the line says why and what to do), 2 bad arguments, 130 interrupted"""


def python_command(*args: str) -> str:
    """A command line that runs scripts/local.py with this very interpreter."""
    return local_command(*args)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog as written; each option's default when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog=EXAMPLES.replace("    python ", f"    {python()} "),
        formatter_class=HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    # Also after the command; SUPPRESS keeps the subcommand from resetting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    def subcommand(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        """A command with the common options, this program's help layout and no abbreviations."""
        return commands.add_parser(
            name,
            help=help,
            description=description,
            parents=[common],
            formatter_class=HelpFormatter,
            allow_abbrev=False,
        )

    serve = subcommand(
        "serve",
        help="run S3, SNS, SQS, IAM, STS, CloudWatch Logs (moto), Lambda (Python functions) and Rekognition Video "
        "face detection on one local port",
    )
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument(
        "--allow-origin",
        type=_origin,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web page origin that may call the endpoint (repeatable; none by default, * for any: docs/security.md)",
    )
    serve.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="job store and scratch space")
    serve.add_argument(
        "--max-open-jobs", type=_positive, default=EmulatorSettings.max_open_jobs, help="then LimitExceededException"
    )
    serve.add_argument(
        "--max-video-bytes",
        type=_positive,
        default=EmulatorSettings.max_video_bytes,
        help="then VideoTooLargeException",
    )
    serve.add_argument(
        "--sample-interval-ms",
        type=_sample_interval,
        default=EmulatorSettings.sample_interval_ms,
        help="face detection samples the frame on screen every this many ms from the start, as Rekognition Video "
        "does (default %(default)s, the service's cadence in AWS's published outputs); timestamps are the sampled "
        "frame's start, rounded down to the millisecond (docs/local-endpoint.md)",
    )
    serve.add_argument("--workers", type=_positive, default=EmulatorSettings.workers, help="jobs processed at once")
    serve.add_argument(
        "--freeze-seconds",
        type=_positive,
        default=FREEZE_SECONDS,
        metavar="SECONDS",
        help="an interpreter frozen this long (a native library's deadlock) writes every thread's stack to the log "
        "and exits, so a supervisor or the next command can start it again (default %(default)g)",
    )
    serve.add_argument("--detector", default=EmulatorSettings.detector, help="'retinaface' or 'package.module:factory'")
    serve.add_argument(
        "--landmarks",
        choices=LANDMARK_MODELS,
        default=EmulatorSettings.landmarks,
        help=f"what Pose, EyesOpen, MouthOpen and Smile come from: {described_choices()}; docs/local-endpoint.md "
        "compares them (default %(default)s)",
    )
    serve.add_argument(
        "--ephemeral",
        action="store_true",
        help="keep S3, SNS, SQS, IAM, Lambda and the other services in memory only (by default they are saved "
        "under <data-dir>/state and restored by the next serve)",
    )

    for command, text in (
        ("deploy", "apply this project's Pulumi program to the endpoint and write the stack outputs"),
        ("destroy", "remove what deploy made"),
    ):
        sub = subcommand(command, help=text, description=text)
        _add_endpoint_option(sub)
        sub.add_argument(
            "--stack", type=_stack_name, default="local", help="its config is read from Pulumi.<stack>.yaml if present"
        )
        sub.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="deploy state lives here")
        sub.add_argument(
            "--outputs-file", type=Path, help="the stack outputs' file (default: DATA_DIR/outputs-STACK.json)"
        )
        sub.add_argument(
            "--engine",
            choices=("auto", "cli", "in-process"),
            default="auto",
            help="auto: the Pulumi CLI when it is installed, else in-process",
        )
        if command == "destroy":
            sub.add_argument(
                "--force", action="store_true", help="also delete the videos a bucket holds (in-process deployer)"
            )
    status = subcommand(
        "status",
        help="print what the endpoint holds: the stack's resources, buckets, queues, topics, functions, open jobs",
    )
    _add_endpoint_option(status)
    status.add_argument("--stack", type=_stack_name, default="local", help="the stack deploy made")
    status.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where deploy wrote the outputs")
    status.add_argument(
        "--outputs-file", type=Path, help="the stack outputs' file (default: DATA_DIR/outputs-STACK.json)"
    )
    layer = subcommand(
        "redactor-layer",
        help="publish the endpoint's stand-in for the redactor function's layer (redact: true) and print its "
        "ARN, the stack's redactLayerArn (docs/local-endpoint.md)",
    )
    _add_endpoint_option(layer)
    layer.add_argument(
        "--stack", type=_stack_name, default="local", help="the region is read from Pulumi.<stack>.yaml if present"
    )
    return parser


def _add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        type=_endpoint_url,
        default=os.environ.get("AWS_ENDPOINT_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"),
        help=f"the endpoint (default: $AWS_ENDPOINT_URL, else http://{DEFAULT_HOST}:{DEFAULT_PORT})",
    )


MAX_PORT = 65535
# After Ctrl-C or SIGTERM, a stop that has not ended within this many seconds ends the process hard.
STOP_GRACE_SECONDS = 8.0
# While it serves, the main thread beats every HEARTBEAT_SECONDS; an interpreter in which it cannot run
# for FREEZE_SECONDS (a thread holds Python's global lock for ever, as a native library's deadlock
# would) has every thread's stack written to stderr and ends: frozen, it could not act on a signal.
HEARTBEAT_SECONDS = 1.0
FREEZE_SECONDS = 30.0


@contextmanager
def _stop_signals() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Catch Ctrl-C and SIGTERM from here on; yields a function that blocks until one arrives, calling
    ``beat`` about every HEARTBEAT_SECONDS meanwhile. Ctrl-Z (SIGTSTP) still suspends the process,
    with the freeze watchdog (``beat``'s timer) off until it resumes.

    The kernel may hand a signal to any thread, and Python runs its handler only when the main thread
    next runs Python code: a main thread blocked on a lock (``threading.Event.wait``) can sleep through
    it while a job runs to its end. ``signal.set_wakeup_fd`` writes the signal's number into a socket
    whichever thread took it, and a read of that socket wakes the main thread at once.
    """
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno())
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in (*STOP_SIGNALS, signal.SIGTSTP)}

    def wait_for_stop(beat: Callable[[], None]) -> None:
        receiver.settimeout(HEARTBEAT_SECONDS)
        while True:
            beat()
            try:
                signum = receiver.recv(1)[0]
            except TimeoutError:
                continue
            if signum in STOP_SIGNALS:
                return
            if signum == signal.SIGTSTP:  # Ctrl-Z: suspended, the freeze watchdog must not count it
                faulthandler.cancel_dump_traceback_later()
                os.kill(os.getpid(), signal.SIGSTOP)  # returns once resumed (fg, SIGCONT); the loop beats again

    try:
        yield wait_for_stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        receiver.close()
        sender.close()


def _check_serve_args(args: argparse.Namespace) -> str | None:
    """What is wrong with serve's arguments, in one line, before anything starts; None if nothing."""
    try:
        check_detector(args.detector)
    except ValueError as error:
        return f"--detector: {error}"
    # every face's Pose needs the landmark model: without it every job would fail
    landmarks_problem = LANDMARK_MODELS[args.landmarks].problem()
    if landmarks_problem:
        return f"--landmarks {args.landmarks}: {landmarks_problem}"
    data_dir = args.data_dir
    if (in_the_way := _file_in_the_way(data_dir)) is not None:
        return _not_a_folder("--data-dir", data_dir, in_the_way)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        return f"cannot write to the folder {data_dir} ({error.strerror}); choose another --data-dir"
    return None


SERVE_LOCK = ".serve.lock"


def _locked(path: Path) -> IO[bytes] | None:
    """``path`` opened and exclusively ``flock``-ed (released when it is closed, or by the kernel however
    the process ends), or None while another process holds it; OSError if it cannot be opened."""
    file = path.open("ab")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file


def _hold_data_dir(data_dir: Path) -> IO[bytes] | str:
    """One endpoint per data folder: two would run each other's cut-off jobs again at start (a
    second run, a second notification) and each save its own S3/SNS/SQS state over the other's. An
    exclusive ``flock`` on DATA_DIR/.serve.lock, held while serving, released by the kernel however
    the process ends. The lock file held, or why the folder is taken."""
    try:
        lock = _locked(data_dir / SERVE_LOCK)
    except OSError as error:  # a folder of that name
        return f"cannot open {data_dir / SERVE_LOCK} ({error.strerror}): move it away, or choose another --data-dir"
    if lock is None:
        return (
            f"another endpoint is serving from {data_dir} (it holds {data_dir / SERVE_LOCK}): use that one, stop "
            "it first, or choose another --data-dir"
        )
    return lock


def serve(args: argparse.Namespace) -> int:
    problem = _check_serve_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    held = _hold_data_dir(args.data_dir)
    if isinstance(held, str):  # another endpoint's, or not a file
        print(f"error: {held}", file=sys.stderr)
        return 2
    with held:  # refused (a damaged store, a port in use): the folder is free again
        return _serve(args)  # which ends the process once it has served


def _serve(args: argparse.Namespace) -> int:
    set_aside_users_profile(os.environ)  # before any botocore session is made (moto's are made as it serves)
    emotion_problem = check_emotion_model()
    if emotion_problem:  # only FaceAttributes=ALL needs the model: its jobs fail, the rest work
        print(f"warning: FaceAttributes=ALL jobs will fail: {emotion_problem}", file=sys.stderr)
    settings = EmulatorSettings(
        data_dir=args.data_dir,
        max_open_jobs=args.max_open_jobs,
        max_video_bytes=args.max_video_bytes,
        sample_interval_ms=args.sample_interval_ms,
        workers=args.workers,
        detector=args.detector,
        landmarks=args.landmarks,
    )
    with _stop_signals() as wait_for_stop:
        try:
            endpoint = LocalEndpoint(settings, args.host, args.port, allow_origins=args.allow_origin)
        except sqlite3.DatabaseError as error:  # the job store: nothing is written over it
            advice = (
                "move it away, or choose another --data-dir"
                if type(error) is sqlite3.DatabaseError  # "file is not a database": damaged, or another file
                # OperationalError ("database is locked", "unable to open database file"): a healthy store, maybe
                else "check that it is a file you may write to and that no other program holds it, or choose "
                "another --data-dir"
            )
            print(f"error: cannot read the job store {args.data_dir / JOB_STORE} ({error}); {advice}", file=sys.stderr)
            return 2
        try:
            (endpoint if args.ephemeral else endpoint.keep_state()).start()
        except StateError as error:  # nothing is written over a state that cannot be read
            print(
                f"error: {error}; move {args.data_dir / 'state'} away, or choose another --data-dir (or --ephemeral)",
                file=sys.stderr,
            )
            return 2
        except OSError as error:
            endpoint.stop()
            option = "--host" if isinstance(error, socket.gaierror) else "--port"
            print(
                f"error: cannot listen on {args.host}:{args.port}: {error.strerror}; choose another {option}",
                file=sys.stderr,
            )
            return 2
        # Load and warm the detector now, so that the first job neither waits for it nor races.
        threading.Thread(target=endpoint.rekognition.warm_up, name="detector-warm-up", daemon=True).start()
        print(f"Local AWS endpoint ready at {endpoint.url} (data in {args.data_dir})", flush=True)
        try:
            wait_for_stop(lambda: faulthandler.dump_traceback_later(args.freeze_seconds, exit=True))
            # From here a stop that hangs (a job or a native library that does not let go) ends hard:
            # the jobs it cuts off run again at the next start.
            faulthandler.dump_traceback_later(STOP_GRACE_SECONDS, exit=True)
            endpoint.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()
    print("Local AWS endpoint stopped", flush=True)
    _leave_now()
    return 0  # not reached: for the type checker's and the reader's sake


def _leave_now() -> NoReturn:
    """End the process once the endpoint has stopped: everything is saved, and the interpreter's own
    shutdown (native libraries' exit-time destructors, such as a thread pool waiting for threads that
    are gone) could otherwise hang a process that has nothing left to do, with no watchdog armed."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _outputs_file(args: argparse.Namespace) -> Path:
    return args.outputs_file or args.data_dir / f"outputs-{args.stack}.json"


def _state_file(args: argparse.Namespace) -> Path:
    return args.data_dir / "deploy" / f"{args.stack}.json"


@contextmanager
def _one_at_a_time(args: argparse.Namespace) -> Iterator[None]:
    """One in-process deploy or destroy of a stack at a time: two at once would each create the
    resources, and the state would record one set (the other left behind, never destroyed). An
    exclusive ``flock`` on DATA_DIR/deploy/<stack>.lock, released by the kernel however the process ends."""
    lock_path = _state_file(args).with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = _locked(lock_path)
    if lock is None:
        raise StackBusy(
            f"another deploy or destroy of stack {args.stack} is running (it holds {lock_path}): wait for it "
            "to end, then run this again"
        )
    with lock:
        yield


def _in_process_context(args: argparse.Namespace) -> Context:
    from .deploy.program import stack_config

    return _context(args.endpoint, stack_config(PROJECT_DIR, args.stack)["aws:region"])


def _use_cli(args: argparse.Namespace) -> bool:
    if args.engine == "cli" and not cli_available():
        raise PulumiCliError("--engine cli: the pulumi command is not on PATH")
    return args.engine == "cli" or (args.engine == "auto" and cli_available())


def _context(endpoint: str, region: str) -> Context:
    from .deploy.handlers import Context

    config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=60)

    def client(service: str, region_name: str = region) -> Any:
        return local_client(service, endpoint, region_name, config)

    try:
        account_id = client("sts").get_caller_identity()["Account"]
    except BotoCoreError as error:
        raise EndpointUnreachable(
            f"no local endpoint answers at {endpoint} ({error}); start it with: {python_command('serve')}"
        ) from None
    except ResponseParserError:  # another kind of server holds the port: its reply is not AWS's
        raise EndpointUnreachable(
            f"{endpoint} answers, but not as an AWS endpoint (another program on that port?): start the local "
            f"endpoint with: {python_command('serve')}, and pass the URL it prints to --endpoint"
        ) from None
    return Context(client, region, account_id)


def _file_in_the_way(folder: Path) -> Path | None:
    """The file (not a folder) standing at ``folder`` or at one of its parents, if any: making the
    folder would fail with "File exists" or "Not a directory", which names neither it nor the fix."""
    return next((path for path in (folder, *folder.parents) if path.exists() and not path.is_dir()), None)


def _not_a_folder(option: str, folder: Path, in_the_way: Path) -> str:
    """What is wrong with ``option``'s folder when a file stands in its way, and what to do, in one line."""
    where = f"{option} {folder} is" if in_the_way == folder else f"{option} {folder}: {in_the_way} is"
    return f"{where} a file, not a folder; choose another {option}, or move the file away"


def _check_paths(args: argparse.Namespace, make_folders: bool) -> None:
    """Check (and for deploy, make) the folders the command writes to before anything else: a bad path
    then costs nothing, not a resource made whose state cannot be saved."""
    outputs_file = _outputs_file(args)
    if outputs_file.is_dir():
        raise BadPath(f"--outputs-file {outputs_file} is a folder; give a file name")
    for folder, option in ((_state_file(args).parent, "--data-dir"), (outputs_file.parent, "--outputs-file")):
        if (in_the_way := _file_in_the_way(folder)) is not None:
            raise BadPath(_not_a_folder(option, args.data_dir if option == "--data-dir" else outputs_file, in_the_way))
        try:
            if make_folders:  # written, not only checked: root passes every permission check, a read-only mount not
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", suffix=".partial"):
                    pass
        except OSError as error:
            raise BadPath(f"cannot use the folder {folder} ({error.strerror}); choose another {option}") from None


def deploy(args: argparse.Namespace) -> int:
    from .deploy import engine

    _check_paths(args, make_folders=True)
    outputs_file = _outputs_file(args)
    if _use_cli(args):
        outputs = PulumiCli(PROJECT_DIR, args.data_dir, args.stack).deploy(args.endpoint)
        engine.write_atomically(outputs_file, json.dumps(outputs, indent=2) + "\n")
    else:
        with _one_at_a_time(args):  # the outputs too: a destroy meanwhile would leave them naming nothing
            outputs, changes = engine.deploy(_in_process_context(args), PROJECT_DIR, args.stack, _state_file(args))
            engine.write_atomically(outputs_file, json.dumps(outputs, indent=2) + "\n")
        for change in changes:
            if change.action != "unchanged":
                print(f"  {change.action:9} {change.type} {change.name}")
        unchanged = sum(change.action == "unchanged" for change in changes)
        print(f"{len(changes) - unchanged} change(s), {unchanged} resource(s) unchanged (in-process deployer)")
    print(f"stack outputs written to {outputs_file}")
    return 0


def destroy(args: argparse.Namespace) -> int:
    from .deploy import engine

    _check_paths(args, make_folders=False)
    if _use_cli(args):
        if args.force:
            raise PulumiCliError(
                "--force is for the in-process deployer; with the Pulumi CLI, set the stack's forceDestroy "
                "config to true and deploy, then destroy"
            )
        cli = PulumiCli(PROJECT_DIR, args.data_dir, args.stack)
        if not cli.has_stack():  # a mistyped --stack or --data-dir, or destroyed already (Ctrl-C after it)
            print(
                f"nothing to destroy: no stack {args.stack} in {cli.backend} (deploy makes it there): check "
                "--stack and --data-dir"
            )
            return 0  # and the --outputs-file named is kept: it may be another stack's
        cli.destroy(_outputs_file(args))
        return 0
    # The check, the destroy and the outputs' removal under the lock a first deploy holds from the start
    # (not made for a mistyped --data-dir, so its folder is not left behind).
    with _one_at_a_time(args) if _state_file(args).parent.is_dir() else nullcontext():
        if not _state_file(args).exists():  # a mistyped --stack or --data-dir: not "0 resource(s) deleted"
            print(
                f"nothing to destroy: no deploy state at {_state_file(args)} (deploy writes it there): check "
                "--stack and --data-dir"
            )
            return 0  # and the --outputs-file named is kept: it may be another stack's
        changes = engine.destroy(
            _in_process_context(args), _state_file(args), force=args.force, outputs_path=_outputs_file(args)
        )
    print(f"{len(changes)} resource(s) deleted (in-process deployer)")
    return 0


def status(args: argparse.Namespace) -> int:
    region = os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    try:
        return EndpointStatus(args.endpoint, region).print_all(_outputs_file(args))
    except BrokenPipeError:  # standard output's reader stopped (| head): it has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere instead of failing
        os.close(devnull)
        return 0
    except UNREACHABLE as error:
        raise EndpointUnreachable(
            f"no local endpoint answers at {args.endpoint} ({error}); start it with: {python_command('serve')}"
        ) from None


def redactor_layer(args: argparse.Namespace) -> int:
    """The redactor's layer on the endpoint: a stand-in for PyAV, NumPy and Pillow, which the endpoint's
    Lambda runtime then takes from its own environment (the real layer is built for Lambda's Python)."""
    lam = _in_process_context(args).client("lambda")
    published = lam.publish_layer_version(
        LayerName=REDACTOR_LAYER_NAME,
        Description="the local endpoint's stand-in for " + ", ".join(REDACTOR_LAYER_PACKAGES),
        Content={"ZipFile": endpoint_packages_layer(REDACTOR_LAYER_PACKAGES)},
        CompatibleRuntimes=["python3.12"],
    )
    print(published["LayerVersionArn"])
    print(
        f"next: put redact: true and redactLayerArn: {published['LayerVersionArn']} under config in "
        f"Pulumi.{args.stack}.yaml (with autoProcess: true), then {python_command('deploy')}",
        file=sys.stderr,
    )
    return 0


def _request_ids(error: ClientError) -> str:
    """The ids AWS support asks for, as --debug prints them: botocore's ResponseMetadata.RequestId, else
    the header it came in, which botocore reads only for some protocols (an S3 HEAD's error has no body,
    and the local endpoint's S3 sends x-amzn-requestid, which botocore's S3 parser does not read); S3's
    host id too. The launcher's jobs.errors.request_id reads the same places (layering keeps them apart)."""
    metadata = error.response.get("ResponseMetadata", {})
    headers = metadata.get("HTTPHeaders", {})
    request_id = metadata.get("RequestId") or headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")
    host_id = metadata.get("HostId") or headers.get("x-amz-id-2")
    return f"AWS request id: {request_id or 'none in the response'}" + (f", host id: {host_id}" if host_id else "")


def _sigterm_as_ctrl_c() -> AbstractContextManager[None]:
    """SIGTERM (kill, a timeout, a supervisor) stops a command as Ctrl-C does, with its one line and
    exit code 130, instead of ending the process at once and silently: between a resource made and
    its record, or with a file half-written. The previous handler is back afterwards (main() may be
    called in a program of its own); serve puts its own in place meanwhile. Off the main thread, and
    where the previous handler was not set from Python, nothing changes (signals.handlers_replaced)."""
    return handlers_replaced((signal.SIGTERM,), signal.default_int_handler)  # raises KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    with _sigterm_as_ctrl_c():
        return _main(argv)


def _main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    commands = {
        "serve": serve,
        "deploy": deploy,
        "destroy": destroy,
        "status": status,
        "redactor-layer": redactor_layer,
    }
    command = commands[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        what = {
            "deploy": "what was made is recorded in the deploy state: run deploy again to finish, or destroy",
            "destroy": "what is left is recorded in the deploy state: run destroy again to finish",
        }.get(args.command, "stopped")
        print(f"\ninterrupted: {what}", file=sys.stderr)
        return 130
    except OSError as error:  # a file that cannot be written after the work was done (a read-only folder)
        if args.debug:
            traceback.print_exception(error)
        where = f" {error.filename}" if error.filename else ""
        print(
            f"error: cannot write{where}: {error.strerror or error}; choose a folder you may write to", file=sys.stderr
        )
        return 1
    except _reported_errors() as error:
        if args.debug:
            traceback.print_exception(error)
            if isinstance(error, ClientError):
                print(_request_ids(error), file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        return 1
