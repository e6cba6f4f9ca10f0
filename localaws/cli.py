"""``scripts/local.py``: run the local endpoint (``serve``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Optional, Sequence

from .endpoint import DEFAULT_HOST, DEFAULT_PORT, LocalEndpoint
from .rekognition.detector import DEFAULT_DETECTOR
from .rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS, EmulatorSettings

DEFAULT_DATA_DIR = Path(".local")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/local.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run S3, SNS, SQS, IAM, STS (moto) and Rekognition Video face detection on one local port",
    )
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="job store and scratch space")
    serve.add_argument("--max-open-jobs", type=_positive, default=20, help="then LimitExceededException")
    serve.add_argument("--max-video-bytes", type=_positive, default=10 * 1024**3, help="then VideoTooLargeException")
    serve.add_argument("--sample-interval-ms", type=_positive, default=DEFAULT_SAMPLE_INTERVAL_MS)
    serve.add_argument("--workers", type=_positive, default=1, help="jobs processed at once")
    serve.add_argument("--detector", default=DEFAULT_DETECTOR, help="'retinaface' or 'package.module:factory'")
    return parser


def serve(args: argparse.Namespace) -> int:
    settings = EmulatorSettings(
        data_dir=args.data_dir,
        max_open_jobs=args.max_open_jobs,
        max_video_bytes=args.max_video_bytes,
        sample_interval_ms=args.sample_interval_ms,
        workers=args.workers,
        detector=args.detector,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        endpoint = LocalEndpoint(settings, args.host, args.port).start()
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}; choose another --port", file=sys.stderr)
        return 2
    print(f"Local AWS endpoint ready at {endpoint.url} (data in {args.data_dir})", flush=True)
    stop.wait()
    endpoint.stop()
    print("Local AWS endpoint stopped", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return {"serve": serve}[args.command](args)
