"""Grouping faces into appearances: speed on 100,000 detections, and accuracy on videos with known tracks.

1. Speed: the grouping (launcher.jobs.appearances) on synthetic detections: faces wandering, entering
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
3. Cut detector cost: launcher.people.shots.detect_cuts on 60 s of 1920x1080 H.264, per minute of
   video, beside decoding alone; and whether it finds the cuts.
4. Cuts and people on photographs of real people (--photos DIR, one folder per person; see
   bench/README.md): slideshows with hard cuts, the same person in several photographs, people
   re-entering, faces crossing, a dissolve between two people, through the emulator, the cut detector
   and --people's pipeline, all videos of a set as one batch. Reported per set (a tuning set, where
   the thresholds are swept, and a held-out set): appearances found vs true, appearances spanning two
   people (identity swaps; with the cut rule alone too), people found vs true, and the pairwise
   precision and recall of "same person" over the set's appearances.

    .venv/bin/python bench/appearances.py [--skip-accuracy] [--skip-speed] [--skip-cut-cost]
        [--skip-people] [--photos DIR]
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


def along_path(keys: tuple[tuple[float, float, float], ...], seconds: float) -> tuple[float, float]:
    """(x, y) at ``seconds`` on a path of (seconds, x, y) keys: linear between keys, held beyond them."""
    if seconds <= keys[0][0]:
        return keys[0][1], keys[0][2]
    for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(keys):
        if seconds <= t1:
            share = (seconds - t0) / (t1 - t0)
            return x0 + (x1 - x0) * share, y0 + (y1 - y0) * share
    return keys[-1][1], keys[-1][2]


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
        return along_path(self.path, seconds)

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


# -- 3. cuts and people, on slideshows of photographs of real people --------------------------------
#
# Photographs: a folder with one subfolder per person (``--photos DIR``, e.g. DIR/obama/obama.jpg),
# plus scikit-image's astronaut (in the package, public domain). The photographs are not in the
# repository (see bench/README.md for where the measured set came from and their licences).

TUNING: dict[str, tuple[str, ...]] = {  # person: photographs (file names in DIR/person/; "astronaut" is scikit-image's)
    "obama": ("obama.jpg", "obama2.jpg"),
    "biden": ("biden.jpg", "biden2.jpg"),
    "alex_lacamoire": ("alex-lacamoire.png", "img1.jpg"),
    "astronaut": ("astronaut", "astronaut"),
}
HELD_OUT: dict[str, tuple[str, ...]] = {
    "kit_harington": ("john1.jpeg", "john2.jpeg", "johnsnow_test1.jpg"),
    "rose_leslie": ("img1.jpg", "img2.jpg"),
    "obama": ("obama1.jpg", "obama3.jpg"),
    "lin_manuel_miranda": ("lin-manuel-miranda.png", "lin-manuel-miranda.png"),
    "alex_lacamoire": ("alex_lacamoire1.jpg", "alex_lacamoire1.jpg"),
}
SHOW_SIZE = (640, 360)
SHOW_FPS = 25
FADE_SECONDS = 0.4


@dataclass(frozen=True)
class Tile:
    """A head cut from a photograph, ``height`` pixels high, its top-left corner following ``path``
    (seconds from the slide's start, x, y); drawn in order (later tiles in front)."""

    person: str
    photo: int  # which of the person's photographs
    path: tuple[tuple[float, float, float], ...]
    height: int = 200
    mirrored: bool = False
    shown: tuple[float, float] | None = None  # (from, to) seconds, fading in and out over FADE_SECONDS

    def alpha(self, seconds: float) -> float:
        if self.shown is None:
            return 1.0
        start, end = self.shown
        return max(0.0, min(1.0, (seconds - start) / FADE_SECONDS, (end - seconds) / FADE_SECONDS))

    def position(self, seconds: float) -> tuple[float, float]:
        return along_path(self.path, seconds)


@dataclass(frozen=True)
class Slide:
    seconds: float
    tiles: tuple[Tile, ...]
    hue: int  # the background's colour: every slide has its own


@dataclass(frozen=True)
class Show:
    name: str
    slides: tuple[Slide, ...]

    @property
    def seconds(self) -> float:
        return sum(slide.seconds for slide in self.slides)

    def cuts_ms(self) -> list[int]:
        return [round(1000 * sum(s.seconds for s in self.slides[:i])) for i in range(1, len(self.slides))]

    def at(self, seconds: float) -> tuple[Slide, float]:
        start = 0.0
        for slide in self.slides:
            if seconds < start + slide.seconds:
                return slide, seconds - start
            start += slide.seconds
        return self.slides[-1], self.slides[-1].seconds


class Heads:
    """Each person's photographs as head tiles, with the face box inside the tile (dlib's HOG
    detector on the photograph finds the face once)."""

    def __init__(self, folder: Path | None, people: dict[str, tuple[str, ...]]) -> None:
        import dlib
        from PIL import Image
        from skimage import data

        detector = dlib.get_frontal_face_detector()
        self._heads: dict[tuple[str, int], tuple[np.ndarray, tuple[float, float, float, float]]] = {}
        for person, names in people.items():
            for number, name in enumerate(names):
                if name == "astronaut":
                    image = data.astronaut()
                else:
                    if folder is None:
                        raise SystemExit("--photos DIR is needed for the people benchmark (see bench/README.md)")
                    image = np.asarray(Image.open(folder / person / name).convert("RGB"))
                faces = detector(image, 1) or detector(image, 2)
                if not faces:
                    raise SystemExit(f"no face found in {person}/{name}")
                face = max(faces, key=lambda r: r.area())
                left, top, width, height = face.left(), face.top(), face.width(), face.height()
                crop = (
                    max(0, int(left - 0.6 * width)),
                    max(0, int(top - 0.8 * height)),
                    min(image.shape[1], int(left + 1.6 * width)),
                    min(image.shape[0], int(top + 1.5 * height)),
                )
                head = image[crop[1] : crop[3], crop[0] : crop[2]]
                self._heads[(person, number)] = (
                    head,
                    (left - crop[0], top - crop[1], width, height),
                )

    def tile(self, tile: Tile) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """The tile's pixels and its face box (x, y, w, h) inside it."""
        head, (x, y, w, h) = self._heads[(tile.person, tile.photo)]
        scale = tile.height / head.shape[0]
        width = max(1, round(head.shape[1] * scale))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(head), format="rgb24")
        pixels = frame.reformat(width=width, height=tile.height).to_ndarray()
        box = (x * scale, y * scale, w * scale, h * scale)
        if tile.mirrored:
            pixels = pixels[:, ::-1]
            box = (width - box[0] - box[2], box[1], box[2], box[3])
        return np.ascontiguousarray(pixels), box


