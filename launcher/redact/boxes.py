"""Where to cover each face in each frame: a job's appearances turned into a box per face per frame.

Rekognition samples a video (a few frames a second), so a face is known only at its detections'
timestamps. Every frame between two detections of an appearance gets a box interpolated between
them; the frames just before an appearance's first detection and just after its last get a box
extrapolated from its first or last motion; and every box is padded by a margin that grows with how
fast the face moves and how far the frame is from a detection, so that a face that speeds up, slows
down or turns between samples is still covered.

The box of appearance A at time t (milliseconds), per axis (x with widths, y with heights):

* between detections i and i+1 (t_i <= t <= t_i+1): centre and size are linear between theirs;
  tau = min(t - t_i, t_i+1 - t) is the time to the nearer detection;
* before the first detection, within ``extend_ms`` of it: the box is the union of the first
  detection's and of that box moved back along the first motion (velocity between the first two
  detections), so a face that was slower before it was seen stays covered too; tau = t_first - t;
  after the last detection likewise forward, with tau = t - t_last. An end whose box touches the
  frame's side (the face was coming in or going out, only partly visible, which detectors miss) is
  extended ``edge_factor`` times as long; an end whose motion brings the box's leading side to the
  frame's side within one sampling interval is extended until the box has wholly left the frame
  (plus ``slack_ms``, at most ``edge_factor`` intervals), wherever it is now. A single detection's
  "first motion" and "last motion" are the ones its bridges lend it, and after it the box moves
  forward along the motion, before it backward;
* between detections, speed v = the largest |velocity| of the segment and its two neighbours
  (ratios of the frame per second), and margin on each side
  = ``base_margin`` x size + ``motion_margin`` x v x (tau + ``slack_ms``) / 1000;
* beyond an end, where the union already covers any speed from 0 to the end's along its direction,
  margin = ``base_margin`` x size + ``motion_margin`` x (|v_end| x ``slack_ms``
  + ``min_end_speed`` x size x (tau + ``slack_ms``)) / 1000 (for tau > 0).

So at a detection's own frame the margin is ``base_margin`` x size plus what the face moves in
``slack_ms`` (the timestamp's rounding to a frame); halfway between detections it is widest. With the
defaults (0.25, 1.0, 50 ms), a face 200 px wide crossing a 1920 px frame in 2 seconds, sampled every
500 ms, gets a margin of 50 px + 960 px/s x 0.3 s = 338 px each side horizontally halfway between
samples: it may have moved anywhere within the distance it covered in that time.

Two appearances that may be one face the grouping could not follow (it moved further between
samples than grouping allows) are joined by a bridge (``bridges``): the gap between them is covered
as if they were one appearance. Bridges are looked for over kept (``--redact-keep``) and covered
appearances together: a bridge between two kept ones stays uncovered (and is not a leak for the
audit), one between a kept and a covered appearance is covered (which face is in the gap is a
guess, and the guess that hides it is the safe one), and a kept single detection moves along its
bridges' motion in the boxes the audit does not count, as a covered one does in the boxes covered.

``extend_ms`` defaults to one sampling interval of the job (the median step between consecutive
timestamps with a face): a face first detected at t_first may have been on screen since just
after the previous sample, t_first - interval.

Pure functions over the results (no video, no PyAV): boxes are ratios of the coded frame, as
Rekognition's are, and are turned into pixels only by ``FaceBox.pixels``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..jobs.appearances import EDGE, Appearance, Box

DEFAULT_INTERVAL_MS = 500.0  # the sampling interval assumed when no appearance has two detections
MIN_INTERVAL_MS, MAX_INTERVAL_MS = 40.0, 2000.0  # bounds of the inferred interval


@dataclass(frozen=True)
class Padding:
    """The documented margin (module docstring): what it is made of and how much of each."""

    base_margin: float = 0.25  # of the face's width (height) on the left and right (top and bottom)
    motion_margin: float = 1.0  # times the distance the face moves in the time to the nearest detection
    slack_ms: float = 50.0  # timing uncertainty of a detection (a timestamp is rounded to a frame)
    min_end_speed: float = 0.5  # face sizes per second assumed beyond an appearance's ends
    extend_ms: float | None = None  # beyond the first and last detection; None: one sampling interval
    edge_factor: float = 3.0  # ... times this at an end whose box touches the frame's side
    split_intervals: float = 1.5  # a track is cut where it went longer without a detection (``split``)
    bridge_intervals: float = 2.0  # bridges (``bridges``): the longest gap, in sampling intervals ...
    bridge_speed: float = 12.0  # ... the fastest motion, in face sizes per second ...
    max_size_ratio: float = 1.5  # ... and the largest change of width or height
    bridges_per_end: int = 2  # an end (a start) may be the nearest candidate of this many others


@dataclass(frozen=True)
class FaceBox:
    """A padded box to cover, in ratios of the frame (it may reach outside it)."""

    appearance: int
    left: float
    top: float
    width: float
    height: float

    def pixels(self, frame_width: int, frame_height: int, align: int = 2) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) in pixels, rounded outwards to multiples of ``align`` (so that 4:2:0
        chroma covers it too) and clipped to the frame; None when nothing of it is in the frame."""
        x0 = max(0, math.floor(self.left * frame_width / align) * align)
        y0 = max(0, math.floor(self.top * frame_height / align) * align)
        x1 = min(frame_width, math.ceil((self.left + self.width) * frame_width / align) * align)
        y1 = min(frame_height, math.ceil((self.top + self.height) * frame_height / align) * align)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1


