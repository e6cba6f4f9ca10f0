"""Writing a job's faces: streamed page by page (memory does not grow with the result), into a
temporary file beside the target that is renamed over it only when complete."""

from __future__ import annotations

import csv
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

FORMATS = ("json", "jsonl", "csv")
CSV_COLUMNS = (
    "timestamp_ms",
    "left",
    "top",
    "width",
    "height",
    "confidence",
    "roll",
    "yaw",
    "pitch",
    "brightness",
    "sharpness",
)
# The response members written before the faces, in the service's order.
HEADER_MEMBERS = ("JobStatus", "StatusMessage", "VideoMetadata", "JobId", "Video", "JobTag")


@dataclass
class Summary:
    faces: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    video_ms: int | None = None

    def add(self, face: dict[str, Any]) -> None:
        self.faces += 1
        timestamp = face["Timestamp"]
        self.first_ms = timestamp if self.first_ms is None else min(self.first_ms, timestamp)
        self.last_ms = timestamp if self.last_ms is None else max(self.last_ms, timestamp)

    def describe(self) -> str:
        length = f"{self.video_ms / 1000:.1f} s" if self.video_ms is not None else "unknown length"
        if self.first_ms is None or self.last_ms is None:
            return f"no faces found in the video ({length})"
        return (
            f"{self.faces} face(s) found from {self.first_ms / 1000:.1f} s to {self.last_ms / 1000:.1f} s "
            f"of a {length} video"
        )


def _csv_row(face: dict[str, Any]) -> list[Any]:
    detail = face["Face"]
    box, pose, quality = detail["BoundingBox"], detail.get("Pose", {}), detail.get("Quality", {})
    return [
        face["Timestamp"],
        box["Left"],
        box["Top"],
        box["Width"],
        box["Height"],
        detail.get("Confidence"),
        pose.get("Roll"),
        pose.get("Yaw"),
        pose.get("Pitch"),
        quality.get("Brightness"),
        quality.get("Sharpness"),
    ]


def _write_json(stream: TextIO, first_page: dict[str, Any], faces: Iterable[dict[str, Any]]) -> None:
    """One document shaped like a GetFaceDetection response, with every page's Faces merged."""
    stream.write("{")
    for member in HEADER_MEMBERS:
        if member in first_page:
            stream.write(f"{json.dumps(member)}: {json.dumps(first_page[member])}, ")
    stream.write('"Faces": [')
    for index, face in enumerate(faces):
        stream.write(("," if index else "") + "\n  " + json.dumps(face))
    stream.write("\n]}\n")


def _write_jsonl(stream: TextIO, first_page: dict[str, Any], faces: Iterable[dict[str, Any]]) -> None:
    for face in faces:
        stream.write(json.dumps(face) + "\n")


def _write_csv(stream: TextIO, first_page: dict[str, Any], faces: Iterable[dict[str, Any]]) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for face in faces:
        writer.writerow(_csv_row(face))


_WRITERS: dict[str, Callable[[TextIO, dict[str, Any], Iterable[dict[str, Any]]], None]] = {
    "json": _write_json,
    "jsonl": _write_jsonl,
    "csv": _write_csv,
}


def write_results(
    pages: Iterator[dict[str, Any]], out: Path, fmt: str, on_face: Callable[[], object] = lambda: None
) -> Summary:
    """Stream every page's faces to ``out`` in ``fmt``; the file appears only once it is whole."""
    first_page = next(pages)
    summary = Summary(video_ms=first_page.get("VideoMetadata", {}).get("DurationMillis"))

    def faces() -> Iterator[dict[str, Any]]:
        for page in itertools.chain([first_page], pages):
            for face in page.get("Faces", []):
                summary.add(face)
                on_face()
                yield face

    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="" if fmt == "csv" else None) as stream:
            _WRITERS[fmt](stream, first_page, faces())
        os.chmod(partial, 0o644)  # mkstemp makes it private; a result file is an ordinary file
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return summary
