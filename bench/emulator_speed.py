"""How fast the Rekognition Video emulator processes a video, and how well it finds the face.

Through the real endpoint, as a client sees it: upload a synthetic 640x360, 30 fps H.264 clip,
StartFaceDetection, poll until SUCCEEDED. Speed is the video's length over the time from the start
call to the job's end (a multiple of real time). Recall is the share of sampled frames where the
face is found with IoU >= 0.5 against its known position; false positives are detections that match
no face, on the face clip and on a face-free clip.

    .venv/bin/python bench/emulator_speed.py [--seconds 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from localaws.synthetic import Box, SyntheticVideo, make_video


def run_job(endpoint: LocalEndpoint, bucket: str, video: SyntheticVideo) -> tuple[float, list[dict]]:
    key = video.path.name
    endpoint.client("s3").upload_file(str(video.path), bucket, key)
    rekognition = endpoint.client("rekognition")
    started = time.perf_counter()
    job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": bucket, "Name": key}})["JobId"]
    while (page := rekognition.get_face_detection(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    assert page["JobStatus"] == "SUCCEEDED", page.get("StatusMessage")
    faces = page["Faces"]
    while page.get("NextToken"):
        page = rekognition.get_face_detection(JobId=job_id, NextToken=page["NextToken"])
        faces += page["Faces"]
    return elapsed, faces


def score(video: SyntheticVideo, faces: list[dict], sample_interval_ms: int) -> tuple[int, int, int]:
    """(frames where the face was found, sampled frames, false positives)."""
    samples = int(-(-video.duration_ms // sample_interval_ms))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the clip")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        face = make_video(folder / "face.mp4", seconds=args.seconds)
        no_face = make_video(folder / "no-face.mp4", seconds=args.seconds, with_face=False)
        settings = EmulatorSettings(data_dir=folder / "endpoint")
        with LocalEndpoint(settings, port=0) as endpoint:
            endpoint.client("s3").create_bucket(Bucket="bench")
            run_job(endpoint, "bench", make_video(folder / "warm.mp4", seconds=0.5))  # load the model
            timings: list[float] = []
            faces: list[dict] = []
            for _ in range(args.repeat):
                elapsed, faces = run_job(endpoint, "bench", face)
                timings.append(elapsed)
            _, no_face_detections = run_job(endpoint, "bench", no_face)
    found, samples, false_positives = score(face, faces, settings.sample_interval_ms)
    _, _, free_false_positives = score(no_face, no_face_detections, settings.sample_interval_ms)
    median = statistics.median(timings)
    print(f"clip: 640x360, 30 fps, {args.seconds:g} s, H.264; sampling every {settings.sample_interval_ms} ms")
    print(f"processing: median {median:.2f} s over {args.repeat} runs = {args.seconds / median:.1f}x real time")
    print(f"recall: {found}/{samples} sampled frames ({found / samples:.1%}) with IoU >= 0.5")
    print(f"false positives: {false_positives} on the face clip, {free_false_positives} on the face-free clip")


if __name__ == "__main__":
    main()