class Track:
    """One appearance's detections as parallel lists (time, centre, size), for interpolation."""

    __slots__ = (
        "after_ms",
        "before_ms",
        "cx",
        "cy",
        "end_velocity",
        "h",
        "index",
        "speed_x",
        "speed_y",
        "start_velocity",
        "times",
        "w",
    )

    def __init__(
        self,
        index: int,
        boxes: Iterable[tuple[int, Box]],
        extend_ms: float = DEFAULT_INTERVAL_MS,
        edge_factor: float = 1.0,
    ) -> None:
        self.index = index
        self.times: list[float] = []
        self.cx: list[float] = []
        self.cy: list[float] = []
        self.w: list[float] = []
        self.h: list[float] = []
        for at, box in boxes:
            if self.times and at <= self.times[-1]:  # two boxes at one timestamp: keep the union
                self._merge_last(box.left, box.top, box.width, box.height)
                continue
            self.times.append(float(at))
            self.cx.append(box.left + box.width / 2)
            self.cy.append(box.top + box.height / 2)
            self.w.append(box.width)
            self.h.append(box.height)
        # |velocity| of each segment (ratios per second); segment i runs from detection i to i+1.
        self.speed_x = [
            abs(self.cx[i + 1] - self.cx[i]) * 1000 / (self.times[i + 1] - self.times[i])
            for i in range(len(self.times) - 1)
        ]
        self.speed_y = [
            abs(self.cy[i + 1] - self.cy[i]) * 1000 / (self.times[i + 1] - self.times[i])
            for i in range(len(self.times) - 1)
        ]
        # A single detection has no motion of its own; a bridge may lend it one (``bridges``).
        self.start_velocity: tuple[float, float] | None = None
        self.end_velocity: tuple[float, float] | None = None
        self.before_ms = extend_ms * (edge_factor if self._at_side(0) else 1.0)
        self.after_ms = extend_ms * (edge_factor if self._at_side(-1) else 1.0)

    def _at_side(self, at: int) -> bool:
        """Whether the detection's box touches a side of the frame."""
        half_w, half_h = self.w[at] / 2, self.h[at] / 2
        return (
            self.cx[at] - half_w <= EDGE
            or self.cx[at] + half_w >= 1 - EDGE
            or self.cy[at] - half_h <= EDGE
            or self.cy[at] + half_h >= 1 - EDGE
        )

    def _merge_last(self, left: float, top: float, width: float, height: float) -> None:
        x0 = min(self.cx[-1] - self.w[-1] / 2, left)
        y0 = min(self.cy[-1] - self.h[-1] / 2, top)
        x1 = max(self.cx[-1] + self.w[-1] / 2, left + width)
        y1 = max(self.cy[-1] + self.h[-1] / 2, top + height)
        self.cx[-1], self.cy[-1], self.w[-1], self.h[-1] = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0

    @classmethod
    def of(cls, appearance: Appearance, extend_ms: float = DEFAULT_INTERVAL_MS, edge_factor: float = 1.0) -> Track:
        return cls(appearance.index, appearance.boxes(), extend_ms, edge_factor)

    def box(self, at: int) -> Box:
        """The detection's box (unpadded)."""
        return Box(self.cx[at] - self.w[at] / 2, self.cy[at] - self.h[at] / 2, self.w[at], self.h[at])

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def _segment_speed(self, speeds: list[float], segment: int) -> float:
        """The largest speed of the segment and its neighbours (0 for a single detection)."""
        near = speeds[max(0, segment - 1) : segment + 2]
        return max(near, default=0.0)

    def box_at(self, t: float, padding: Padding) -> FaceBox | None:
        """The padded box at ``t`` ms, or None outside [start - before_ms, end + after_ms]."""
        times = self.times
        if t < times[0] - self.before_ms or t > times[-1] + self.after_ms:
            return None
        last = len(times) - 1
        outside = t <= times[0] or t >= times[-1]
        if outside:
            # Before the start or after the end (with one detection, index 0 is both: which side
            # of it ``t`` is decides the direction and the motion used, not the index).
            after = t >= times[-1] and t > times[0]
            at = last if after else 0
            segment = max(0, last - 1) if after else 0
            direction = 1.0 if after else -1.0  # the velocity's sign along time
            tau = abs(t - times[at])
            lent = self.end_velocity if after else self.start_velocity
            if len(times) < 2 and lent is not None:
                vx_signed, vy_signed = lent
            else:
                vx_signed = self._velocity(self.cx, segment)
                vy_signed = self._velocity(self.cy, segment)
            # The union of the end box and the box moved along the end's motion: centre halfway,
            # each side grown by half the shift.
            shift_x = vx_signed * tau / 1000 * direction
            shift_y = vy_signed * tau / 1000 * direction
            cx, cy = self.cx[at] + shift_x / 2, self.cy[at] + shift_y / 2
            w, h = self.w[at] + abs(shift_x), self.h[at] + abs(shift_y)
            end_w, end_h = self.w[at], self.h[at]
            # Beyond the end, the union covers any speed from 0 to the end's along its direction;
            # the margin adds the end's speed over the slack, and ``min_end_speed`` for the rest.
            speed_x = abs(vx_signed) * padding.slack_ms / (tau + padding.slack_ms or 1.0)
            speed_y = abs(vy_signed) * padding.slack_ms / (tau + padding.slack_ms or 1.0)
            if tau > 0:
                speed_x += padding.min_end_speed * end_w
                speed_y += padding.min_end_speed * end_h
        else:
            i = bisect.bisect_right(times, t) - 1  # times[i] <= t < times[i + 1]
            t0, t1 = times[i], times[i + 1]
            alpha = (t - t0) / (t1 - t0)
            cx = self.cx[i] + (self.cx[i + 1] - self.cx[i]) * alpha
            cy = self.cy[i] + (self.cy[i + 1] - self.cy[i]) * alpha
            w = self.w[i] + (self.w[i + 1] - self.w[i]) * alpha
            h = self.h[i] + (self.h[i + 1] - self.h[i]) * alpha
            tau = min(t - t0, t1 - t)
            speed_x = self._segment_speed(self.speed_x, i)
            speed_y = self._segment_speed(self.speed_y, i)
        reach = (tau + padding.slack_ms) / 1000
        face_w, face_h = (end_w, end_h) if outside else (w, h)
        pad_x = padding.base_margin * face_w + padding.motion_margin * speed_x * reach
        pad_y = padding.base_margin * face_h + padding.motion_margin * speed_y * reach
        return FaceBox(self.index, cx - w / 2 - pad_x, cy - h / 2 - pad_y, w + 2 * pad_x, h + 2 * pad_y)

    def end_motion(self, after: bool) -> tuple[float, float] | None:
        """The signed velocity (ratios of the frame per second) at the start or end: the first or
        last segment's, or for a single detection the one a bridge lent it (None if none)."""
        if len(self.times) >= 2:
            segment = len(self.times) - 2 if after else 0
            return self._velocity(self.cx, segment), self._velocity(self.cy, segment)
        return self.end_velocity if after else self.start_velocity

    def leaving_ms(self, after: bool) -> tuple[float, float]:
        """Moving on as it moved after the last detection (``after``), or back before the first:
        how long until the box's leading side reaches the frame's side, and until the box is
        wholly outside the frame (infinite for a box that does not move)."""
        motion = self.end_motion(after)
        if motion is None:
            return math.inf, math.inf
        at = -1 if after else 0
        sign = 1.0 if after else -1.0
        reach, gone = math.inf, math.inf
        for centre, half, velocity in (
            (self.cx[at], self.w[at] / 2, motion[0] * sign),
            (self.cy[at], self.h[at] / 2, motion[1] * sign),
        ):
            if velocity:
                ahead = 1 - centre if velocity > 0 else centre  # to the side it moves towards
                reach = min(reach, max(0.0, ahead - half) / abs(velocity) * 1000)
                gone = min(gone, max(0.0, ahead + half) / abs(velocity) * 1000)
        return reach, gone

    def extend_to_exit(self, interval_ms: float, limit_ms: float, slack_ms: float) -> None:
        """At an extended end whose motion takes the face to the frame's side within one sampling
        interval, extend to when it has wholly left (plus the slack; at most ``limit_ms``): at the
        next sample it was only partly visible, which detectors miss, and part of it still showed
        until then."""
        for after in (False, True):
            current = self.after_ms if after else self.before_ms
            if not current:  # an end that is not extended (a gap or a bridge)
                continue
            reach, gone = self.leaving_ms(after)
            if reach <= interval_ms:
                extended = max(current, min(limit_ms, gone + slack_ms))
                if after:
                    self.after_ms = extended
                else:
                    self.before_ms = extended

    def _velocity(self, centres: list[float], segment: int) -> float:
        """Signed velocity of a segment (ratios per second), 0 for a single detection."""
        if len(self.times) < 2:
            return 0.0
        return (centres[segment + 1] - centres[segment]) * 1000 / (self.times[segment + 1] - self.times[segment])