def shows(people: list[str]) -> list[Show]:
    """The five edits, cast with ``people`` (at least four): A, B, C, D."""
    a, b, c, d = people[:4]
    w, h = SHOW_SIZE
    centre = (w - 170) / 2, (h - 200) / 2
    return [
        Show(
            "slideshow: cuts at one spot",
            tuple(
                Slide(3.0, (Tile(person, photo, ((0, *centre),)),), hue)
                for hue, (person, photo) in enumerate(((a, 0), (b, 0), (c, 0), (a, 1)))
            ),
        ),
        Show(
            "two people swap places across a cut",
            (
                Slide(3.0, (Tile(a, 0, ((0, 60, 80),)), Tile(b, 0, ((0, 400, 80),))), 0),
                Slide(3.0, (Tile(b, 1, ((0, 60, 80),)), Tile(a, 1, ((0, 400, 80),))), 2),
                Slide(3.0, (Tile(c, 1, ((0, *centre),)),), 4),
            ),
        ),
        Show(
            "faces crossing, then a cut",
            (
                Slide(8.0, (Tile(b, 0, ((0, 0, 80), (8, 470, 80))), Tile(c, 0, ((0, 470, 70), (8, 0, 70)))), 1),
                Slide(3.0, (Tile(a, 1, ((0, *centre),)),), 3),
            ),
        ),
        Show(
            "leaving and coming back",
            (
                Slide(
                    10.0,
                    (
                        Tile(c, 1, ((0, 40, 80),)),
                        Tile(
                            d,
                            0,
                            (
                                (0, 700, 80),
                                (1, 700, 80),
                                (2, 420, 80),
                                (4, 420, 80),
                                (5, 700, 80),
                                (7, 700, 80),
                                (8, 420, 80),
                                (10, 420, 80),
                            ),
                        ),
                    ),
                    5,
                ),
            ),
        ),
        Show(
            "one fades out, another fades in at the same spot (no cut)",
            (
                Slide(
                    8.0,
                    (Tile(a, 0, ((0, *centre),), shown=(-1.0, 3.0)), Tile(b, 1, ((0, *centre),), shown=(3.6, 9.0))),
                    2,
                ),
            ),
        ),
        Show(
            "three in a row, then rearranged",
            (
                Slide(
                    4.0, tuple(Tile(p, 0, ((0, 30 + 210 * i, 100),), height=160) for i, p in enumerate((a, b, d))), 6
                ),
                Slide(
                    4.0, tuple(Tile(p, 1, ((0, 30 + 210 * i, 100),), height=160) for i, p in enumerate((d, a, b))), 7
                ),
            ),
        ),
    ]


