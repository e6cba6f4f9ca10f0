"""The launcher's overhead, and its memory on a huge result.

1. Overhead: from the moment the emulator publishes a job's completion notification to the moment
   the result file is on disk, median over --jobs jobs. Side by side, on the same jobs, a baseline
   that waits the way AWS's published examples do: poll GetFaceDetection, sleep 5 s, poll again, then
   page the results into a file. A real job lasts minutes, so the baseline's first poll comes at a
   random moment of its 5-second cycle (uniform in [0, 5) s after the start).
2. Memory: the launcher (scripts/launch.py --attach, a separate process) fetching a result of
   1,000 faces and one of 100,000 faces (a detector plugged into the emulator returns 1,000 faces per
   frame); its peak RSS must not grow with the size of the result.

    .venv/bin/python bench/launcher_overhead.py [--jobs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "True")  # no progress bars in the figures; tqdm reads it on import

import numpy as np

from launcher.options import LaunchOptions
from launcher.single import Launch
from launcher.stack import StackOutputs
from localaws.defaults import DEFAULT_REGION as REGION
from localaws.deploy import engine
from localaws.deploy.handlers import Context
from localaws.endpoint import LocalEndpoint
from localaws.process import ROOT, client_environment
from localaws.rekognition.models import EmulatorSettings
from localaws.vision.face import DetectedFace
from synthetic import make_video

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_rekognition.type_defs import FaceDetectionTypeDef

BASELINE_SLEEP = 5.0


class ThousandFaces:
    """1,000 small faces in a 40 x 25 grid on every frame: a huge result from a short video."""

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        w, h = width / 40, height / 25
        return [
            DetectedFace(
                col * w,
                row * h,
                w,
                h,
                0.99,
                (
                    (col * w + w * 0.3, row * h + h * 0.4),
                    (col * w + w * 0.7, row * h + h * 0.4),
                    (col * w + w * 0.5, row * h + h * 0.6),
                    (col * w + w * 0.35, row * h + h * 0.8),
                    (col * w + w * 0.65, row * h + h * 0.8),
                ),
            )
            for row in range(25)
            for col in range(40)
        ]


# Runs scripts/launch.py (``python -c MEASURED PEAK_FILE scripts/launch.py ARGS...``), then writes the
# process's peak resident set (VmHWM, KiB) to PEAK_FILE. VmHWM is the peak of the launcher's own
# process image (getrusage's ru_maxrss would also count this big benchmark process, from before the
# child's exec).
MEASURED = (
    "import atexit, runpy, sys\n"
    "sys.argv.pop(0)  # -c\n"
    "peak = sys.argv.pop(0)\n"
    "def record():\n"
    "    with open('/proc/self/status') as s, open(peak, 'w') as out:\n"
    "        out.write(next(l for l in s if l.startswith('VmHWM')).split()[1])\n"
    "atexit.register(record)\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def deploy(endpoint: LocalEndpoint, folder: Path) -> dict:
    ctx = Context(endpoint.clients_in(REGION), REGION, "123456789012")
    outputs, _ = engine.deploy(ctx, ROOT, "bench", folder / "state.json", {"aws:region": REGION})
    (folder / "outputs.json").write_text(json.dumps(outputs))
    return outputs


def baseline_wait(rekognition: RekognitionClient, job_id: str, out: Path) -> None:
    """AWS's example: poll, sleep 5 s; then every page into a file."""
    time.sleep(random.uniform(0, BASELINE_SLEEP))
    while rekognition.get_face_detection(JobId=job_id, MaxResults=10)["JobStatus"] == "IN_PROGRESS":
        time.sleep(BASELINE_SLEEP)
    faces: list[FaceDetectionTypeDef] = []
    params: dict[str, Any] = {"JobId": job_id, "MaxResults": 1000}
    while True:
        page = rekognition.get_face_detection(**params)
        faces += page["Faces"]
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    out.write_text(json.dumps({"JobId": job_id, "Faces": faces}))


def measure_job(
    index: int, video: Path, outputs: StackOutputs, rekognition: RekognitionClient, folder: Path
) -> tuple[float, tuple[str, float]]:
    """Launch one job; the baseline waits for the same job beside it. Returns when the launcher's file
    was on disk, and (job ID, when the baseline's file was on disk)."""
    started = threading.Event()
    job: dict[str, str] = {}
    baseline_done: dict[str, float] = {}

    def report(line: str) -> None:
        if line.startswith("job "):  # "job <JobId> on s3://..."
            job["id"] = line.split()[1]
            started.set()

    def baseline() -> None:
        started.wait()
        baseline_wait(rekognition, job["id"], folder / f"baseline-{index}.json")
        baseline_done["at"] = time.perf_counter()

    thread = threading.Thread(target=baseline)
    thread.start()
    Launch(
        LaunchOptions(
            video=str(video),
            outputs=outputs,
            job_tag=f"bench-{index}-{time.time_ns()}",
            out=folder / f"launcher-{index}.json",
        ),
        report=report,
    ).run()
    launcher_done = time.perf_counter()
    thread.join()
    return launcher_done, (job["id"], baseline_done["at"])


