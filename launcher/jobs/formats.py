"""Writing a job's faces: streamed page by page (memory does not grow with the result), into a
temporary file beside the target that is renamed over it only when complete.

Each face is grouped into an appearance as it streams by (``launcher.jobs.appearances``): a face entry
gets its ``AppearanceIndex`` beside ``Timestamp`` and ``Face`` (a key GetFaceDetection readers do not
know, so they ignore it), and the JSON document ends with ``Appearances``. What is kept in memory is
a few numbers per face for the appearances' boxes over time. Hard cuts (timestamps, found from the
video) end appearances.

With ``--people`` the grouping is done beforehand (``launcher.people``) and handed in as a
``PeopleAssignment``: each face then also gets its ``PersonIndex``, each appearance its person, and
the JSON document ends with ``Persons``. No face embedding is ever written: only the grouping.

Standard library only (no tqdm, no PyAV): a Lambda function writes the same document.
"""

from __future__ import annotations

import csv
import errno
import io
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .appearances import Appearance, AppearanceTracker, Detection, TrackerSettings, _Track, frames
from .errors import BadInput

FORMATS = ("json", "jsonl", "csv")
# The FaceDetail members beyond the box, pose and quality, with their members, in the service's
# order: each member a CSV column (a list, Emotions and Landmarks, one column of JSON). With
# FaceAttributes DEFAULT most are absent: their cells are empty.
ATTRIBUTE_MEMBERS: dict[str, tuple[str, ...]] = {
    "AgeRange": ("Low", "High"),
    "Smile": ("Value", "Confidence"),
    "Eyeglasses": ("Value", "Confidence"),
    "Sunglasses": ("Value", "Confidence"),
    "Gender": ("Value", "Confidence"),
    "Beard": ("Value", "Confidence"),
    "Mustache": ("Value", "Confidence"),
    "EyesOpen": ("Value", "Confidence"),
    "MouthOpen": ("Value", "Confidence"),
    "FaceOccluded": ("Value", "Confidence"),
    "EyeDirection": ("Yaw", "Pitch", "Confidence"),
}
LIST_MEMBERS = ("Emotions", "Landmarks")
# The video's metadata, repeated on each row (a CSV is one table): the job and VideoMetadata's members.
METADATA_MEMBERS = ("Codec", "DurationMillis", "Format", "FrameRate", "FrameHeight", "FrameWidth", "ColorRange")


def snake(name: str) -> str:
    """AgeRange -> age_range."""
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


BASE_COLUMNS = (
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
    "person",
)
CSV_COLUMNS = (
    *BASE_COLUMNS,
    *(f"{snake(member)}_{snake(part)}" for member, parts in ATTRIBUTE_MEMBERS.items() for part in parts),
    *(snake(member) for member in LIST_MEMBERS),
    "job_id",
    *(f"video_{snake(member)}" for member in METADATA_MEMBERS),
)
PERSONS_FILE = "persons.json"  # a batch with --people: each person across its videos, beside the results
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
    person_of_appearance: list[int] | None = None  # with --people: the person of each appearance, by index

    @property
    def persons(self) -> list[Person]:
        if self.person_of_appearance is None:
            return []
        return persons(self.appearances, self.person_of_appearance)

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
            + (f" of {len(self.persons)} person(s)" if self.person_of_appearance is not None else "")
        )


@dataclass(frozen=True)
class Person:
    """One person of a video: their appearances (indexes), time on screen, first and last seen."""

    index: int
    appearances: tuple[int, ...]
    on_screen_ms: int  # the appearances' durations added up
    first_ms: int
    last_ms: int
    best_appearance: int  # the appearance with the best picture of the face

    def to_api(self) -> dict[str, Any]:
        return {
            "Index": self.index,
            "AppearanceIndexes": list(self.appearances),
            "DurationMillis": self.on_screen_ms,
            "FirstTimestamp": self.first_ms,
            "LastTimestamp": self.last_ms,
            "BestAppearanceIndex": self.best_appearance,
        }


