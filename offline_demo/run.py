"""make demo: the whole flow offline, as a new user would run it.

Starts the local endpoint on a free port, deploys the stack into it, makes a short H.264 sample
video of a real face (scikit-image's astronaut portrait moving across the frame), runs the launcher
exactly as a user would (scripts/launch.py VIDEO --outputs FILE --report with AWS_ENDPOINT_URL
set), and draws the result: the launcher's HTML report, and a contact sheet and a timeline. The
endpoint is stopped at the end, on failure or on Ctrl-C alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from localaws.defaults import isolated_environment
from localaws.process import ROOT, EndpointProcess
from synthetic import make_video

from .pictures import render


def _run(step: str, command: list[str], env: dict[str, str]) -> None:
    print(f"\n== {step}\n$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, env=env, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: {step} failed (exit {result.returncode})")


def run_demo(output: Path, seconds: float) -> None:
    output.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    with (
        tempfile.TemporaryDirectory(prefix="faces-demo-") as scratch,
        EndpointProcess(Path(scratch), isolated=True, log_path=_fresh(output / "endpoint.log")) as endpoint,
    ):
        env = isolated_environment(os.environ, endpoint.url)  # offline whatever the shell and ~/.aws say
        print(f"== local endpoint at {endpoint.url} (AWS_ENDPOINT_URL), log in {endpoint.log_path}", flush=True)
        outputs = output / "stack-outputs.json"
        _run(
            "deploy the stack into it",
            [
                python,
                "scripts/local.py",
                "deploy",
                "--endpoint",
                endpoint.url,
                "--data-dir",
                scratch,
                "--outputs-file",
                str(outputs),
            ],
            env,
        )
        video = make_video(output / "sample.mp4", seconds=seconds).path
        print(f"\n== sample video: {video} ({seconds:g} s, 640x360, 30 fps, H.264, one real face)", flush=True)
        faces = output / "faces.json"
        _run(
            "run the launcher",
            [
                python,
                "scripts/launch.py",
                str(video),
                "--outputs",
                str(outputs),
                "--out",
                str(faces),
                "--report",
                "--overwrite",  # the demo's own files from a previous run
            ],
            env,
        )
    report = output / f"{video.name}.faces.html"  # the launcher writes it beside the results
    pictures = render(faces, video, output)
    print("\n== demo output")
    for path in [faces, report, *pictures, video, outputs, endpoint.log_path]:
        print(f"  {path}")
    print(f"\n== the report, to open in a browser: {report.resolve().as_uri()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/demo.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
        epilog="exit codes: 0 done, 1 a step failed (the line says which), 2 bad arguments, 130 interrupted",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "demo-output", help="folder for the demo's files (default: demo-output)"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the sample video (default: 6)")
    parser.add_argument("--debug", action="store_true", help="on an error, also print the traceback")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600:
        parser.error(f"--seconds must be more than 0 and at most 600, got {args.seconds:g}")
    try:
        run_demo(args.output, args.seconds)
    except KeyboardInterrupt:
        print("\ndemo interrupted; the local endpoint was stopped", file=sys.stderr)
        return 130
    except (OSError, RuntimeError) as error:  # RuntimeError: the endpoint did not start or stop (its log named)
        if args.debug:
            traceback.print_exception(error)
        print(f"demo: {_describe(error)}", file=sys.stderr)
        return 1
    return 0


def _fresh(log: Path) -> Path:
    """``log`` emptied of a previous demo's lines: the endpoint's log is kept in --output, not in the
    scratch folder, which is removed on the way out, so that the log a failure names can be read."""
    log.unlink(missing_ok=True)
    return log


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"cannot use {error.filename}: {error.strerror or error}; pick another --output"
    return str(error)