def _backdrop(hue: int) -> np.ndarray:
    w, h = SHOW_SIZE
    rows, columns = np.mgrid[0:h, 0:w]
    base = np.array(
        [
            (60, 90, 150),
            (150, 80, 60),
            (70, 140, 80),
            (140, 140, 60),
            (90, 60, 130),
            (40, 120, 140),
            (160, 110, 130),
            (110, 110, 110),
        ][hue % 8],
        dtype=np.float64,
    )
    shade = (0.7 + 0.3 * columns / w)[..., None] * (0.8 + 0.2 * rows / h)[..., None]
    return np.clip(base * shade, 0, 255).astype(np.uint8)


def render_show(show: Show, heads: Heads, path: Path) -> None:
    w, h = SHOW_SIZE
    tiles = {tile: heads.tile(tile) for slide in show.slides for tile in slide.tiles}
    backdrops = {slide.hue: _backdrop(slide.hue) for slide in show.slides}
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=SHOW_FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for index in range(round(show.seconds * SHOW_FPS)):
            slide, seconds = show.at(index / SHOW_FPS)
            frame = backdrops[slide.hue].copy()
            for tile in slide.tiles:
                alpha = tile.alpha(seconds)
                if alpha >= 1.0:
                    _paste(frame, tiles[tile][0], tile.position(seconds))
                elif alpha > 0.0:
                    under = frame.copy()
                    _paste(frame, tiles[tile][0], tile.position(seconds))
                    frame[:] = (alpha * frame + (1 - alpha) * under).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)


def truth_at(show: Show, heads: Heads, at_ms: int) -> list[tuple[str, Box]]:
    """(person, face box in pixels) of the faces on screen at ``at_ms``: at least half inside the
    frame and not more than half covered by a tile in front."""
    slide, seconds = show.at(at_ms / 1000)
    placed = []
    for tile in slide.tiles:
        if tile.alpha(seconds) < 0.5:
            continue
        pixels, (fx, fy, fw, fh) = heads.tile(tile)
        x, y = tile.position(seconds)
        placed.append((tile.person, Box(x + fx, y + fy, fw, fh), Box(x, y, pixels.shape[1], pixels.shape[0])))
    faces = []
    for number, (person, face, _tile) in enumerate(placed):
        if _inside_share(face, *SHOW_SIZE) < 0.5:
            continue
        covered = max((_overlap(face, front) for _p, _f, front in placed[number + 1 :]), default=0.0)
        if covered <= 0.5:
            faces.append((person, face))
    return faces


def _overlap(face: Box, cover: Box) -> float:
    x1, y1 = max(face.left, cover.left), max(face.top, cover.top)
    x2 = min(face.left + face.width, cover.left + cover.width)
    y2 = min(face.top + face.height, cover.top + cover.height)
    return max(0.0, x2 - x1) * max(0.0, y2 - y1) / (face.width * face.height)


