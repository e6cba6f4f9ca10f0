"""A burst of uploads into an auto-processing stack (autoProcess: true) on the local endpoint.

The stack is deployed with the in-process deployer into an endpoint limited to --max-open-jobs
open jobs; --videos short clips are uploaded at once under videos/; the clock runs from the
first upload until the last result object exists. Figures:

- time to the last result, against the ideal for the quota: one video's way from upload to result
  object alone (the median of 3, after a first, warming one), then the rest of the jobs' processing time
  (the emulator's own, from its job store) spread over the jobs that run at once (the quota, or the
  emulator's --workers if fewer). Above the ideal is the cost of S3 events, queues, Lambda polling,
  LimitExceeded backoffs and result writing.
- messages left in each dead-letter queue (target 0);
- jobs started per video (target exactly 1).

    .venv/bin/python bench/auto_process.py [--videos 100] [--max-open-jobs 20] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localaws.deploy import engine
from localaws.deploy.handlers import Context
from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from synthetic import make_video

ROOT = Path(__file__).resolve().parents[1]
REGION, ACCOUNT_ID = "us-east-1", "123456789012"
ALONE_RUNS = 3


def results_written(endpoint: LocalEndpoint, bucket: str) -> int:
    paginator = endpoint.client("s3").get_paginator("list_objects_v2")
    return sum(len(page.get("Contents", [])) for page in paginator.paginate(Bucket=bucket, Prefix="results/"))


def wait_for_results(endpoint: LocalEndpoint, bucket: str, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (written := results_written(endpoint, bucket)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {written} of {count} results after {timeout:g} s")
        time.sleep(0.1)
    return time.perf_counter()


def depth(endpoint: LocalEndpoint, queue_url: str) -> int:
    attributes = endpoint.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def jobs_per_video(endpoint: LocalEndpoint) -> Counter[str]:
    rows = endpoint.rekognition.store._query("SELECT request FROM jobs")  # a benchmark's audit
    return Counter(json.loads(request)["Video"]["S3Object"]["Name"] for (request,) in rows)


def processing_seconds(endpoint: LocalEndpoint, key: str) -> float:
    """The emulator's own time on the job of this video: start call to its end."""
    for request, created, finished in endpoint.rekognition.store._query(
        "SELECT request, created_ms, finished_ms FROM jobs"
    ):
        if json.loads(request)["Video"]["S3Object"]["Name"] == key:
            return (finished - created) / 1000
    raise SystemExit(f"no job on {key}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--max-open-jobs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="the emulator's jobs processed at once")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each clip")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = EmulatorSettings(folder / "endpoint", max_open_jobs=args.max_open_jobs, workers=args.workers)
        with LocalEndpoint(settings, port=0) as endpoint:
            ctx = Context(endpoint.clients_in(REGION), REGION, ACCOUNT_ID)
            config = {"aws:region": REGION, "rekognition-faces:autoProcess": "true"}
            config["rekognition-faces:forceDestroy"] = "true"
            outputs: dict[str, Any]
            outputs, _ = engine.deploy(ctx, ROOT, "bench", folder / "state.json", config)
            bucket, s3 = outputs["bucketName"], endpoint.client("s3")
            clip = make_video(folder / "clip.mp4", seconds=args.seconds).path.read_bytes()

            s3.put_object(Bucket=bucket, Key="videos/warm-up.mp4", Body=clip)  # loads the detector, starts workers
            wait_for_results(endpoint, bucket, 1, args.timeout)
            alone_runs, alone_jobs = [], []
            for run in range(ALONE_RUNS):  # the median of a few, on a shared machine
                started = time.perf_counter()
                s3.put_object(Bucket=bucket, Key=f"videos/alone-{run}.mp4", Body=clip)
                alone_runs.append(wait_for_results(endpoint, bucket, 2 + run, args.timeout) - started)
                alone_jobs.append(processing_seconds(endpoint, f"videos/alone-{run}.mp4"))
            one_video, per_job = statistics.median(alone_runs), statistics.median(alone_jobs)

            keys = [f"videos/burst/{index:04d}.mp4" for index in range(args.videos)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as uploads:
                list(uploads.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=clip), keys))
            uploaded = time.perf_counter() - started
            finished = wait_for_results(endpoint, bucket, args.videos + 1 + ALONE_RUNS, args.timeout) - started

            at_once = min(args.workers, args.max_open_jobs)
            ideal = one_video + per_job * (args.videos - 1) / at_once
            jobs = jobs_per_video(endpoint)
            per_video = Counter(jobs[key] for key in keys)
            sqs = endpoint.client("sqs")
            dead_letters = {
                url.rsplit("/", 1)[-1]: depth(endpoint, url)
                for url in sqs.list_queues()["QueueUrls"]
                if "dead-letter" in url
            }
            errors = [
                item["Key"]
                for item in s3.list_objects_v2(Bucket=bucket, Prefix="results/").get("Contents", [])
                if item["Key"].endswith(".error.json")
            ]
            engine.destroy(ctx, folder / "state.json")

    print(f"{args.videos} clips of {args.seconds:g} s, --max-open-jobs {args.max_open_jobs}, --workers {args.workers}")
    print(f"  one video alone: upload to result object {one_video:.2f} s, of which the job {per_job:.2f} s")
    print(f"  uploads of the burst: {uploaded:.2f} s")
    print(f"  time to the last result object: {finished:.1f} s; ideal {ideal:.1f} s ({finished / ideal:.2f}x)")
    print(f"  jobs started per video: {dict(sorted(per_video.items()))} (target: {{1: {args.videos}}})")
    print(f"  messages left in the dead-letter queues: {dead_letters} (target: 0 each)")
    print(f"  error results: {len(errors)}")


if __name__ == "__main__":
    main()
