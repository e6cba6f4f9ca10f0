"""How fast the Rekognition Video emulator processes a video, and how well it finds the face, at
640x360, 1280x720 and 1920x1080 (30 fps H.264 each) side by side.

Through the real endpoint, as a client sees it: upload a synthetic clip of a real face moving across
the frame, StartFaceDetection, poll until SUCCEEDED. Speed is the video's length over the time from
the start call to the job's end as the emulator records it (a multiple of real time), the median of
--repeat runs, with the endpoint's CPU time over the same runs beside it (the machine may be
shared: CPU time is less noisy than wall time). The face is twice the service's minimum face at
each resolution (80 px wide at 1920x1080), so every clip asks the same of the detector. Recall is
the share of sampled frames where the face is found with IoU >= 0.5 against its known position;
false positives are detections that match no face, on the face clip, a face-free clip and a clip of
non-human faces (a drawn face and a cat).

The first job on a fresh endpoint is measured apart, on a scripts/local.py serve process of its
own: started the moment the endpoint says it is ready (while it loads and warms the detector in the
background), and started once the detector is warm (its log says "face detector ready").

Then one serial pass per resolution, in-process, times each sampled frame's stages: decoding (on
the emulator's decoding thread), then, on its detecting threads, the conversion to RGB and the
detector's downscaled copy, the detector, and the rest (the minimum size, the second check that a
face is human, FaceDetail).

    .venv/bin/python bench/emulator_speed.py [--seconds 10] [--repeat 3] [--first-job-only] [--landmarks mesh]
    .venv/bin/python bench/emulator_speed.py --per-face    # each landmark model's CPU per face
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localaws.clients import local_client
from localaws.endpoint import LocalEndpoint
from localaws.process import EndpointProcess
from localaws.rekognition.faces import face_detail
from localaws.rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS, EmulatorSettings, service_rules
from localaws.vision.detector import DETECTION_SHORT_SIDE, RetinaFaceDetector, minimum_face_px
from localaws.vision.frames import decode_samples
from localaws.vision.landmark_models import DEFAULT_LANDMARKS, LANDMARK_MODELS, LandmarkModel
from synthetic import Box, SyntheticVideo, make_non_human_video, make_video

RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080))
FPS = 30
# The client runs in the endpoint's process: polling every few milliseconds would take CPU from the
# job it measures. So it polls gently and the job's own end time (stored when it finishes) ends the
# measurement.
POLL_SECONDS = 0.1
# Per sampled frame: the decoding thread's work, then the detecting threads' (RGB and the downscaled
# copy, the network, and the rest: the minimum size, the check that a face is human, FaceDetail).
STAGES = ("decode", "RGB and downscale", "detect", "rest")


WARM_LOG_LINE = "face detector ready"
WARM_UP_DEADLINE_SECONDS = 120.0  # the warm-up takes 2-3 s; a model that cannot load never logs the line


def wait_until_warm(endpoint: EndpointProcess) -> None:
    """Returns when the endpoint's log says its detector is warm; a warm-up that failed (the endpoint
    logs an ERROR line and keeps serving) or never ends stops the benchmark with its reason."""
    deadline = time.monotonic() + WARM_UP_DEADLINE_SECONDS
    while WARM_LOG_LINE not in (log := endpoint.log_path.read_text()):
        errors = [line for line in log.splitlines() if " ERROR " in line]
        if errors:
            raise SystemExit(f"the endpoint's models did not load: {errors[0]} (log: {endpoint.log_path})")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the endpoint's detector was not warm in {WARM_UP_DEADLINE_SECONDS:.0f} s (log: {endpoint.log_path})"
            )
        time.sleep(0.1)


@dataclass
class Result:
    label: str
    speed: float  # x real time, median
    first_job: tuple[float, float]  # (x real time, CPU s per video s): a fresh endpoint's first job, at once
    first_job_warm: tuple[float, float]  # the same, started once the endpoint is warm
    cpu_per_second: float  # endpoint CPU seconds per second of video, median
    found: int
    samples: int
    false_positives: dict[str, int]
    stages_ms: dict[str, float]  # per sampled frame: CPU ms of each of STAGES


def run_job(endpoint: LocalEndpoint, bucket: str, video: SyntheticVideo) -> tuple[float, float, list[Any]]:
    """(wall seconds, process CPU seconds, faces) of one job through the endpoint."""
    key = video.path.name
    endpoint.client("s3").upload_file(str(video.path), bucket, key)
    rekognition = endpoint.client("rekognition")
    started, cpu_started = time.time(), time.process_time()
    job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": bucket, "Name": key}})["JobId"]
    while (page := rekognition.get_face_detection(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        time.sleep(POLL_SECONDS)
    cpu = time.process_time() - cpu_started  # the polling's idle wait after the end costs no CPU
    job = endpoint.rekognition.store.get(job_id)
    assert job is not None and job.finished_ms is not None
    elapsed = job.finished_ms / 1000 - started
    assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
    faces = list(page["Faces"])
    while page.get("NextToken"):
        page = rekognition.get_face_detection(JobId=job_id, NextToken=page["NextToken"])
        faces += page["Faces"]
    return elapsed, cpu, faces


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_job(
    folder: Path, video: SyntheticVideo, after_warm_up: bool, landmarks: str = DEFAULT_LANDMARKS
) -> tuple[float, float]:
    """(x real time, endpoint CPU s per video s) of the first job of a fresh endpoint process, from
    the start call to SUCCEEDED; its CPU time includes whatever of the warm-up is still running."""
    with EndpointProcess(folder, extra_args=("--landmarks", landmarks)) as endpoint:
        if after_warm_up:
            wait_until_warm(endpoint)
        s3, rekognition = local_client("s3", endpoint.url), local_client("rekognition", endpoint.url)
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(video.path), "bench", video.path.name)
        started, cpu_started = time.monotonic(), process_cpu_seconds(endpoint.pid)
        job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": "bench", "Name": video.path.name}})[
            "JobId"
        ]
        while (page := rekognition.get_face_detection(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
            time.sleep(POLL_SECONDS)
        elapsed, cpu = time.monotonic() - started, process_cpu_seconds(endpoint.pid) - cpu_started
    assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
    seconds = video.duration_ms / 1000
    return seconds / elapsed, cpu / seconds


def score(video: SyntheticVideo, faces: list[Any]) -> tuple[int, int, int]:
    """(frames where the face was found, sampled frames, false positives)."""
    samples = int(-(-video.duration_ms // DEFAULT_SAMPLE_INTERVAL_MS))
    found, false_positives = set(), 0
    for face in faces:
        box = face["Face"]["BoundingBox"]
        detected = Box(
            box["Left"] * video.width,
            box["Top"] * video.height,
            box["Width"] * video.width,
            box["Height"] * video.height,
        )
        truth = video.face_at(face["Timestamp"])
        if truth is not None and detected.iou(truth) >= 0.5:
            found.add(face["Timestamp"])
        else:
            false_positives += 1
    return len(found), samples if video.with_face else 0, false_positives


def stage_times(video: SyntheticVideo, detector: RetinaFaceDetector, landmarks: str) -> dict[str, float]:
    """CPU ms per sampled frame of each stage, in one serial pass (nothing else runs meanwhile)."""
    totals = dict.fromkeys(STAGES, 0.0)
    frames = decode_samples(video.path, DEFAULT_SAMPLE_INTERVAL_MS)
    first = next(decode_samples(video.path, DEFAULT_SAMPLE_INTERVAL_MS)).sampled(DETECTION_SHORT_SIDE)
    # Not per-frame costs: compiling the network for this frame size, and loading the human check's and
    # the landmark model's files on their first face (a second or more, which 20 samples would carry).
    for face in service_rules(detector, first, detector.detect(first.detection_rgb)):
        face_detail(first.rgb, face, landmarks=landmarks)
    count = 0
    while True:
        clock = time.process_time()
        frame = next(frames, None)
        totals["decode"] += time.process_time() - clock
        if frame is None:
            break
        count += 1
        clock = time.process_time()
        sample = frame.sampled(DETECTION_SHORT_SIDE)
        totals["RGB and downscale"] += time.process_time() - clock
        clock = time.process_time()
        found = detector.detect(sample.detection_rgb)
        totals["detect"] += time.process_time() - clock
        clock = time.process_time()
        for face in service_rules(detector, sample, found):
            face_detail(sample.rgb, face, landmarks=landmarks)
        totals["rest"] += time.process_time() - clock
    return {stage: 1000 * total / max(1, count) for stage, total in totals.items()}


def measure(folder: Path, width: int, height: int, seconds: float, repeat: int, landmarks: str) -> Result:
    label = f"{width}x{height}"
    face_width = 2 * minimum_face_px(width, height)
    face = make_video(folder / f"face-{label}.mp4", seconds=seconds, width=width, height=height, face_width=face_width)
    no_face = make_video(folder / f"no-face-{label}.mp4", seconds=2, width=width, height=height, with_face=False)
    non_human = make_non_human_video(folder / f"non-human-{label}.mp4", seconds=2, width=width, height=height)
    settings = EmulatorSettings(data_dir=folder / f"endpoint-{label}", landmarks=landmarks)
    with LocalEndpoint(settings, port=0) as endpoint:
        endpoint.client("s3").create_bucket(Bucket="bench")
        run_job(endpoint, "bench", make_video(folder / f"warm-{label}.mp4", seconds=0.5))  # load the models
        runs = [run_job(endpoint, "bench", face) for _ in range(repeat)]
        _, _, no_face_detections = run_job(endpoint, "bench", no_face)
        _, _, non_human_detections = run_job(endpoint, "bench", non_human)
    first_at_once = first_job(folder / f"fresh-{label}", face, False, landmarks)
    first_warm = first_job(folder / f"fresh-warm-{label}", face, True, landmarks)
    found, samples, face_false = score(face, runs[-1][2])
    stages = stage_times(face, RetinaFaceDetector(), landmarks)
    return Result(
        label=label,
        speed=seconds / statistics.median(elapsed for elapsed, _, _ in runs),
        first_job=first_at_once,
        first_job_warm=first_warm,
        cpu_per_second=statistics.median(cpu for _, cpu, _ in runs) / seconds,
        found=found,
        samples=samples,
        false_positives={
            "face clip": face_false,
            "face-free clip": score(no_face, no_face_detections)[2],
            "non-human clip": score(non_human, non_human_detections)[2],
        },
        stages_ms=stages,
    )


def first_jobs_only(seconds: float, landmarks: str) -> None:
    print(f"the first job of a fresh serve: {seconds:g} s clips, a face twice the minimum size")
    print(f"{'':34}{'x real time':>14}{'CPU s/video s':>16}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for width, height in RESOLUTIONS:
            label = f"{width}x{height}"
            face_width = 2 * minimum_face_px(width, height)
            video = make_video(
                folder / f"face-{label}.mp4", seconds=seconds, width=width, height=height, face_width=face_width
            )
            for after_warm_up, when in ((False, "at once"), (True, "warm")):
                speed, cpu = first_job(folder / f"{label}-{when}", video, after_warm_up, landmarks)
                print(f"{label + ', ' + when:34}{speed:>13.1f}x{cpu:>16.2f}")


def per_face_costs(repeat: int = 300) -> None:
    """CPU ms per face of each landmark model's work on scikit-image's astronaut (512x512), the models
    alternated in rounds of 100: the points and the pose fit (every face), and the mesh's eye model
    (``FaceAttributes=ALL`` only)."""
    import numpy as np
    from skimage import data

    from localaws.vision.face_mesh import face_mesh, with_eyes

    frame = np.ascontiguousarray(data.astronaut())
    (face,) = RetinaFaceDetector().detect(frame)
    points = face_mesh(frame, face)

    def points_and_pose(model: LandmarkModel) -> Callable[[], Any]:
        return lambda: model.pose(model.points(frame, face), 512, 512)

    steps = {f"{name}: points and pose": points_and_pose(model) for name, model in LANDMARK_MODELS.items()}
    steps["mesh: eye model (ALL only)"] = lambda: with_eyes(frame, points)
    totals = dict.fromkeys(steps, 0.0)
    for step in steps.values():
        step()  # loads the model
    for _ in range(max(1, repeat // 100)):
        for name, step in steps.items():
            clock = time.process_time()
            for _ in range(100):
                step()
            totals[name] += time.process_time() - clock
    for name, total in totals.items():
        print(f"{name:34}{1000 * total / (100 * max(1, repeat // 100)):>8.2f} ms CPU per face")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each face clip")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--first-job-only", action="store_true", help="only the first job of a fresh endpoint, at each resolution"
    )
    parser.add_argument(
        "--landmarks",
        choices=LANDMARK_MODELS,
        default=DEFAULT_LANDMARKS,
        help="what Pose comes from (serve --landmarks; default %(default)s)",
    )
    parser.add_argument(
        "--per-face", action="store_true", help="only each landmark model's CPU time per face, on one photograph"
    )
    args = parser.parse_args()
    if args.per_face:
        per_face_costs()
        return
    if args.first_job_only:
        first_jobs_only(args.seconds, args.landmarks)
        return
    with tempfile.TemporaryDirectory() as scratch:
        results = [measure(Path(scratch), w, h, args.seconds, args.repeat, args.landmarks) for w, h in RESOLUTIONS]
    print(
        f"clips: {args.seconds:g} s, {FPS} fps, H.264, a face twice the minimum size; "
        f"one sample every {DEFAULT_SAMPLE_INTERVAL_MS} ms; landmarks {args.landmarks}"
    )
    print(f"RetinaFace computes in {RetinaFaceDetector().precision} on this CPU")
    print(f"{'':34}" + "".join(f"{result.label:>14}" for result in results))
    rows = [
        ("x real time (median wall)", [f"{r.speed:.1f}x" for r in results]),
        ("first job of a fresh serve, at once", [f"{r.first_job[0]:.1f}x" for r in results]),
        ("  its endpoint CPU s per video s", [f"{r.first_job[1]:.2f}" for r in results]),
        ("first job of a fresh serve, warm", [f"{r.first_job_warm[0]:.1f}x" for r in results]),
        ("  its endpoint CPU s per video s", [f"{r.first_job_warm[1]:.2f}" for r in results]),
        ("endpoint CPU s per video s", [f"{r.cpu_per_second:.2f}" for r in results]),
        ("recall (IoU >= 0.5)", [f"{r.found}/{r.samples}" for r in results]),
        *(
            (f"false positives, {clip}", [str(r.false_positives[clip]) for r in results])
            for clip in ("face clip", "face-free clip", "non-human clip")
        ),
        *((f"CPU ms per sample: {stage}", [f"{r.stages_ms[stage]:.1f}" for r in results]) for stage in STAGES),
    ]
    for name, values in rows:
        print(f"{name:34}" + "".join(f"{value:>14}" for value in values))


if __name__ == "__main__":
    main()