def sampling_interval(appearances: Iterable[Appearance]) -> float:
    """The job's sampling interval in ms: the median step between consecutive timestamps with a
    face, all appearances together (an appearance's own steps can be longer: missed samples, or
    another face taken for it), bounded to 40-2000 ms; 500 ms with fewer than two timestamps."""
    times = sorted({at for appearance in appearances for at, _box in appearance.boxes()})
    steps = [later - earlier for earlier, later in itertools.pairwise(times)]
    if not steps:
        return DEFAULT_INTERVAL_MS
    return min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, statistics.median(steps)))


def split(track: Track, padding: Padding, interval_ms: float) -> list[Track]:
    """The track cut where it went longer than ``split_intervals`` sampling intervals without a
    detection (samples where the face was missed: hidden, turned, or another face taken for it):
    each piece is extended at its ends and may be bridged like an appearance of its own, and the
    gap keeps its interpolated box too (a track of two detections, not extended)."""
    limit = padding.split_intervals * interval_ms
    cuts = [i + 1 for i in range(len(track.times) - 1) if track.times[i + 1] - track.times[i] > limit]
    if not cuts:
        return [track]
    pieces, gaps = [], []
    bounds = [0, *cuts, len(track.times)]
    for first, end in itertools.pairwise(bounds):
        boxes = [(int(track.times[i]), track.box(i)) for i in range(first, end)]
        piece = Track(track.index, boxes, extend_ms=0.0)
        piece.before_ms, piece.after_ms = track.before_ms, track.after_ms
        if first:  # an inner end: one interval, whatever the frame's side
            piece.before_ms = interval_ms
        if end < len(track.times):
            piece.after_ms = interval_ms
        pieces.append(piece)
    for cut in cuts:
        gap = [(int(track.times[i]), track.box(i)) for i in (cut - 1, cut)]
        gaps.append(Track(track.index, gap, extend_ms=0.0))
    return pieces + gaps