def persons(appearances: list[Appearance], person_of_appearance: list[int]) -> list[Person]:
    """The people of a video, by index, from its appearances and each one's person."""
    by_person: dict[int, list[Appearance]] = {}
    for appearance in appearances:
        by_person.setdefault(person_of_appearance[appearance.index], []).append(appearance)
    return [
        Person(
            index=person,
            appearances=tuple(a.index for a in group),
            on_screen_ms=sum(a.duration_ms for a in group),
            first_ms=min(a.start_ms for a in group),
            last_ms=max(a.end_ms for a in group),
            best_appearance=max(group, key=lambda a: (a.best_score, -a.index)).index,
        )
        for person, group in sorted(by_person.items())
    ]


@dataclass(frozen=True)
class PeopleAssignment:
    """The outcome of ``--people`` for one video, without any embedding: the appearance of each of
    the tracker's pieces (the tracker runs with the same cuts and ``pieces=True``), the appearances
    made of them (indexed in order of first detection) and each appearance's person."""

    appearance_of_piece: dict[int, int]
    appearances: list[Appearance]
    person_of_appearance: list[int]


def _cell(value: Any) -> Any:
    """A CSV cell: true/false as JSON writes them (read back by ``_value``), the rest as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _csv_row(face: dict[str, Any], header: dict[str, Any]) -> list[Any]:
    detail = face["Face"]
    box, pose, quality = detail["BoundingBox"], detail.get("Pose", {}), detail.get("Quality", {})
    metadata = header.get("VideoMetadata") or {}
    attributes = [
        _cell((detail.get(member) or {}).get(part)) for member, parts in ATTRIBUTE_MEMBERS.items() for part in parts
    ]
    lists = [json.dumps(detail[member]) if member in detail else None for member in LIST_MEMBERS]
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
        face.get("PersonIndex"),
        *attributes,
        *lists,
        header.get("JobId"),
        *(metadata.get(member) for member in METADATA_MEMBERS),
    ]


def _write_json(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], summary: Callable[[], Summary]
) -> None:
    """One document shaped like a GetFaceDetection response, with every page's Faces merged, then
    the Appearances (and, with --people, the Persons)."""
    stream.write("{")
    for member, value in header.items():
        stream.write(f"{json.dumps(member)}: {json.dumps(value)}, ")
    stream.write('"Faces": [')
    for index, face in enumerate(faces):
        stream.write(("," if index else "") + "\n  " + json.dumps(face))
    stream.write('\n], "Appearances": [')
    done = summary()
    people = done.person_of_appearance
    for index, appearance in enumerate(done.appearances):
        entry = appearance.to_api()
        if people is not None:
            entry["PersonIndex"] = people[appearance.index]
        stream.write(("," if index else "") + "\n  " + json.dumps(entry))
    if people is not None:
        stream.write('\n], "Persons": [')
        for index, person in enumerate(done.persons):
            stream.write(("," if index else "") + "\n  " + json.dumps(person.to_api()))
    stream.write("\n]}\n")


def _write_jsonl(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], summary: Callable[[], Summary]
) -> None:
    for face in faces:
        stream.write(json.dumps(face) + "\n")


def _write_csv(
    stream: TextIO, header: dict[str, Any], faces: Iterable[dict[str, Any]], summary: Callable[[], Summary]
) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for face in faces:
        writer.writerow(_csv_row(face, header))


_WRITERS: dict[str, Callable[[TextIO, dict[str, Any], Iterable[dict[str, Any]], Callable[[], Summary]], None]] = {
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
    cuts: Sequence[int] = (),
    people: PeopleAssignment | None = None,
) -> Summary:
    """Stream every page's faces, each with its appearance (and person), to ``stream`` in ``fmt``;
    appearances end at the hard ``cuts`` (timestamps in ms)."""
    first_page = next(pages)
    header = {member: first_page[member] for member in HEADER_MEMBERS if member in first_page}
    summary = Summary(video_ms=first_page.get("VideoMetadata", {}).get("DurationMillis"), header=header)
    tracker = AppearanceTracker(settings, cuts, pieces=people is not None)

    def faces() -> Iterator[dict[str, Any]]:
        every = (face for page in itertools.chain([first_page], pages) for face in page.get("Faces", []))
        for timestamp, frame in frames(every):
            indexes = tracker.add_frame(timestamp, [Detection.from_face(face) for face in frame])
            for face, index in zip(frame, indexes, strict=True):
                summary.add(face)
                on_face()
                if people is None:
                    yield {**face, "AppearanceIndex": index}
                else:
                    appearance = people.appearance_of_piece[index]
                    person = people.person_of_appearance[appearance]
                    yield {**face, "AppearanceIndex": appearance, "PersonIndex": person}

    def finished() -> Summary:
        if people is None:
            summary.appearances = tracker.finish()
        else:
            summary.appearances = people.appearances
            summary.person_of_appearance = people.person_of_appearance
        return summary

    _WRITERS[fmt](stream, header, faces(), finished)
    return finished()


def read_page(path: Path, fmt: str) -> dict[str, Any]:
    """A results file written in ``fmt`` as one GetFaceDetection page: its faces (with what the
    format keeps of them) and, for ``json``, the response members and the appearances."""
    with path.open(newline="" if fmt == "csv" else None) as stream:
        if fmt == "json":
            page: dict[str, Any] = json.load(stream)
        elif fmt == "jsonl":
            page = {"Faces": [json.loads(line) for line in stream if line.strip()]}
        else:
            rows = list(csv.DictReader(stream))
            page = {**_csv_header(rows[0] if rows else {}), "Faces": [_csv_face(row) for row in rows]}
    return page


def read_summary(path: Path, fmt: str) -> Summary:
    """The summary (appearances and persons included) of a results file written in ``fmt``: the
    appearances are rebuilt from each face's appearance index (and person index) as written."""
    page = read_page(path, fmt)
    faces = page.get("Faces", [])
    if not all("AppearanceIndex" in face for face in faces):  # written by an older launcher: group again
        return write_document(io.StringIO(), iter([page]))
    summary = Summary(
        video_ms=page.get("VideoMetadata", {}).get("DurationMillis"),
        header={member: page[member] for member in HEADER_MEMBERS if member in page},
    )
    tracks: dict[int, _Track] = {}
    person_of: dict[int, int] = {}
    for face in faces:
        summary.add(face)
        index, detection = int(face["AppearanceIndex"]), Detection.from_face(face)
        if index in tracks:
            tracks[index].add(detection)
        else:
            tracks[index] = _Track(index, detection)
        if face.get("PersonIndex") is not None:
            person_of[index] = int(face["PersonIndex"])
    summary.appearances = [tracks[index].appearance() for index in sorted(tracks)]
    if person_of and len(person_of) == len(tracks):
        summary.person_of_appearance = [person_of[index] for index in sorted(tracks)]
    return summary


