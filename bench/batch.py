"""The batch form under the job quota: how close to the quota's ideal it runs, and its memory.

1. --videos (100) short videos under one s3:// prefix, through the local endpoint with the
   emulator's open-job limit at 20 (--max-open-jobs 20) and 20 workers, so that the quota, not the
   emulator, is what bounds the batch. A detector plugged into the emulator makes every job last
   --job-seconds (5 s), the way a real job lasts minutes whatever the launcher does. The batch is
   scripts/launch.py s3://bucket/prefix/ in a process of its own, with the default --max-jobs 20.
   From the emulator's own record of each job (start and end, in ms):
   - wall time against the ideal for the quota: the sum of the jobs' durations / 20;
   - the share of the time fewer jobs were open than could be (20, or the videos left if fewer), and
     the share of the slots' time left unused (a slot refilled 50 ms late counts 50 ms of one slot);
   - the median delay from a job's end to the next start (target under 50 ms); it includes the
     emulator's own handling of StartFaceDetection (the object read from S3, the topic, role and
     role policies from moto's state), printed beside it for reference;
   - the messages left in the dead-letter queue afterwards (target 0).
2. The batch process's peak memory (VmHWM) for a batch of 10 and of --memory-videos (1,000)
   videos, each one ledger entry (target: flat).

    .venv/bin/python bench/batch.py [--videos 100] [--job-seconds 5] [--memory-videos 1000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from launcher_overhead import MEASURED, deploy  # the same stack and peak memory, measured the same way

from launcher.batch.ledger import LEDGER_NAME
from localaws.defaults import DEFAULT_REGION as REGION
from localaws.endpoint import LocalEndpoint
from localaws.process import ROOT, client_environment
from localaws.rekognition.models import EmulatorSettings
from localaws.vision.face import DetectedFace
from rekognition_limits import MAX_OPEN_JOBS
from synthetic import make_video


class SlowJobs:
    """No faces, after ``seconds`` per sampled frame: a job that lasts as long as the test needs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        time.sleep(self.seconds)
        return []


def run_batch(endpoint: LocalEndpoint, folder: Path, uri: str, name: str) -> tuple[float, float, int]:
    """(wall seconds, peak MiB, exit code) of ``scripts/launch.py URI`` in its own process."""
    peak = folder / f"{name}.peak"
    command = [sys.executable, "-c", MEASURED, str(peak), str(ROOT / "scripts" / "launch.py"), uri]
    command += ["--outputs", str(folder / "outputs.json"), "--out-dir", str(folder / name)]
    env = dict(os.environ, **client_environment(endpoint.url), TQDM_DISABLE="True")
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout, result.stderr, file=sys.stderr)
    return wall, int(peak.read_text()) / 1024, result.returncode


def upload_copies(endpoint: LocalEndpoint, bucket: str, video: Path, prefix: str, count: int) -> str:
    """``count`` objects of the same bytes under a prefix: distinct keys, so distinct jobs."""
    s3 = endpoint.client("s3", REGION)
    body = video.read_bytes()
    for index in range(count):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/clip-{index:04}.mp4", Body=body)
    return f"s3://{bucket}/{prefix}/"


def job_times(endpoint: LocalEndpoint, out_dir: Path) -> list[tuple[int, int]]:
    """(start, end) in ms of every job of the batch, as the emulator recorded them."""
    with sqlite3.connect(out_dir / LEDGER_NAME) as ledger:
        job_ids = [row[0] for row in ledger.execute("SELECT job_id FROM videos WHERE job_id IS NOT NULL")]
    times = []
    for job_id in job_ids:
        job = endpoint.rekognition.store.get(job_id)
        assert job is not None and job.finished_ms is not None
        times.append((job.created_ms, job.finished_ms))
    return times


