"""A face as the detectors find it, in pixel coordinates: the one type the whole vision engine shares."""

from __future__ import annotations

from dataclasses import dataclass, replace

Point = tuple[float, float]


@dataclass(frozen=True)
class DetectedFace:
    """A face in pixel coordinates of the frame it was found in.

    ``landmarks`` are eye left, eye right, nose, mouth left, mouth right, where left and right are
    as seen in the image (eyeLeft has the smaller x in a frontal face), like Rekognition's.
    """

    left: float
    top: float
    width: float
    height: float
    confidence: float  # 0-1
    landmarks: tuple[Point, Point, Point, Point, Point]

    def scaled(self, factor: float) -> DetectedFace:
        """The same face in a frame ``factor`` times larger."""
        return replace(
            self,
            left=self.left * factor,
            top=self.top * factor,
            width=self.width * factor,
            height=self.height * factor,
            landmarks=tuple((x * factor, y * factor) for x, y in self.landmarks),  # type: ignore[arg-type]  # still 5 points
        )

    def at_least(self, side: float) -> bool:
        """Whether both sides of the box are at least ``side`` pixels."""
        return self.width >= side and self.height >= side
