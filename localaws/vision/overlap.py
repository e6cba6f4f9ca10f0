"""Boxes that straddle faces: a detection whose box covers most of two confirmed faces is not a face
of its own (RetinaFace sometimes proposes one box around two adjacent heads, and the second check can
pass it, since it does hold faces). The service reports the faces, not the pair."""

from __future__ import annotations

from .face import DetectedFace

STRADDLE_COVER = 0.6  # the share of another face's box that counts as "most of it"


def covered_share(outer: DetectedFace, inner: DetectedFace) -> float:
    """The share of ``inner``'s box that ``outer``'s box covers."""
    x1, y1 = max(outer.left, inner.left), max(outer.top, inner.top)
    x2 = min(outer.left + outer.width, inner.left + inner.width)
    y2 = min(outer.top + outer.height, inner.top + inner.height)
    area = inner.width * inner.height
    return max(0.0, x2 - x1) * max(0.0, y2 - y1) / area if area > 0 else 0.0


def without_straddling(faces: list[DetectedFace]) -> list[DetectedFace]:
    """``faces`` less every face whose box covers at least ``STRADDLE_COVER`` of two or more others."""
    return [
        face
        for face in faces
        if sum(other is not face and covered_share(face, other) >= STRADDLE_COVER for other in faces) < 2
    ]