def quota_figures(times: list[tuple[int, int]], quota: int) -> dict[str, float]:
    """Ideal time, under-filled share and completion → next-start delays, from the jobs' intervals."""
    starts = sorted(start for start, _ in times)
    ends = sorted(end for _, end in times)
    span = ends[-1] - starts[0]
    events = sorted([(start, 1) for start in starts] + [(end, -1) for end in ends])
    underfilled, unused, capacity, open_jobs, ended, last = 0, 0, 0, 0, 0, starts[0]
    for at, step in events:
        could = min(quota, len(times) - ended)
        capacity += could * (at - last)
        if open_jobs < could:
            underfilled += at - last
            unused += (could - open_jobs) * (at - last)
        last = at
        open_jobs += step
        ended += step == -1
    delays = []
    for index, end in enumerate(ends):
        later = [start for start in starts if start >= end]
        if later and len(times) - index > quota:  # a video was waiting for this slot
            delays.append(later[0] - end)
    return {
        "ideal": sum(end - start for start, end in times) / quota / 1000,
        "span": span / 1000,
        "underfilled": underfilled / span,
        "unused": unused / capacity,
        "median_delay": statistics.median(delays) if delays else float("nan"),
        "p90_delay": sorted(delays)[int(0.9 * len(delays))] if delays else float("nan"),
    }


def start_latency(endpoint: LocalEndpoint, bucket: str, outputs: dict[str, str], prefix: str) -> float:
    """The emulator's median StartFaceDetection round trip, in ms, over 5 starts with nothing else running."""
    rekognition = endpoint.client("rekognition", REGION)
    channel = {"SNSTopicArn": outputs["topicArn"], "RoleArn": outputs["roleArn"]}
    times = []
    for index in range(5):
        started = time.perf_counter()
        rekognition.start_face_detection(
            Video={"S3Object": {"Bucket": bucket, "Name": f"{prefix}/clip-0000.mp4"}},
            NotificationChannel=channel,
            JobTag=f"latency-{index}",
        )
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def dead_letters(endpoint: LocalEndpoint, url: str) -> int:
    attributes = endpoint.client("sqs", REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--job-seconds", type=float, default=5.0)
    parser.add_argument("--memory-videos", type=int, default=1000)
    args = parser.parse_args()
    jobs = SlowJobs(args.job_seconds)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = EmulatorSettings(data_dir=folder / "endpoint", max_open_jobs=MAX_OPEN_JOBS, workers=MAX_OPEN_JOBS)
        with LocalEndpoint(settings, port=0, detector=jobs) as endpoint:
            outputs = deploy(endpoint, folder)
            video = make_video(folder / "clip.mp4", seconds=0.2, with_face=False).path  # one sampled frame
            uri = upload_copies(endpoint, outputs["bucketName"], video, "quota", args.videos)
            print(f"{args.videos} videos, jobs of {args.job_seconds:g} s, emulator --max-open-jobs {MAX_OPEN_JOBS}:")
            wall, _, code = run_batch(endpoint, folder, uri, "quota")
            figures = quota_figures(job_times(endpoint, folder / "quota"), MAX_OPEN_JOBS)
            print(f"  exit status {code}; the process's wall time {wall:.2f} s (Python start-up included)")
            print(
                f"  first start -> last end {figures['span']:.2f} s; ideal for the quota {figures['ideal']:.2f} s "
                f"({figures['span'] / figures['ideal']:.2f}x)"
            )
            print(f"  share of the time fewer jobs open than could be: {figures['underfilled']:.1%}")
            print(f"  share of the slots' time unused (slots x time): {figures['unused']:.1%}")
            print(
                f"  job end -> next start: median {figures['median_delay']:.0f} ms "
                f"(p90 {figures['p90_delay']:.0f} ms); target under 50 ms"
            )
            print(f"  messages left in the dead-letter queue: {dead_letters(endpoint, outputs['deadLetterQueueUrl'])}")
            latency = start_latency(endpoint, outputs["bucketName"], outputs, "quota")
            print(f"  for reference, the emulator's StartFaceDetection round trip: median {latency:.0f} ms")

            jobs.seconds = 0.0  # the memory runs need no long jobs
            print("batch process peak memory (VmHWM):")
            for count in (10, args.memory_videos):
                uri = upload_copies(endpoint, outputs["bucketName"], video, f"memory-{count}", count)
                wall, peak, code = run_batch(endpoint, folder, uri, f"memory-{count}")
                print(f"  {count:5,} videos (ledger entries): {peak:6.1f} MiB (exit status {code}, {wall:.1f} s)")


if __name__ == "__main__":
    main()