def overhead(jobs: int, folder: Path) -> tuple[list[float], list[float]]:
    published: dict[str, float] = {}
    with LocalEndpoint(EmulatorSettings(data_dir=folder / "endpoint"), port=0) as endpoint:
        os.environ.update(client_environment(endpoint.url))
        backend = endpoint.rekognition
        notify = backend._notify

        def timed_notify(job_id: str) -> None:  # the moment the notification is published
            published[job_id] = time.perf_counter()
            notify(job_id)

        backend._notify = timed_notify  # type: ignore[method-assign]  # timing hook: wraps the real method
        outputs = StackOutputs.from_dict(deploy(endpoint, folder), "bench stack")
        video = make_video(folder / "clip.mp4", seconds=1.0, with_face=False).path
        rekognition = endpoint.client("rekognition", REGION)
        launcher_overheads, baseline_overheads = [], []
        for index in range(jobs):
            launched, baseline = measure_job(index, video, outputs, rekognition, folder)
            launcher_overheads.append(launched - published[baseline[0]])
            baseline_overheads.append(baseline[1] - published[baseline[0]])
            print(
                f"  job {index + 1:2}/{jobs}: launcher {launcher_overheads[-1] * 1000:6.1f} ms, "
                f"baseline {baseline_overheads[-1] * 1000:7.1f} ms",
                flush=True,
            )
    return launcher_overheads, baseline_overheads


def peak_rss_fetching(
    endpoint: LocalEndpoint, folder: Path, outputs_file: Path, seconds: float
) -> tuple[int, float, int]:
    """(faces, launcher's peak RSS in MiB, result file size in bytes) for a job on a clip this long."""
    video = make_video(folder / f"many-{seconds:g}.mp4", seconds=seconds, with_face=False).path
    s3 = endpoint.client("s3", REGION)
    bucket = json.loads(outputs_file.read_text())["bucketName"]
    s3.upload_file(str(video), bucket, video.name)
    rekognition = endpoint.client("rekognition", REGION)
    job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": bucket, "Name": video.name}})["JobId"]
    while rekognition.get_face_detection(JobId=job_id, MaxResults=1)["JobStatus"] == "IN_PROGRESS":
        time.sleep(0.2)
    out = folder / f"many-{seconds:g}.faces.json"
    peak_file = folder / f"many-{seconds:g}.peak"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED,
            str(peak_file),
            str(ROOT / "scripts" / "launch.py"),
            str(video),
            "--outputs",
            str(outputs_file),
            "--attach",
            job_id,
            "--out",
            str(out),
        ],
        env={**os.environ, **client_environment(endpoint.url)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    faces = len(json.loads(out.read_text())["Faces"])
    return faces, int(peak_file.read_text()) / 1024, out.stat().st_size


def memory(folder: Path) -> list[tuple[int, float, int]]:
    with LocalEndpoint(EmulatorSettings(data_dir=folder / "many"), port=0, detector=ThousandFaces()) as endpoint:
        deploy(endpoint, folder)
        outputs_file = folder / "outputs.json"
        return [peak_rss_fetching(endpoint, folder, outputs_file, seconds) for seconds in (0.2, 20.0)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print(f"overhead, notification published -> result file on disk, {args.jobs} jobs:")
        launcher, baseline = overhead(args.jobs, folder)
        rows = memory(folder)
    median_launcher, median_baseline = statistics.median(launcher), statistics.median(baseline)
    p90_launcher = sorted(launcher)[int(0.9 * len(launcher))]
    print(f"\nlauncher: median {median_launcher * 1000:.1f} ms (p90 {p90_launcher * 1000:.1f} ms)")
    print(f"baseline (poll, sleep {BASELINE_SLEEP:g} s): median {median_baseline * 1000:.1f} ms")
    print(f"the launcher is {median_baseline / median_launcher:.0f}x faster than the baseline")
    print("\nlauncher peak memory fetching a result (separate process, max RSS):")
    for faces, rss, size in rows:
        print(f"  {faces:7,} faces ({size / 1024**2:6.1f} MiB of JSON): {rss:6.1f} MiB")


if __name__ == "__main__":
    main()
