"""Many single launchers on one stack's completion queue: what reaches the dead-letter queue.

For N in --launchers (5, 20, 50): N launcher processes (scripts/launch.py s3://..., each with
its own --job-tag, so N jobs) start at once against the local endpoint with the stack deployed in
it. Every job lasts --job-seconds (a detector plugged into the emulator sleeps), so the launchers
wait together and receive each other's completions. Printed for each N: the messages that reached the
dead-letter queue (target 0: every owner was there), the finished jobs' completions left on the
queue (target 0), how long after its job's end each launcher process ended (median and max), the CPU
time of the launchers and of the endpoint (this process), and the load average before and after (the
machine may be shared: wall-clock figures depend on it).

    .venv/bin/python bench/shared_queue.py [--launchers 5 20 50] [--job-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch import SlowJobs, dead_letters  # the same slow detector and queue count as the batch benchmark
from launcher_overhead import deploy

from launcher.jobs.notifications import parse_completion
from localaws.defaults import DEFAULT_REGION as REGION
from localaws.endpoint import LocalEndpoint
from localaws.process import ROOT, client_environment
from localaws.rekognition.models import EmulatorSettings
from synthetic import make_video


def run_launchers(endpoint: LocalEndpoint, folder: Path, uri: str, count: int) -> list[float]:
    """``count`` launcher processes at once; how long after its job's end each one ended (s)."""
    env = dict(os.environ, **client_environment(endpoint.url), TQDM_DISABLE="True")
    command = [sys.executable, str(ROOT / "scripts" / "launch.py"), uri, "--outputs", str(folder / "outputs.json")]
    tag = f"n{count}-{time.time_ns()}"
    processes = [
        subprocess.Popen(
            [*command, "--job-tag", f"{tag}-{index}", "--out", str(folder / f"{tag}-{index}.json")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(count)
    ]
    ended: dict[int, float] = {}
    while len(ended) < count:
        for index, process in enumerate(processes):
            if index not in ended and process.poll() is not None:
                ended[index] = time.time()
        time.sleep(0.05)
    late = []
    for index, process in enumerate(processes):
        if process.returncode != 0:
            print(f"  launcher {index} exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
            continue
        job_id = json.loads((folder / f"{tag}-{index}.json").read_text())["JobId"]
        job = endpoint.rekognition.store.get(job_id)
        assert job is not None and job.finished_ms is not None
        late.append(ended[index] - job.finished_ms / 1000)
    return late


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) so far of the ended launcher processes, and of this process (the endpoint)."""
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime, own.ru_utime + own.ru_stime


def finished_left(endpoint: LocalEndpoint, url: str) -> int:
    """Finished jobs' completions still on the queue: every message received once (held for a minute,
    so that none comes round twice), counted by job."""
    sqs = endpoint.client("sqs", REGION)
    found: set[str] = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        found.update(completion.job_id for message in messages if (completion := parse_completion(message["Body"])))
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--launchers", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--job-seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        most = max(args.launchers)
        settings = EmulatorSettings(data_dir=folder / "endpoint", max_open_jobs=most, workers=most)
        with LocalEndpoint(settings, port=0, detector=SlowJobs(args.job_seconds)) as endpoint:
            outputs = deploy(endpoint, folder)
            video = make_video(folder / "clip.mp4", seconds=0.2, with_face=False).path  # one sampled frame
            s3 = endpoint.client("s3", REGION)
            s3.put_object(Bucket=outputs["bucketName"], Key="shared/clip.mp4", Body=video.read_bytes())
            uri = f"s3://{outputs['bucketName']}/shared/clip.mp4"
            print(f"single launchers at once on one queue, jobs of {args.job_seconds:g} s:")
            for count in args.launchers:
                before = dead_letters(endpoint, outputs["deadLetterQueueUrl"])
                load, cpu = os.getloadavg()[0], cpu_seconds()
                late = run_launchers(endpoint, folder, uri, count)
                launchers_cpu, endpoint_cpu = (now - then for now, then in zip(cpu_seconds(), cpu, strict=True))
                dead = dead_letters(endpoint, outputs["deadLetterQueueUrl"]) - before
                left = finished_left(endpoint, outputs["queueUrl"])
                print(
                    f"  {count:3} launchers: dead letters {dead}, finished jobs' completions left {left}; "
                    f"ended after their job: median {statistics.median(late):.1f} s, max {max(late):.1f} s; "
                    f"CPU: launchers {launchers_cpu:.1f} s, endpoint {endpoint_cpu:.1f} s; "
                    f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
                )


if __name__ == "__main__":
    main()