def _csv_header(row: dict[str, str]) -> dict[str, Any]:
    """The job and the video's metadata, from any row."""
    header: dict[str, Any] = {}
    if row.get("job_id"):
        header["JobId"] = row["job_id"]
    metadata = {
        member: _value(row[f"video_{snake(member)}"])
        for member in METADATA_MEMBERS
        if row.get(f"video_{snake(member)}")
    }
    for member in ("DurationMillis", "FrameHeight", "FrameWidth"):
        if isinstance(metadata.get(member), float):
            metadata[member] = int(metadata[member])
    if metadata:
        header["VideoMetadata"] = metadata
    return header


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
    for member, parts in ATTRIBUTE_MEMBERS.items():
        columns = {part: f"{snake(member)}_{snake(part)}" for part in parts}
        if values := {part: _value(row[column]) for part, column in columns.items() if row.get(column)}:
            detail[member] = values
    for member in LIST_MEMBERS:
        if row.get(snake(member)):
            detail[member] = json.loads(row[snake(member)])
    face: dict[str, Any] = {"Timestamp": int(row["timestamp_ms"]), "Face": detail}
    if row.get("appearance"):
        face["AppearanceIndex"] = int(row["appearance"])
    if row.get("person"):
        face["PersonIndex"] = int(row["person"])
    return face