@dataclass
class ShowRun:
    """What the endpoint and the launcher's first pass gave for one show: kept to re-group it with
    other settings without running the detector again."""

    show: Show
    pages: list[dict[str, Any]]
    cuts: list[int]
    pieces: list[Appearance]
    links: list[tuple[int, int]]
    embeddings: dict[int, Any]
    labels: dict[int, list[str | None]] = field(default_factory=dict)  # piece -> person per detection


def _label(show: Show, heads: Heads, appearance: Appearance) -> list[str | None]:
    w, h = SHOW_SIZE
    labels: list[str | None] = []
    for at, box in appearance.boxes():
        pixels = Box(box.left * w, box.top * h, box.width * w, box.height * h)
        faces = truth_at(show, heads, at)
        best = max(faces, key=lambda f: f[1].iou(pixels), default=None)
        labels.append(best[0] if best is not None and best[1].iou(pixels) >= 0.3 else None)
    return labels


def true_appearances(show: Show, heads: Heads) -> int:
    """Stays on screen: a person's sampled timestamps on screen, a stay ending when they are off
    screen for more than a second, or more than 3 s while hidden behind another tile (the tracker's
    two gaps)."""
    count = 0
    for person in {tile.person for slide in show.slides for tile in slide.tiles}:
        last: int | None = None
        hidden_since_last = True
        for at in range(0, round(show.seconds * 1000), STEP_MS):
            if any(p == person for p, _box in truth_at(show, heads, at)):
                allowed = 3000 if hidden_since_last else 1000
                if last is None or at - last > allowed:
                    count += 1
                last, hidden_since_last = at, True
            elif person not in _hidden(show, heads, at):
                hidden_since_last = False
    return count


def _hidden(show: Show, heads: Heads, at_ms: int) -> set[str]:
    """The people inside the frame at ``at_ms`` but covered by a tile in front."""
    slide, seconds = show.at(at_ms / 1000)
    visible = {person for person, _box in truth_at(show, heads, at_ms)}
    inside = set()
    for tile in slide.tiles:
        if tile.alpha(seconds) < 0.5:
            continue
        _pixels, (fx, fy, fw, fh) = heads.tile(tile)
        x, y = tile.position(seconds)
        if _inside_share(Box(x + fx, y + fy, fw, fh), *SHOW_SIZE) >= 0.5:
            inside.add(tile.person)
    return inside - visible


def run_shows(
    name: str, people: dict[str, tuple[str, ...]], photos: Path | None, endpoint: LocalEndpoint, folder: Path
) -> tuple[list[ShowRun], Heads]:
    from launcher.people.embedding import load_embedder
    from launcher.people.pipeline import embed_pieces, track_pieces
    from launcher.people.shots import detect_cuts

    heads = Heads(photos, people)
    embedder = load_embedder()
    s3, rekognition = endpoint.client("s3"), endpoint.client("rekognition")
    runs = []
    for number, show in enumerate(shows(list(people))):
        path = folder / f"{name}-{number}.mp4"
        render_show(show, heads, path)
        s3.upload_file(str(path), "bench", path.name)
        job_id = rekognition.start_face_detection(Video={"S3Object": {"Bucket": "bench", "Name": path.name}})["JobId"]
        while rekognition.get_face_detection(JobId=job_id, MaxResults=1)["JobStatus"] == "IN_PROGRESS":
            time.sleep(0.05)
        pages = list(FaceDetection(rekognition).pages(job_id))
        cuts = detect_cuts(path)
        pieces, links = track_pieces(pages, cuts)
        embeddings = embed_pieces(path, pieces, embedder)
        run = ShowRun(show, pages, cuts, pieces, links, embeddings)
        run.labels = {piece.index: _label(show, heads, piece) for piece in pieces}
        runs.append(run)
        true_cuts = show.cuts_ms()
        found = sum(1 for cut in true_cuts if any(abs(cut - c) <= 1000 / SHOW_FPS for c in cuts))
        print(f"  {name}, {show.name}: cuts {found}/{len(true_cuts)} found, {len(cuts) - found} false")
    return runs, heads


