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
* before the first detection, within ``extend_ms`` of it: the centre moves back along the first
  motion (velocity between the first two detections), the size is the first one's; tau = t_first - t;
  after the last detection likewise forward, with tau = t - t_last;
* speed v = the largest |velocity| of the segment and its two neighbours (ratios of the frame per
  second), and at least ``min_end_speed`` face sizes per second beyond the ends, where the motion is
  unknown;
* margin on each side = ``base_margin`` x size + ``motion_margin`` x v x (tau + ``slack_ms``) / 1000.

So at a detection's own frame the margin is ``base_margin`` x size plus what the face moves in
``slack_ms`` (the timestamp's rounding to a frame); halfway between detections it is widest. With the
defaults (0.25, 1.0, 50 ms), a face 200 px tall crossing a 1920 px frame in 2 seconds, sampled every
500 ms, gets a margin of 50 px + 960 px/s x 0.3 s = 338 px each side horizontally halfway between
samples: it may have moved anywhere within the distance it covered in that time.

``extend_ms`` defaults to one sampling interval of the job (the median step between consecutive
detections of an appearance): a face first detected at t_first may have been on screen since just
after the previous sample, t_first - interval.

Pure functions over the results (no video, no PyAV): boxes are ratios of the coded frame, as
Rekognition's are, and are turned into pixels only by ``FaceBox.pixels``.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..appearances import Appearance

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

    __slots__ = ("cx", "cy", "h", "index", "speed_x", "speed_y", "times", "w")

    def __init__(self, appearance: Appearance) -> None:
        self.index = appearance.index
        self.times: list[float] = []
        self.cx: list[float] = []
        self.cy: list[float] = []
        self.w: list[float] = []
        self.h: list[float] = []
        for at, box in appearance.boxes():
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

    def _merge_last(self, left: float, top: float, width: float, height: float) -> None:
        x0 = min(self.cx[-1] - self.w[-1] / 2, left)
        y0 = min(self.cy[-1] - self.h[-1] / 2, top)
        x1 = max(self.cx[-1] + self.w[-1] / 2, left + width)
        y1 = max(self.cy[-1] + self.h[-1] / 2, top + height)
        self.cx[-1], self.cy[-1], self.w[-1], self.h[-1] = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0

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

    def box_at(self, t: float, padding: Padding, extend_ms: float) -> FaceBox | None:
        """The padded box at ``t`` ms, or None outside [start - extend_ms, end + extend_ms]."""
        times = self.times
        if t < times[0] - extend_ms or t > times[-1] + extend_ms:
            return None
        last = len(times) - 1
        if t <= times[0] or t >= times[-1]:
            at = 0 if t <= times[0] else last
            segment = 0 if at == 0 else last - 1
            direction = -1.0 if at == 0 else 1.0  # the velocity's sign along time
            tau = abs(t - times[at])
            vx_signed = self._velocity(self.cx, segment)
            vy_signed = self._velocity(self.cy, segment)
            cx = self.cx[at] + vx_signed * tau / 1000 * direction
            cy = self.cy[at] + vy_signed * tau / 1000 * direction
            w, h = self.w[at], self.h[at]
            speed_x = max(abs(vx_signed), padding.min_end_speed * w) if tau > 0 else abs(vx_signed)
            speed_y = max(abs(vy_signed), padding.min_end_speed * h) if tau > 0 else abs(vy_signed)
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
        pad_x = padding.base_margin * w + padding.motion_margin * speed_x * reach
        pad_y = padding.base_margin * h + padding.motion_margin * speed_y * reach
        return FaceBox(self.index, cx - w / 2 - pad_x, cy - h / 2 - pad_y, w + 2 * pad_x, h + 2 * pad_y)

    def _velocity(self, centres: list[float], segment: int) -> float:
        """Signed velocity of a segment (ratios per second), 0 for a single detection."""
        if len(self.times) < 2:
            return 0.0
        return (centres[segment + 1] - centres[segment]) * 1000 / (self.times[segment + 1] - self.times[segment])


def sampling_interval(appearances: Iterable[Appearance]) -> float:
    """The job's sampling interval in ms: the median step between consecutive detections of one
    appearance (bounded to 40-2000 ms); 500 ms when no appearance has two detections."""
    steps: list[float] = []
    for appearance in appearances:
        previous: float | None = None
        for at, _box in appearance.boxes():
            if previous is not None and at > previous:
                steps.append(at - previous)
            previous = at
    if not steps:
        return DEFAULT_INTERVAL_MS
    return min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, statistics.median(steps)))


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
        self.tracks = sorted(
            (Track(appearance) for appearance in appearances if appearance.index not in kept and appearance.detections),
            key=lambda track: (track.start, track.index),
        )
        self.kept_tracks = [Track(appearance) for appearance in appearances if appearance.index in kept]
        self._next = 0  # the first track not yet started
        self._active: list[Track] = []
        self._last_t = -math.inf

    def boxes_at(self, t: float) -> list[FaceBox]:
        """Every box to cover in the frame shown at ``t`` ms, by appearance index."""
        if t < self._last_t:  # out of order: start over
            self._next, self._active = 0, []
        self._last_t = t
        while self._next < len(self.tracks) and self.tracks[self._next].start - self.extend_ms <= t:
            self._active.append(self.tracks[self._next])
            self._next += 1
        self._active = [track for track in self._active if track.end + self.extend_ms >= t]
        boxes = [box for track in self._active if (box := track.box_at(t, self.padding, self.extend_ms)) is not None]
        return sorted(boxes, key=lambda box: box.appearance)

    def kept_at(self, t: float) -> list[FaceBox]:
        """The boxes of the appearances left uncovered (``keep``) at ``t``, for the audit to ignore."""
        found = (track.box_at(t, self.padding, self.extend_ms) for track in self.kept_tracks)
        return [box for box in found if box is not None]