def partial_prefix(out: Path) -> str:
    """The temporary file's name prefix: a dot, the first bytes of ``out``'s name (so that the whole
    temporary name stays well inside the file system's longest, whatever the name's length), a dot."""
    return "." + os.fsdecode(os.fsencode(out.name)[:64]) + "."


def name_max(folder: Path = Path(".")) -> int:
    """The longest file name the folder's file system takes, in bytes (NAME_MAX, 255 on most)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


@dataclass(frozen=True)
class OutputAdvice:
    """What a refused output's line tells the user to do: each caller names its own option."""

    not_a_file: str  # after "it is not a regular file (a device or a pipe); "
    exists: str  # after "pass --overwrite to replace it, or "
    too_long: str  # after "the name is longer than the file system takes; "
    unwritable: str = ""  # after "... in FOLDER"


def check_name_fits(path: Path, advice: str) -> None:
    """Before anything stats ``path``: a name longer than the file system takes (NAME_MAX) makes a
    stat raise (ENAMETOOLONG), which ended as "cannot use ...: File name too long. What to do: pick a
    file or folder you may write to". So does a folder's name in it, or a path longer than PATH_MAX."""
    try:
        folder = path.parent if path.parent.is_dir() else Path(".")
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        raise BadInput(
            f"cannot write {path}: its folder's path is longer than the file system takes; {advice}"
        ) from None
    if len(os.fsencode(path.name)) > name_max(folder):
        raise BadInput(f"cannot write {path}: the name is longer than the file system takes; {advice}")


def check_output_file(path: Path, overwrite: bool, advice: OutputAdvice) -> None:
    """Refuse, in one line naming the fix, a file that could not be written once the job is done: a
    folder, a device or a pipe (the finished file would replace it), a missing folder, a name too
    long, an existing file (unless ``overwrite``), a folder that takes no new file (tried: root passes
    every permission check, a read-only mount does not). The one check of the results file, the
    report and the redacted copy, before a job starts and again before writing."""
    check_name_fits(path, advice.too_long)
    if path.is_dir():
        raise BadInput(f"cannot write {path}: it is a folder")
    if path.exists() and not path.is_file():
        raise BadInput(f"cannot write {path}: it is not a regular file (a device or a pipe); {advice.not_a_file}")
    if not path.parent.is_dir():
        raise BadInput(f"cannot write {path}: the folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise BadInput(f"{path} exists: pass --overwrite to replace it, or {advice.exists}")
    try:  # named as write_results' own temporary files, so a batch's clean-up takes a left-over one too
        handle, probe = tempfile.mkstemp(dir=path.parent, prefix=partial_prefix(path), suffix=".partial")
    except OSError as error:
        raise BadInput(f"cannot write {path}: {error.strerror or error} in {path.parent}{advice.unwritable}") from None
    os.close(handle)
    os.unlink(probe)


def write_results(
    pages: Iterator[dict[str, Any]],
    out: Path,
    fmt: str,
    on_face: Callable[[], object] = lambda: None,
    cuts: Sequence[int] = (),
    people: PeopleAssignment | None = None,
) -> Summary:
    """Stream every page's faces to ``out`` in ``fmt``; the file appears only once it is whole."""
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=partial_prefix(out), suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="" if fmt == "csv" else None) as stream:
            summary = write_document(stream, pages, fmt, on_face, cuts=cuts, people=people)
        os.chmod(partial, 0o644)  # mkstemp makes it private; a result file is an ordinary file
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return summary
