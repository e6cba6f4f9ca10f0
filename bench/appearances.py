"""Grouping faces into appearances: speed on 100,000 detections, and accuracy on videos with known tracks.

1. Speed: the grouping (``launcher.jobs.appearances``) on synthetic detections: faces wandering, entering
   and leaving, 20 on screen at a time, at 25,000, 50,000 and 100,000 detections (time per detection
   must stay flat: linear), and a crowd of 1,000 faces per frame (100,000 detections). Then the whole
   results writer (JSON with Appearances) on 100,000 faces, with its peak Python memory (tracemalloc).
2. Accuracy: synthetic H.264 videos (640x360, 30 fps) in which copies of a real face (scikit-image's
   astronaut, at several sizes, some mirrored) follow known paths: two faces crossing, three faces
   crossing, a face leaving and coming back, faces hidden for short moments. Each video goes through
   the local endpoint's Rekognition emulator (the real detector, 200 ms sampling) and the launcher's
   results writer. Truth: one appearance per stay of a face on screen (a short occlusion does not end
   it; leaving the frame does). Each found appearance is matched to a face by box overlap (IoU >= 0.3
   with the face's known box at each timestamp); reported: appearances found vs true, true
   appearances found as exactly one appearance, identity purity (share of an appearance's detections
   that belong to its face), and the error of start and end timestamps.

    .venv/bin/python bench/appearances.py [--skip-accuracy] [--skip-speed]
"""

from __future__ import annotations

import argparse
import gc
import io
import itertools
import math
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "True")

import av
import numpy as np

from launcher.jobs.appearances import Appearance, Detection, group_appearances
from launcher.jobs.detection import FaceDetection
from launcher.jobs.formats import write_document
from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from synthetic import ASTRONAUT_FACE, HEAD_CROP, Box

STEP_MS = 200  # the emulator's default sampling

# -- 1. speed ---------------------------------------------------------------------------------------


