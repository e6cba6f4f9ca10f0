"""Writing a job's faces: streamed page by page (memory does not grow with the result), into a
temporary file beside the target that is renamed over it only when complete.

Each face is grouped into an appearance as it streams by (``launcher.jobs.appearances``): a face entry
gets its ``AppearanceIndex`` beside ``Timestamp`` and ``Face`` (a key GetFaceDetection readers do not
know, so they ignore it), and the JSON document ends with ``Appearances``. What is kept in memory is
a few numbers per face for the appearances' boxes over time.

Standard library only (no tqdm, no PyAV): a Lambda function writes the same document.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .appearances import Appearance, AppearanceTracker, Detection, TrackerSettings, frames

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
    "appearance",
)
# The response members written before the faces, in the service's order.
HEADER_MEMBERS = ("JobStatus", "StatusMessage", "VideoMetadata", "JobId", "Video", "JobTag")


@dataclass
class Summary:
    faces: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    video_ms: int | None = None
    header: dict[str, Any] = field(default_factory=dict)  # the response members before Faces
    appearances: list[Appearance] = field(default_factory=list)

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
            f"of a {length} video, in {len(self.appearances)} appearance(s)"
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
        face["AppearanceIndex"],
    ]


def _write_json(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], tracker: AppearanceTracker
) -> None:
    """One document shaped like a GetFaceDetection response, with every page's Faces merged, then
    the Appearances."""
    stream.write("{")
    for member, value in header.items():
        stream.write(f"{json.dumps(member)}: {json.dumps(value)}, ")
    stream.write('"Faces": [')
    for index, face in enumerate(faces):
        stream.write(("," if index else "") + "\n  " + json.dumps(face))
    stream.write('\n], "Appearances": [')
    for index, appearance in enumerate(tracker.finish()):
        stream.write(("," if index else "") + "\n  " + json.dumps(appearance.to_api()))
    stream.write("\n]}\n")


def _write_jsonl(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], tracker: AppearanceTracker
) -> None:
    for face in faces:
        stream.write(json.dumps(face) + "\n")


def _write_csv(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], tracker: AppearanceTracker
) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for face in faces:
        writer.writerow(_csv_row(face))


_WRITERS: dict[str, Callable[[TextIO, dict[str, Any], Iterable[dict[str, Any]], AppearanceTracker], None]] = {
    "json": _write_json,
    "jsonl": _write_jsonl,
    "csv": _write_csv,
}


def write_document(
    stream: TextIO,
    pages: Iterator[dict[str, Any]],
    fmt: str = "json",
    on_face: Callable[[], object] = lambda: None,
    settings: TrackerSettings | None = None,
) -> Summary:
    """Stream every page's faces, each with its appearance, to ``stream`` in ``fmt``."""
    first_page = next(pages)
    header = {member: first_page[member] for member in HEADER_MEMBERS if member in first_page}
    summary = Summary(video_ms=first_page.get("VideoMetadata", {}).get("DurationMillis"), header=header)
    tracker = AppearanceTracker(settings)

    def faces() -> Iterator[dict[str, Any]]:
        every = (face for page in itertools.chain([first_page], pages) for face in page.get("Faces", []))
        for timestamp, frame in frames(every):
            indexes = tracker.add_frame(timestamp, [Detection.from_face(face) for face in frame])
            for face, index in zip(frame, indexes, strict=True):
                summary.add(face)
                on_face()
                yield {**face, "AppearanceIndex": index}

    _WRITERS[fmt](stream, header, faces(), tracker)
    summary.appearances = tracker.finish()
    return summary


def read_summary(path: Path, fmt: str) -> Summary:
    """The summary (appearances included) of a results file written in ``fmt``, grouped again: the
    grouping is deterministic, so it is the one the file was written with."""
    with path.open(newline="" if fmt == "csv" else None) as stream:
        if fmt == "json":
            page = json.load(stream)
        elif fmt == "jsonl":
            page = {"Faces": [json.loads(line) for line in stream if line.strip()]}
        else:
            page = {"Faces": [_csv_face(row) for row in csv.DictReader(stream)]}
    return write_document(io.StringIO(), iter([page]))


def _csv_face(row: dict[str, str]) -> dict[str, Any]:
    """A ``Faces`` entry from a csv row: what the row holds of it."""

    def number(column: str) -> float | None:
        return float(row[column]) if row.get(column) else None

    detail: dict[str, Any] = {
        "BoundingBox": {name.title(): number(name) for name in ("width", "height", "left", "top")}
    }
    for member, names in (("Pose", ("roll", "yaw", "pitch")), ("Quality", ("brightness", "sharpness"))):
        if values := {name.title(): number(name) for name in names if row.get(name)}:
            detail[member] = values
    if row.get("confidence"):
        detail["Confidence"] = number("confidence")
    return {"Timestamp": int(row["timestamp_ms"]), "Face": detail}


def write_results(
    pages: Iterator[dict[str, Any]], out: Path, fmt: str, on_face: Callable[[], object] = lambda: None
) -> Summary:
    """Stream every page's faces to ``out`` in ``fmt``; the file appears only once it is whole."""
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="" if fmt == "csv" else None) as stream:
            summary = write_document(stream, pages, fmt, on_face)
        os.chmod(partial, 0o644)  # mkstemp makes it private; a result file is an ordinary file
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return summary