@dataclass
class PeopleScore:
    appearances: int = 0
    true_appearances: int = 0
    spanning: int = 0  # appearances whose detections belong to two people or more
    spanning_without_people: int = 0  # the same, with the cut rule only (no --people)
    people_found: int = 0
    true_people: int = 0
    pairs: Counter[str] = field(default_factory=Counter)  # tp, fp, fn

    def precision(self) -> float:
        found = self.pairs["tp"] + self.pairs["fp"]
        return self.pairs["tp"] / found if found else 1.0

    def recall(self) -> float:
        true = self.pairs["tp"] + self.pairs["fn"]
        return self.pairs["tp"] / true if true else 1.0


def evaluate(runs: list[ShowRun], heads: Heads, settings: Any, details: list[str] | None = None) -> PeopleScore:
    """Every show of a set as one batch: appearances, people per video and across the videos."""
    from launcher.jobs.formats import write_document
    from launcher.people.grouping import Piece, Seen, group_people, link_pieces
    from launcher.people.pipeline import VideoPeople, batch_people, merge_pieces

    score = PeopleScore()
    videos: list[VideoPeople] = []
    labelled: list[tuple[int, int, str]] = []  # (video, appearance, true person)
    persons_true: set[str] = set()
    for number, run in enumerate(runs):
        linked = link_pieces(
            [Piece(p.index, p.start_ms, p.end_ms, run.embeddings.get(p.index)) for p in run.pieces],
            run.links,
            run.cuts,
            settings,
        )
        appearances = merge_pieces(run.pieces, linked)
        people = group_people([Seen(0, a.start_ms, a.end_ms, a.embedding) for a in linked], settings)
        from launcher.jobs.formats import PeopleAssignment

        videos.append(
            VideoPeople(
                PeopleAssignment({n: i for i, a in enumerate(linked) for n in a.pieces}, appearances, people),
                pieces=len(run.pieces),
                embedded_pieces=0,
                embeddings=[a.embedding for a in linked],
            )
        )
        score.appearances += len(appearances)
        true = true_appearances(run.show, heads)
        score.true_appearances += true
        if details is not None:
            details.append(f"{run.show.name}: {len(appearances)} appearance(s) for {true} true")
        for index, appearance in enumerate(linked):
            votes = Counter(label for piece in appearance.pieces for label in run.labels[piece] if label)
            if len(votes) > 1:
                score.spanning += 1
            if votes:
                labelled.append((number, index, votes.most_common(1)[0][0]))
                persons_true.add(votes.most_common(1)[0][0])
        plain = write_document(io.StringIO(), iter(run.pages), cuts=run.cuts).appearances
        for whole in plain:
            names = {label for label in _label(run.show, heads, whole) if label}
            score.spanning_without_people += len(names) > 1
    mapping = batch_people(videos, settings)
    person = {
        (number, index): mapping[number][videos[number].assignment.person_of_appearance[index]]
        for number, index, _name in labelled
    }
    score.true_people = len(persons_true)
    score.people_found = len({person[(n, i)] for n, i, _name in labelled})
    for (n1, i1, name1), (n2, i2, name2) in itertools.combinations(labelled, 2):
        same, said = name1 == name2, person[(n1, i1)] == person[(n2, i2)]
        score.pairs["tp" if same and said else "fp" if said else "fn" if same else "tn"] += 1
    return score


def _print_people(label: str, score: PeopleScore) -> None:
    print(
        f"  {label}: {score.appearances} appearance(s) for {score.true_appearances} true; spanning two people "
        "(identity swaps): "
        f"{score.spanning} (cut rule only, without --people: {score.spanning_without_people}); people found "
        f"{score.people_found} for {score.true_people}; same-person pairs: precision {score.precision():.3f}, "
        f"recall {score.recall():.3f} ({score.pairs['tp']} true pairs found, {score.pairs['fp']} false, "
        f"{score.pairs['fn']} missed)"
    )


