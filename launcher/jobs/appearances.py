"""Appearances: the faces of a job grouped into "one face on screen from 0:12 to 0:45".

GetFaceDetection answers with one entry per face per sampled timestamp. An appearance follows one
face across sampled timestamps by position (where the face is going, from its last two detections),
size and landmark layout (where the eyes, nose and mouth sit inside the box: a turned head keeps its
layout from one sample to the next), and tolerates short gaps (a missed sample, a turned head) of up
to ``max_gap_ms``, or ``max_hidden_ms`` for a face that went behind another one (its expected place
taken by a face nearer the camera, as when people cross). A face that leaves and comes back later is a
new appearance: without recognition there is no telling it is the same person, and "when was a face on
screen" is the question.

Hard cuts (shot boundaries, found from the video by ``launcher.people.shots`` and passed in as a list
of timestamps) end every open appearance: a face after a cut is never linked by position to one
before it, whatever their places. With ``pieces=True`` (the launcher's ``--people``), appearances are
also cut into *pieces* wherever a link by position is uncertain: the face was missed at the frame
before, was hidden behind another face, or another face competed for it (the piece ends at the
first clean link after such a contest). ``links`` then lists (earlier piece, later piece) for each
such link, and the people grouping (``launcher.people.grouping``) keeps it or vetoes it by the faces'
embeddings.

The grouping is online and deterministic: frames are taken in time order, each frame's detections
are matched to the appearances still open by ascending cost (ties broken by appearance index, then by
position in the frame), and unmatched detections open new appearances, numbered in order of their
first detection (left to right, top to bottom within a frame). Appearances are found in a spatial
hash of their predicted positions, so the work per detection does not grow with the number of faces
on screen: the whole grouping is linear in the number of detections. An appearance's index is known
as soon as its first detection is seen, so results can be written as they are fetched.

Standard library only: the launcher, and a Lambda function writing the same results, use it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
_TINY = 1e-6  # a box side is never taken as smaller than this (ratios of the frame)
EDGE = 0.005  # a box this close to a side of the frame may be cut by it: that side's size tells nothing
DEFAULT_ASPECT = 0.45  # a face's width over height in ratios of a 16:9 frame, until the video shows its own


@dataclass(frozen=True)
class TrackerSettings:
    """How far one face may move, grow and disappear between two of its detections."""

    max_gap_ms: int = 1000  # longer without a detection, and the face has left: a later one is new
    max_hidden_ms: int = 3000  # ... or this long if it was last seen going behind another face
    max_shift: float = 1.0  # centre distance from where the face was heading, in face sizes ...
    shift_per_second: float = 1.0  # ... plus this many face sizes per second since it was last seen
    max_size_ratio: float = 1.5  # width and height each change by at most this factor
    size_weight: float = 1.0  # cost of a size change (per unit of |log ratio|, width and height)
    landmark_weight: float = 1.0  # cost of a change of landmark layout (mean distance, in box sizes)

    def reach(self, elapsed_ms: float) -> float:
        return self.max_shift + self.shift_per_second * elapsed_ms / 1000


@dataclass(frozen=True)
class Box:
    """A bounding box as ratios of the frame, as Rekognition gives it."""

    left: float
    top: float
    width: float
    height: float

    def to_api(self) -> dict[str, float]:
        return {"Width": self.width, "Height": self.height, "Left": self.left, "Top": self.top}


@dataclass(frozen=True)
class Detection:
    """What the grouping needs of one face entry: when, where, its landmark layout, its quality."""

    timestamp: int
    box: Box
    layout: tuple[float, ...] = ()  # landmarks as (x, y) ratios of the box, flattened; () if unknown
    score: float = 1.0  # how good a picture of the face it is: sharp, frontal, confident
    face: dict[str, Any] | None = field(default=None, compare=False)  # the FaceDetail, kept for the best

    @classmethod
    def from_face(cls, entry: dict[str, Any]) -> Detection:
        """From a GetFaceDetection ``Faces`` entry: ``{"Timestamp": ms, "Face": FaceDetail}``."""
        detail = entry["Face"]
        raw = detail["BoundingBox"]
        box = Box(raw["Left"], raw["Top"], max(raw["Width"], _TINY), max(raw["Height"], _TINY))
        points = {landmark.get("Type"): landmark for landmark in detail.get("Landmarks") or ()}
        layout: tuple[float, ...] = ()
        if all(kind in points for kind in LANDMARK_TYPES):
            layout = tuple(
                value
                for kind in LANDMARK_TYPES
                for value in (
                    (points[kind]["X"] - box.left) / box.width,
                    (points[kind]["Y"] - box.top) / box.height,
                )
            )
        return cls(int(entry["Timestamp"]), box, layout, picture_score(detail), detail)


def picture_score(detail: dict[str, Any]) -> float:
    """Sharpness x frontality x confidence, each 0-1 (1 where the detail lacks it): the best
    detection of an appearance is the one with the highest score, the earliest on a tie."""
    sharpness = (detail.get("Quality") or {}).get("Sharpness", 100.0)
    pose = detail.get("Pose") or {}
    turn = math.hypot(pose.get("Yaw", 0.0), pose.get("Pitch", 0.0))
    frontal = max(0.0, 1.0 - turn / 90.0)
    return max(0.0, sharpness / 100) * frontal * max(0.0, detail.get("Confidence", 100.0) / 100)


@dataclass(frozen=True)
class Appearance:
    """One face on screen from ``start_ms`` to ``end_ms`` (the timestamps of its first and last
    detection), its box at each of its ``detections`` timestamps, the box covering them all
    (``extent``), and its best detection."""

    index: int
    start_ms: int
    end_ms: int
    detections: int
    extent: Box
    best_timestamp: int
    best_box: Box
    best_face: dict[str, Any] | None
    _boxes: array = field(repr=False, compare=False)  # (timestamp, left, top, width, height) per detection
    best_score: float = 0.0
    best_frames: tuple[tuple[int, Box], ...] = ()  # the few best detections (timestamp, box), best first

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def boxes(self) -> Iterator[tuple[int, Box]]:
        """(timestamp, box) of each detection, in time order."""
        values = self._boxes
        for at in range(0, len(values), 5):
            yield int(values[at]), Box(values[at + 1], values[at + 2], values[at + 3], values[at + 4])

    def to_api(self) -> dict[str, Any]:
        """The ``Appearances`` entry of the results document (Rekognition's naming style)."""
        best: dict[str, Any] = {"Timestamp": self.best_timestamp}
        best["Face"] = self.best_face if self.best_face is not None else {"BoundingBox": self.best_box.to_api()}
        return {
            "Index": self.index,
            "StartTimestamp": self.start_ms,
            "EndTimestamp": self.end_ms,
            "DurationMillis": self.duration_ms,
            "DetectionCount": self.detections,
            "BoundingBox": self.extent.to_api(),
            "BoundingBoxes": [{"Timestamp": at, "BoundingBox": box.to_api()} for at, box in self.boxes()],
            "BestDetection": best,
        }


BEST_FRAMES = 3  # detections kept per appearance for a face embedding


class _Track:
    """An appearance being followed: its last box, heading and layout, and what it has gathered."""

    __slots__ = (
        "best",
        "best_box",
        "best_face",
        "best_score",
        "bests",
        "bottom",
        "boxes",
        "contested",
        "count",
        "hidden",
        "index",
        "last",
        "last_ms",
        "layout",
        "left",
        "right",
        "start_ms",
        "top",
        "vx",
        "vy",
    )

    def __init__(self, index: int, detection: Detection) -> None:
        box = detection.box
        self.index, self.start_ms, self.count = index, detection.timestamp, 0
        self.vx = self.vy = 0.0  # centre velocity, ratios of the frame per ms
        self.hidden = False  # last seen going behind another face
        self.contested = False  # another face competed for one of its last detections
        self.left, self.top = box.left, box.top
        self.right, self.bottom = box.left + box.width, box.top + box.height
        self.boxes = array("d")
        self.best_score = -1.0
        self.best, self.best_box, self.best_face = detection.timestamp, box, detection.face
        self.bests: list[tuple[float, int, Box]] = []
        self.last, self.last_ms, self.layout = box, detection.timestamp, detection.layout
        self.add(detection)

    def restart(self, index: int, detection: Detection) -> None:
        """Begin a new piece at ``detection`` (added by the caller), keeping where the face was heading."""
        box = detection.box
        self.index, self.start_ms, self.count = index, detection.timestamp, 0
        self.hidden = False
        self.left, self.top = box.left, box.top
        self.right, self.bottom = box.left + box.width, box.top + box.height
        self.boxes = array("d")
        self.best_score, self.bests = -1.0, []
        self.best, self.best_box, self.best_face = detection.timestamp, box, detection.face

    def add(self, detection: Detection) -> None:
        box, at = detection.box, detection.timestamp
        if self.count:
            elapsed = at - self.last_ms
            if elapsed > 0:
                old = self.last
                vx = (box.left + box.width / 2 - old.left - old.width / 2) / elapsed
                vy = (box.top + box.height / 2 - old.top - old.height / 2) / elapsed
                first_step = self.count == 1
                self.vx = vx if first_step else (self.vx + vx) / 2
                self.vy = vy if first_step else (self.vy + vy) / 2
        self.count += 1
        self.hidden = False
        self.last, self.last_ms = box, at
        if detection.layout:
            self.layout = detection.layout
        self.left, self.top = min(self.left, box.left), min(self.top, box.top)
        self.right = max(self.right, box.left + box.width)
        self.bottom = max(self.bottom, box.top + box.height)
        self.boxes.extend((at, box.left, box.top, box.width, box.height))
        if detection.score > self.best_score:
            self.best_score, self.best, self.best_box, self.best_face = detection.score, at, box, detection.face
        if len(self.bests) < BEST_FRAMES or detection.score > self.bests[-1][0]:
            self.bests.append((detection.score, at, box))
            self.bests.sort(key=lambda best: (-best[0], best[1]))
            del self.bests[BEST_FRAMES:]

    def predicted_centre(self, at: int) -> tuple[float, float]:
        elapsed = at - self.last_ms
        box = self.last
        return box.left + box.width / 2 + self.vx * elapsed, box.top + box.height / 2 + self.vy * elapsed

    def appearance(self) -> Appearance:
        return Appearance(
            index=self.index,
            start_ms=self.start_ms,
            end_ms=self.last_ms,
            detections=self.count,
            extent=Box(self.left, self.top, self.right - self.left, self.bottom - self.top),
            best_timestamp=self.best,
            best_box=self.best_box,
            best_face=self.best_face,
            _boxes=self.boxes,
            best_score=max(self.best_score, 0.0),
            best_frames=tuple((at, box) for _score, at, box in self.bests),
        )


def _size_class(side: float) -> int:
    return math.floor(math.log2(side))


class AppearanceTracker:
    """Feed it the frames of a job in time order (``add_frame``); it says which appearance each
    detection belongs to at once, and gives every appearance at the end (``finish``)."""

    def __init__(self, settings: TrackerSettings | None = None, cuts: Sequence[int] = (), pieces: bool = False) -> None:
        self.settings = settings or TrackerSettings()
        self._cuts = sorted(cuts)
        self._next_cut = 0  # the first cut not yet passed
        self._pieces = pieces
        self.links: list[tuple[int, int]] = []  # (earlier piece, later piece), with pieces=True
        self._step: int | None = None  # the sampling step: the shortest time between two frames
        self._open: list[_Track] = []
        self._closed: list[Appearance] = []
        self._count = 0
        self._last_ms: int | None = None
        self._finished: list[Appearance] | None = None
        self._aspect = DEFAULT_ASPECT  # width over height of the faces not cut by the frame, averaged

    def add_frame(self, timestamp: int, detections: Sequence[Detection]) -> list[int]:
        """The appearance index of each detection of the frame at ``timestamp`` (in the given order)."""
        if self._finished is not None:
            raise ValueError("the grouping is finished: no frame may follow")
        if self._last_ms is not None and timestamp < self._last_ms:
            raise ValueError(
                f"detections must come in time order: {timestamp} ms after {self._last_ms} ms "
                "(GetFaceDetection returns them sorted by Timestamp)"
            )
        previous_ms, self._last_ms = self._last_ms, timestamp
        if previous_ms is not None and timestamp > previous_ms:
            self._step = timestamp - previous_ms if self._step is None else min(self._step, timestamp - previous_ms)
        self._close_gone(timestamp)
        self._close_at_cuts(timestamp)
        # A deterministic order within the frame, whatever order the detections came in.
        order = sorted(range(len(detections)), key=lambda i: _position_key(detections[i]))
        pairs = self._candidate_pairs(timestamp, detections, order)
        pairs.sort()
        contested = _contested(pairs) if self._pieces else set()
        indexes: list[int | None] = [None] * len(detections)
        taken: set[int] = set()
        for _cost, _track_index, _rank, track, position in pairs:
            if track.index in taken:
                continue
            if indexes[position] is None:
                if self._pieces:
                    self._piece_break(track, detections[position], previous_ms, (track.index, position) in contested)
                taken.add(track.index)
                indexes[position] = track.index
                track.add(detections[position])
            elif not track.hidden and _covers(detections[position].box, track, timestamp):
                track.hidden = True  # another face took the place where this one was going
        for position in order:
            if indexes[position] is None:
                track = _Track(self._count, detections[position])
                self._count += 1
                self._open.append(track)
                indexes[position] = track.index
            box = detections[position].box
            if _cut(box) == (False, False):
                self._aspect = 0.95 * self._aspect + 0.05 * box.width / box.height
        return [index for index in indexes if index is not None]

    def finish(self) -> list[Appearance]:
        """Close every appearance and give them all, by index: the same list on every call, and no
        frame may follow."""
        if self._finished is None:
            self._closed.extend(track.appearance() for track in self._open)
            self._open = []
            self._finished = sorted(self._closed, key=lambda appearance: appearance.index)
        return self._finished

    def _piece_break(self, track: _Track, detection: Detection, previous_ms: int | None, contested: bool) -> None:
        """With pieces: end the track's piece before an uncertain link and start a new one."""
        # Missed: not seen in the frame before, or (frames without faces are not listed) longer
        # ago than one sampling step, the shortest time between two frames seen so far.
        missed = previous_ms is not None and track.last_ms < previous_ms
        missed = missed or (self._step is not None and detection.timestamp - track.last_ms > 1.5 * self._step)
        settled = track.contested and not contested  # the first clean link after a contest
        track.contested = contested
        if missed or track.hidden or settled:
            self._closed.append(track.appearance())
            self.links.append((track.index, self._count))
            track.restart(self._count, detection)
            self._count += 1

    def _close_at_cuts(self, timestamp: int) -> None:
        """A hard cut since the last frame ends every open appearance."""
        crossed = False
        while self._next_cut < len(self._cuts) and self._cuts[self._next_cut] <= timestamp:
            crossed = True
            self._next_cut += 1
        if crossed and self._open:
            self._closed.extend(track.appearance() for track in self._open)
            self._open = []

    def _close_gone(self, timestamp: int) -> None:
        still_open = []
        for track in self._open:
            limit = self.settings.max_hidden_ms if track.hidden else self.settings.max_gap_ms
            if timestamp - track.last_ms > limit:
                self._closed.append(track.appearance())
            else:
                still_open.append(track)
        self._open = still_open

    def _candidate_pairs(
        self, timestamp: int, detections: Sequence[Detection], order: list[int]
    ) -> list[tuple[float, int, int, _Track, int]]:
        """(cost, track index, rank in the frame, track, position) of every pair within reach.

        Each open track is entered in every cell of a grid (one per size class, cells about twice
        the class's face size) that a detection it may take can be centred in; each detection then
        looks in one cell per size class it could match. Both are a few cells whatever the number
        of faces on screen."""
        settings = self.settings
        ratio = settings.max_size_ratio
        grid: dict[tuple[int, int, int, int], list[tuple[_Track, float, float]]] = {}
        classes: set[tuple[int, int]] = set()
        for track in self._open:
            cx, cy = track.predicted_centre(timestamp)
            width, height = self._size(track.last)
            width_class, height_class = _size_class(width), _size_class(height)
            cell_x, cell_y = 2.0 ** (width_class + 1), 2.0 ** (height_class + 1)
            reach = settings.reach(timestamp - track.last_ms) * ratio  # a detection may be larger
            for column in range(
                math.floor((cx - reach * width) / cell_x), math.floor((cx + reach * width) / cell_x) + 1
            ):
                for row in range(
                    math.floor((cy - reach * height) / cell_y), math.floor((cy + reach * height) / cell_y) + 1
                ):
                    grid.setdefault((width_class, height_class, column, row), []).append((track, cx, cy))
            classes.add((width_class, height_class))
        pairs = []
        for rank, position in enumerate(order):
            detection = detections[position]
            box = detection.box
            centre_x, centre_y = box.left + box.width / 2, box.top + box.height / 2
            width, height = self._size(box)
            for width_class in range(_size_class(width / ratio), _size_class(width * ratio) + 1):
                for height_class in range(_size_class(height / ratio), _size_class(height * ratio) + 1):
                    if (width_class, height_class) not in classes:
                        continue
                    column = math.floor(centre_x / 2.0 ** (width_class + 1))
                    row = math.floor(centre_y / 2.0 ** (height_class + 1))
                    for track, cx, cy in grid.get((width_class, height_class, column, row), ()):
                        cost = self._cost(track, detection, timestamp, centre_x - cx, centre_y - cy)
                        if cost is not None:
                            pairs.append((cost, track.index, rank, track, position))
        return pairs

    def _cost(self, track: _Track, detection: Detection, timestamp: int, dx: float, dy: float) -> float | None:
        """How unlike the track's next detection this one is; None when out of reach."""
        settings = self.settings
        (old_width, old_height), (width, height) = self._size(track.last), self._size(detection.box)
        width_ratio, height_ratio = width / old_width, height / old_height
        low, high = 1 / settings.max_size_ratio, settings.max_size_ratio
        if not (low <= width_ratio <= high and low <= height_ratio <= high):
            return None
        shift_x, shift_y = abs(dx) / max(old_width, width), abs(dy) / max(old_height, height)
        reach = settings.reach(timestamp - track.last_ms)
        if shift_x > reach or shift_y > reach:
            return None
        cost = math.hypot(shift_x, shift_y)
        cost += settings.size_weight * (abs(math.log(width_ratio)) + abs(math.log(height_ratio)))
        if track.layout and detection.layout and _cut(track.last) == _cut(detection.box) == (False, False):
            points = len(detection.layout) // 2
            cost += (
                settings.landmark_weight
                * sum(
                    math.hypot(detection.layout[i] - track.layout[i], detection.layout[i + 1] - track.layout[i + 1])
                    for i in range(0, len(detection.layout), 2)
                )
                / points
            )
        return cost

    def _size(self, box: Box) -> tuple[float, float]:
        """The face's width and height; where the frame cuts the box, taken from its other side
        and the faces' usual shape (a face coming in from the left grows in width only)."""
        cut_x, cut_y = _cut(box)
        if cut_x and not cut_y:
            return max(box.width, box.height * self._aspect), box.height
        if cut_y and not cut_x:
            return box.width, max(box.height, box.width / self._aspect)
        return box.width, box.height


def _cut(box: Box) -> tuple[bool, bool]:
    """Whether the frame's left or right side, and its top or bottom, may cut the box."""
    return (
        box.left <= EDGE or box.left + box.width >= 1 - EDGE,
        box.top <= EDGE or box.top + box.height >= 1 - EDGE,
    )


def _covers(box: Box, track: _Track, timestamp: int, share: float = 0.3) -> bool:
    """Whether ``box`` covers at least ``share`` of where the track's face is expected."""
    cx, cy = track.predicted_centre(timestamp)
    width, height = track.last.width, track.last.height
    overlap_x = min(box.left + box.width, cx + width / 2) - max(box.left, cx - width / 2)
    overlap_y = min(box.top + box.height, cy + height / 2) - max(box.top, cy - height / 2)
    return overlap_x > 0 and overlap_y > 0 and overlap_x * overlap_y >= share * width * height


def _contested(pairs: list[tuple[float, int, int, _Track, int]]) -> set[tuple[int, int]]:
    """(track index, position) of the candidate pairs where the track could take another detection
    or the detection could go to another track."""
    per_track: dict[int, int] = {}
    per_position: dict[int, int] = {}
    for _cost, track_index, _rank, _track, position in pairs:
        per_track[track_index] = per_track.get(track_index, 0) + 1
        per_position[position] = per_position.get(position, 0) + 1
    return {
        (track_index, position)
        for _cost, track_index, _rank, _track, position in pairs
        if per_track[track_index] > 1 or per_position[position] > 1
    }


def _position_key(detection: Detection) -> tuple[float, float, float, float]:
    box = detection.box
    return (box.left, box.top, box.width, box.height)


def frames(faces: Iterable[dict[str, Any]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Consecutive face entries with the same Timestamp, as (timestamp, entries): one frame each."""
    frame: list[dict[str, Any]] = []
    for face in faces:
        if frame and face["Timestamp"] != frame[0]["Timestamp"]:
            yield frame[0]["Timestamp"], frame
            frame = []
        frame.append(face)
    if frame:
        yield frame[0]["Timestamp"], frame


@dataclass(frozen=True)
class Grouping:
    indexes: list[int]  # the appearance of each detection, in the order the detections were given
    appearances: list[Appearance]
    links: list[tuple[int, int]] = field(default_factory=list)  # with pieces: (earlier, later) position links


def group_appearances(
    detections: Iterable[Detection],
    settings: TrackerSettings | None = None,
    cuts: Sequence[int] = (),
    pieces: bool = False,
) -> Grouping:
    """Group detections (in any order; sorting costs nothing when, as from Rekognition, they come
    sorted by time) into appearances (or pieces, with their links in ``Grouping.links``)."""
    given = list(detections)
    order = sorted(range(len(given)), key=lambda i: given[i].timestamp)
    tracker = AppearanceTracker(settings, cuts, pieces)
    indexes = [0] * len(given)
    start = 0
    while start < len(order):
        end = start
        timestamp = given[order[start]].timestamp
        while end < len(order) and given[order[end]].timestamp == timestamp:
            end += 1
        positions = order[start:end]
        for position, index in zip(positions, tracker.add_frame(timestamp, [given[p] for p in positions]), strict=True):
            indexes[position] = index
        start = end
    return Grouping(indexes, tracker.finish(), tracker.links)