def wandering_faces(detections: int, on_screen: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """GetFaceDetection ``Faces`` entries: ``on_screen`` faces at a time, each drifting for a while,
    then leaving and being replaced by a new one; 5% of detections missed."""
    rng = random.Random(seed)

    def new_face() -> list[float]:  # x, y, vx, vy, size, frames left
        size = rng.uniform(0.03, 0.15)
        return [rng.random(), rng.random(), rng.gauss(0, 0.01), rng.gauss(0, 0.01), size, rng.randint(10, 200)]

    faces = [new_face() for _ in range(on_screen)]
    made = frame = 0
    while True:
        for index, face in enumerate(faces):
            x, y, vx, vy, size, left = face
            if left <= 0:
                faces[index] = face = new_face()
                x, y, vx, vy, size, left = face
            face[:] = [x + vx, y + vy, vx, vy, size, left - 1]
            if rng.random() < 0.05:  # a missed detection
                continue
            box = {"Width": size, "Height": size * 16 / 9, "Left": x, "Top": y}
            yield {"Timestamp": frame * STEP_MS, "Face": {"BoundingBox": box, "Confidence": 99.0}}
            made += 1
            if made == detections:
                return
        frame += 1


def crowd(faces_per_frame: int, frames: int) -> list[dict[str, Any]]:
    columns = int(math.sqrt(faces_per_frame * 16 / 9))
    rows = -(-faces_per_frame // columns)
    width, height = 1 / columns, 1 / rows
    return [
        {
            "Timestamp": frame * STEP_MS,
            "Face": {
                "BoundingBox": {"Width": width * 0.8, "Height": height * 0.8, "Left": c * width, "Top": r * height}
            },
        }
        for frame in range(frames)
        for r in range(rows)
        for c in range(columns)
        if r * columns + c < faces_per_frame
    ]


def time_grouping(entries: list[dict[str, Any]], repeat: int = 3) -> tuple[float, int]:
    """(best seconds for Detection.from_face + grouping, appearances)."""
    best, appearances = math.inf, 0
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        grouping = group_appearances(Detection.from_face(entry) for entry in entries)
        best = min(best, time.perf_counter() - started)
        appearances = len(grouping.appearances)
    return best, appearances


def pages_of(entries: Iterator[dict[str, Any]], size: int = 1000) -> Iterator[dict[str, Any]]:
    """GetFaceDetection pages of ``size`` faces, made as they are read."""
    while page := list(itertools.islice(entries, size)):
        yield {"JobStatus": "SUCCEEDED", "JobId": "bench", "Faces": page}


def write_to_nowhere(pages: Iterator[dict[str, Any]]) -> int:
    """Characters of the JSON results document (with Appearances) written for these pages."""
    with open(os.devnull, "w") as sink:
        counting = _CountingStream(sink)
        write_document(counting, pages)  # type: ignore[arg-type]  # a text stream, as far as writing goes
    return counting.written


def speed() -> None:
    print("== grouping speed (best of 3; this machine is shared, figures are noisy)")
    per_detection = {}
    for count in (25_000, 50_000, 100_000):
        seconds, appearances = time_grouping(list(wandering_faces(count, on_screen=20)))
        per_detection[count] = seconds / count
        print(
            f"  {count:>7,} detections, 20 faces on screen: {seconds:6.2f} s, "
            f"{seconds / count * 1e6:5.1f} µs per detection, {appearances:,} appearances"
        )
    print(
        f"  time per detection, 100,000 over 25,000: {per_detection[100_000] / per_detection[25_000]:.2f}x (1 = linear)"
    )
    entries = crowd(1000, 100)
    seconds, appearances = time_grouping(entries)
    print(
        f"  {len(entries):>7,} detections, 1,000 faces per frame: {seconds:6.2f} s, "
        f"{seconds / len(entries) * 1e6:5.1f} µs per detection, {appearances:,} appearances"
    )
    for count in (10_000, 100_000):
        gc.collect()
        started = time.perf_counter()
        written = write_to_nowhere(pages_of(wandering_faces(count, on_screen=20)))
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second run: tracing slows it down ten times
        write_to_nowhere(pages_of(wandering_faces(count, on_screen=20)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  results writer, {count:,} faces in pages of 1,000 to JSON with Appearances: {seconds:.2f} s, "
            f"{written / 2**20:.1f} MiB written, peak Python memory {peak / 2**20:.1f} MiB"
        )


class _CountingStream(io.TextIOBase):
    def __init__(self, sink: Any) -> None:
        self.sink, self.written = sink, 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return self.sink.write(text)


# -- 2. accuracy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """A face following ``path`` (keyframes: seconds, x, y of the head's top-left, in pixels) while
    ``on_screen`` (intervals in seconds); drawn in ``depth`` order (higher in front)."""

    name: str
    path: tuple[tuple[float, float, float], ...]
    scale: float = 1.0
    mirrored: bool = False
    depth: int = 0

    def position(self, seconds: float) -> tuple[float, float]:
        keys = self.path
        if seconds <= keys[0][0]:
            return keys[0][1], keys[0][2]
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(keys):
            if seconds <= t1:
                share = (seconds - t0) / (t1 - t0)
                return x0 + (x1 - x0) * share, y0 + (y1 - y0) * share
        return keys[-1][1], keys[-1][2]

    def face_box(self, seconds: float) -> Box:
        x, y = self.position(seconds)
        face_left, face_top, face_width, face_height = ASTRONAUT_FACE
        offset_x = face_left - HEAD_CROP[0]
        if self.mirrored:
            offset_x = HEAD_CROP[2] - offset_x - face_width
        return Box(
            x + offset_x * self.scale,
            y + (face_top - HEAD_CROP[1]) * self.scale,
            face_width * self.scale,
            face_height * self.scale,
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    seconds: float
    actors: tuple[Actor, ...]
    occlusions: tuple[tuple[float, float, tuple[int, int, int, int]], ...] = ()  # (from s, to s, x, y, w, h)
    notes: str = ""

    def true_appearances(self, width: int, height: int) -> list[tuple[str, int, int]]:
        """(actor, first ms, last ms) of each stay on screen: sampled timestamps where at least half
        the face is inside the frame, whether or not something hides it for a moment."""
        spans: list[tuple[str, int, int]] = []
        for actor in self.actors:
            current: list[int] | None = None
            for at in range(0, int(self.seconds * 1000), STEP_MS):
                inside = _inside_share(actor.face_box(at / 1000), width, height) >= 0.5
                if inside and current is None:
                    current = [at, at]
                elif inside and current is not None:
                    current[1] = at
                elif current is not None:
                    spans.append((actor.name, current[0], current[1]))
                    current = None
            if current is not None:
                spans.append((actor.name, current[0], current[1]))
        return spans


def _inside_share(box: Box, width: int, height: int) -> float:
    frame = Box(0, 0, width, height)
    x1, y1 = max(box.left, frame.left), max(box.top, frame.top)
    x2, y2 = min(box.left + box.width, width), min(box.top + box.height, height)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1) / (box.width * box.height)


def scenarios() -> list[Scenario]:
    y = 70.0  # heads' top for a 230-pixel-high crop in a 360-pixel frame
    return [
        Scenario(
            "two faces crossing",
            8.0,
            (
                Actor("A", ((0, 20, y), (8, 420, y)), depth=1),
                Actor("B", ((0, 420, y - 20), (8, 20, y - 20)), mirrored=True),
            ),
            notes="same size, same path, B hidden behind A while they cross",
        ),
        Scenario(
            "three faces crossing",
            8.0,
            (
                Actor("A", ((0, 10, 20), (8, 470, 160)), scale=0.7, depth=2),
                Actor("B", ((0, 470, 20), (8, 10, 160)), scale=0.7, mirrored=True, depth=1),
                Actor("C", ((0, 240, 200), (8, 240, -10)), scale=0.6),
            ),
            notes="two diagonals and one vertical, meeting in the middle; smaller faces",
        ),
        Scenario(
            "leaving and coming back",
            10.0,
            (
                Actor("A", ((0, 300, y), (3, 700, y), (6, 700, y), (9, 300, y), (10, 300, y))),
                Actor("B", ((0, 20, y), (10, 60, y)), scale=0.8, mirrored=True),
            ),
            notes="A walks out to the right at about 2 s, stays out 3 s or more, comes back",
        ),
        Scenario(
            "four small faces, fast, crossing",
            6.0,
            (
                Actor("A", ((0, -20, 20), (6, 560, 230)), scale=0.45, depth=3),
                Actor("B", ((0, 560, 20), (6, -20, 230)), scale=0.45, mirrored=True, depth=2),
                Actor("C", ((0, 560, 130), (3, 270, 130), (6, -20, 130)), scale=0.5, depth=1),
                Actor("D", ((0, 270, -20), (6, 270, 250)), scale=0.4, mirrored=True),
            ),
            notes="about 100 px/s (a face width every 0.4 s), all meeting at the centre; C, passing behind "
            "the others, is not detected for 3.2 s, more than the 3 s a hidden face is waited for",
        ),
        Scenario(
            "short occlusions",
            8.0,
            (
                Actor("A", ((0, 40, y), (8, 200, y))),
                Actor("B", ((0, 400, y), (8, 360, y)), scale=0.8, mirrored=True),
            ),
            occlusions=(
                (2.0, 2.4, (0, 0, 320, 360)),  # A hidden 400 ms
                (5.0, 5.6, (0, 0, 320, 360)),  # A hidden 600 ms
                (3.0, 3.8, (320, 0, 320, 360)),  # B hidden 800 ms
            ),
            notes="a panel hides A for 0.4 s and 0.6 s, B for 0.8 s",
        ),
    ]


def render(scenario: Scenario, path: Path, width: int = 640, height: int = 360, fps: int = 30) -> None:
    from skimage import data  # test and benchmark dependency only

    photo = data.astronaut()
    head = photo[HEAD_CROP[1] : HEAD_CROP[1] + HEAD_CROP[3], HEAD_CROP[0] : HEAD_CROP[0] + HEAD_CROP[2]]
    rows, columns = np.mgrid[0:height, 0:width]
    background = np.stack(
        [70 + 60 * columns / width, 110 + 40 * rows / height, np.full((height, width), 150.0)], axis=2
    ).astype(np.uint8)
    panel = np.full((height, width, 3), (90, 70, 60), dtype=np.uint8)
    patches = {}
    for actor in scenario.actors:
        size = (round(HEAD_CROP[2] * actor.scale), round(HEAD_CROP[3] * actor.scale))
        image = av.VideoFrame.from_ndarray(head[:, ::-1] if actor.mirrored else head, format="rgb24")
        patches[actor.name] = image.reformat(width=size[0], height=size[1]).to_ndarray()
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(round(scenario.seconds * fps)):
            seconds = index / fps
            frame = background.copy()
            for actor in sorted(scenario.actors, key=lambda a: a.depth):
                _paste(frame, patches[actor.name], actor.position(seconds))
            for start, end, (x, y, w, h) in scenario.occlusions:
                if start <= seconds < end:
                    frame[y : y + h, x : x + w] = panel[y : y + h, x : x + w]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


def _paste(frame: np.ndarray, patch: np.ndarray, position: tuple[float, float]) -> None:
    height, width = frame.shape[:2]
    x, y = round(position[0]), round(position[1])
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(width, x + patch.shape[1]), min(height, y + patch.shape[0])
    if x2 > x1 and y2 > y1:
        frame[y1:y2, x1:x2] = patch[y1 - y : y2 - y, x1 - x : x2 - x]


@dataclass
class Score:
    true: int = 0
    found: int = 0
    exact: int = 0  # true appearances found as exactly one appearance
    unmatched: int = 0  # found appearances that match no face
    purity: list[float] = field(default_factory=list)
    start_errors: list[int] = field(default_factory=list)
    end_errors: list[int] = field(default_factory=list)


def score(scenario: Scenario, appearances: list[Appearance], width: int, height: int) -> Score:
    truth = scenario.true_appearances(width, height)
    result = Score(true=len(truth), found=len(appearances))
    owners: dict[int, str] = {}
    for appearance in appearances:
        votes: Counter[str] = Counter()
        for at, box in appearance.boxes():
            pixels = Box(box.left * width, box.top * height, box.width * width, box.height * height)
            best = max(scenario.actors, key=lambda a: a.face_box(at / 1000).iou(pixels))
            if best.face_box(at / 1000).iou(pixels) >= 0.3:
                votes[best.name] += 1
        if not votes:
            result.unmatched += 1
            continue
        owner, count = votes.most_common(1)[0]
        owners[appearance.index] = owner
        result.purity.append(count / appearance.detections)
    for name, start, end in truth:
        pieces = [
            a
            for a in appearances
            if owners.get(a.index) == name and a.start_ms <= end + STEP_MS and a.end_ms >= start - STEP_MS
        ]
        if len(pieces) == 1:
            result.exact += 1
            result.start_errors.append(abs(pieces[0].start_ms - start))
            result.end_errors.append(abs(pieces[0].end_ms - end))
    return result


def accuracy() -> None:
    print("\n== grouping accuracy on videos with known tracks (emulator detector, 200 ms sampling)")
    width, height = 640, 360
    totals = Score()
    with tempfile.TemporaryDirectory(prefix="bench-appearances-") as scratch:
        folder = Path(scratch)
        with LocalEndpoint(EmulatorSettings(data_dir=folder / "endpoint"), port=0) as endpoint:
            s3, rekognition = endpoint.client("s3"), endpoint.client("rekognition")
            s3.create_bucket(Bucket="bench")
            for scenario in scenarios():
                path = folder / f"{scenario.name.replace(' ', '-')}.mp4"
                render(scenario, path, width, height)
                s3.upload_file(str(path), "bench", path.name)
                job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": "bench", "Name": path.name}})[
                    "JobId"
                ]
                while rekognition.get_face_detection(JobId=job_id, MaxResults=1)["JobStatus"] == "IN_PROGRESS":
                    time.sleep(0.05)
                summary = write_document(io.StringIO(), FaceDetection(rekognition).pages(job_id))
                result = score(scenario, summary.appearances, width, height)
                _print_score(scenario.name, result, scenario.notes)
                for name in ("true", "found", "exact", "unmatched"):
                    setattr(totals, name, getattr(totals, name) + getattr(result, name))
                totals.purity += result.purity
                totals.start_errors += result.start_errors
                totals.end_errors += result.end_errors
    _print_score("all", totals, "")


def _print_score(name: str, result: Score, notes: str) -> None:
    def ms(values: list[int]) -> str:
        return f"mean {statistics.fmean(values):4.0f} ms, max {max(values):4d} ms" if values else "n/a"

    purity = f"{min(result.purity):.2f}" if result.purity else "n/a"
    print(
        f"  {name}: {result.found} appearance(s) found, {result.true} true; {result.exact}/{result.true} found as "
        f"exactly one; {result.unmatched} matching no face; lowest identity purity {purity}; "
        f"start error {ms(result.start_errors)}; end error {ms(result.end_errors)}" + (f"  ({notes})" if notes else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.skip_speed:
        speed()
    if not args.skip_accuracy:
        accuracy()


if __name__ == "__main__":
    main()