def people_accuracy(photos: Path | None) -> None:
    from launcher.people.grouping import PeopleSettings

    print("\n== cuts and people on slideshows of photographs (emulator detector, 200 ms sampling)")
    with tempfile.TemporaryDirectory(prefix="bench-people-") as scratch:
        folder = Path(scratch)
        with LocalEndpoint(EmulatorSettings(data_dir=folder / "endpoint"), port=0) as endpoint:
            endpoint.client("s3").create_bucket(Bucket="bench")
            tuning, tuning_heads = run_shows("tuning", TUNING, photos, endpoint, folder)
            held_out, held_out_heads = run_shows("held-out", HELD_OUT, photos, endpoint, folder)
    print("  tuning set (thresholds swept here; the default is the one marked *):")
    default = PeopleSettings()
    for same in (0.45, 0.5, 0.55, 0.6, 0.65):
        settings = PeopleSettings(same_person=same, veto=same, join_across_cut=min(same, default.join_across_cut))
        marker = " *" if settings == default else ""
        _print_people(f"same_person = veto = {same}{marker}", evaluate(tuning, tuning_heads, settings))
    print("  held-out set (default settings):")
    details: list[str] = []
    _print_people("default", evaluate(held_out, held_out_heads, default, details))
    print("    per video: " + "; ".join(details))


def cut_cost(seconds: int = 60) -> None:
    """The cut detector on a 1920x1080 H.264 slideshow (30 fps): seconds per minute of video."""
    from skimage import data

    from launcher.people.shots import detect_cuts

    print(f"\n== cut detector cost on {seconds} s of 1920x1080 H.264, 30 fps")
    pictures = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    with tempfile.TemporaryDirectory(prefix="bench-cuts-") as scratch:
        path = Path(scratch) / "hd.mp4"
        with av.open(str(path), mode="w") as output:
            stream = output.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            frames = [
                av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(width=1920, height=1080, format="yuv420p")
                for picture in pictures
            ]
            rng = np.random.default_rng(0)
            noisy = [  # sensor noise: a few variants of each shot, shown in turn
                [
                    np.clip(plane.astype(np.int16) + rng.integers(-3, 4, plane.shape), 0, 255).astype(np.uint8)
                    for plane in [frame.to_ndarray()] * 4
                ]
                for frame in frames
            ]
            for index in range(seconds * 30):
                shot = (index // 150) % len(frames)  # a cut every 5 s
                for packet in stream.encode(av.VideoFrame.from_ndarray(noisy[shot][index % 4], format="yuv420p")):
                    output.mux(packet)
            for packet in stream.encode():
                output.mux(packet)
        best = decoding = math.inf
        for _ in range(2):
            started = time.perf_counter()
            with av.open(str(path)) as container:
                container.streams.video[0].thread_type = "AUTO"
                for _frame in container.decode(video=0):
                    pass
            decoding = min(decoding, time.perf_counter() - started)
            started = time.perf_counter()
            cuts = detect_cuts(path)
            best = min(best, time.perf_counter() - started)
        true_cuts = [5000 * i for i in range(1, seconds // 5)]
        found = sum(1 for cut in true_cuts if any(abs(cut - c) <= 34 for c in cuts))
        print(
            f"  {best:.1f} s for {seconds} s of video: {best / seconds * 60:.1f} s per minute of 1080p "
            f"({best / (seconds * 30) * 1000:.2f} ms per frame, best of 2; decoding alone "
            f"{decoding / (seconds * 30) * 1000:.2f} ms); cuts {found}/{len(true_cuts)} found, "
            f"{len(cuts) - found} false"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-people", action="store_true", help="skip cuts and people on photographs")
    parser.add_argument("--skip-cut-cost", action="store_true")
    parser.add_argument("--photos", type=Path, help="one folder per person of photographs (see bench/README.md)")
    args = parser.parse_args()
    if not args.skip_speed:
        speed()
    if not args.skip_accuracy:
        accuracy()
    if not args.skip_cut_cost:
        cut_cost()
    if not args.skip_people:
        people_accuracy(args.photos)


if __name__ == "__main__":
    main()