def bridges(
    tracks: Sequence[Track], padding: Padding, interval_ms: float, kept: Iterable[int] = ()
) -> tuple[list[Track], list[Track]]:
    """Tracks covering the gap between an appearance's end and another's start that may be the same
    face, which the grouping could not join (it moved further between two samples than grouping
    allows, or crossed another face): the later one starts at most ``bridge_intervals`` sampling
    intervals after the earlier one ends, at a similar size (each side within ``max_size_ratio``),
    no further than ``bridge_speed`` face sizes per second could go, of another appearance. Closest
    pairs first, each end and start in at most ``bridges_per_end`` bridges (two: when faces cross,
    which went where is a guess). A wrong bridge only covers more than needed; a missing one
    would leave a fast face uncovered between its two appearances.

    Returns the bridges to cover and those between two appearances of ``kept`` (left uncovered,
    and not leaks for the audit). A bridge between a kept and a covered appearance is covered:
    which of the two faces is in the gap is a guess, and the guess that hides a face is the safe
    one. Every bridge lends its motion to the single detections at its ends, kept or not."""
    kept_indexes = set(kept)
    window = padding.bridge_intervals * interval_ms
    ends = sorted(tracks, key=lambda track: track.end)
    starts = sorted(tracks, key=lambda track: track.start)
    begin = 0
    pairs: list[tuple[float, int, int, Track, Track]] = []
    for earlier in ends:
        while begin < len(starts) and starts[begin].start <= earlier.end:
            begin += 1
        for later in starts[begin:]:
            gap = later.start - earlier.end
            if gap > window:
                break
            if later.index == earlier.index:  # pieces of one appearance: its gap track joins them
                continue
            cost = _bridge_cost(earlier.box(-1), later.box(0), gap, padding)
            if cost is not None:
                pairs.append((cost, earlier.index, later.index, earlier, later))
    pairs.sort(key=lambda pair: pair[:3])
    used_ends: Counter[int] = Counter()
    used_starts: Counter[int] = Counter()
    made: list[Track] = []
    made_kept: list[Track] = []
    for _cost, _earlier_index, _later_index, earlier, later in pairs:
        if used_ends[id(earlier)] >= padding.bridges_per_end or used_starts[id(later)] >= padding.bridges_per_end:
            continue
        used_ends[id(earlier)] += 1
        used_starts[id(later)] += 1
        boxes = [(int(earlier.end), earlier.box(-1)), (int(later.start), later.box(0))]
        bridge = Track(earlier.index, boxes, extend_ms=0.0)
        velocity = (bridge._velocity(bridge.cx, 0), bridge._velocity(bridge.cy, 0))
        earlier.end_velocity = earlier.end_velocity or velocity
        later.start_velocity = later.start_velocity or velocity
        both_kept = earlier.index in kept_indexes and later.index in kept_indexes
        (made_kept if both_kept else made).append(bridge)
    for track in tracks:  # a single detection moves on as it came, or came as it moves on
        if len(track.times) == 1:
            track.start_velocity = track.start_velocity or track.end_velocity
            track.end_velocity = track.end_velocity or track.start_velocity
    return made, made_kept


def _bridge_cost(first: Box, second: Box, gap_ms: float, padding: Padding) -> float | None:
    """How far apart two boxes are in face sizes; None if not within reach or not of a size."""
    ratio = padding.max_size_ratio
    for old, new in ((first.width, second.width), (first.height, second.height)):
        if not 1 / ratio <= new / old <= ratio:
            return None
    size_x, size_y = max(first.width, second.width), max(first.height, second.height)
    shift_x = abs(second.left + second.width / 2 - first.left - first.width / 2) / size_x
    shift_y = abs(second.top + second.height / 2 - first.top - first.height / 2) / size_y
    reach = 1 + padding.bridge_speed * gap_ms / 1000
    if shift_x > reach or shift_y > reach:
        return None
    return math.hypot(shift_x, shift_y)


class Timeline:
    """The boxes to cover at any time, for frames asked for in time order (any order works; in
    order, each call looks only at the appearances on screen around then)."""

    def __init__(
        self, appearances: Sequence[Appearance], padding: Padding | None = None, keep: Iterable[int] = ()
    ) -> None:
        self.padding = padding or Padding()
        self.extend_ms = (
            self.padding.extend_ms if self.padding.extend_ms is not None else sampling_interval(appearances)
        )
        kept = set(keep)
        self.kept = sorted(kept)
        edge = self.padding.edge_factor
        covered: list[Track] = []
        kept_tracks: list[Track] = []
        for appearance in appearances:
            if appearance.detections:
                pieces = split(Track.of(appearance, self.extend_ms, edge), self.padding, self.extend_ms)
                (kept_tracks if appearance.index in kept else covered).extend(pieces)
        # Bridges over kept and covered appearances together: a kept face's single detection moves
        # as the bridge to a covered one says (for the audit's kept boxes), and the other way round.
        ends = [track for track in covered + kept_tracks if track.before_ms or track.after_ms]
        joined, joined_kept = bridges(ends, self.padding, self.extend_ms, kept)
        covered += joined
        # An end heading out of the frame is extended until the face has left (at most as long as
        # an end at the frame's side), whichever side of the frame it is on now.
        for track in ends:
            track.extend_to_exit(self.extend_ms, edge * self.extend_ms, self.padding.slack_ms)
        self.tracks = sorted(covered, key=lambda track: (track.start - track.before_ms, track.index))
        self.kept_tracks = kept_tracks + joined_kept
        self._next = 0  # the first track not yet started
        self._active: list[Track] = []
        self._last_t = -math.inf

    def boxes_at(self, t: float) -> list[FaceBox]:
        """Every box to cover in the frame shown at ``t`` ms, by appearance index."""
        if t < self._last_t:  # out of order: start over
            self._next, self._active = 0, []
        self._last_t = t
        while self._next < len(self.tracks) and self.tracks[self._next].start - self.tracks[self._next].before_ms <= t:
            self._active.append(self.tracks[self._next])
            self._next += 1
        self._active = [track for track in self._active if track.end + track.after_ms >= t]
        boxes = [box for track in self._active if (box := track.box_at(t, self.padding)) is not None]
        return sorted(boxes, key=lambda box: box.appearance)

    def kept_at(self, t: float) -> list[FaceBox]:
        """The boxes of the appearances left uncovered (``keep``) at ``t``, for the audit to ignore."""
        found = (track.box_at(t, self.padding) for track in self.kept_tracks)
        return [box for box in found if box is not None]
