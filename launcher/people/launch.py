"""What one launch (and each video of a batch) does with cuts and ``--people``: find the video's
hard cuts, load the embedding model once, and write the results with the people grouping.

The video is the local file when it is here, else the job's S3 object version, read in ranges
(``S3ObjectReader``). Whatever fails here is said in one line and the results are written all the
same: without cuts (appearances then continue by position) or without people.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from ..jobs.formats import (
    PERSONS_FILE,
    Person,
    Summary,
    persons,
    read_page,
    write_document,
    write_results,
)
from ..jobs.s3video import S3ObjectReader, job_video
from ..report.thumbnails import VideoSource
from ..terminal import UntilReaderStops
from .embedding import EmbeddingUnavailable, FaceEmbedder, load_embedder
from .pipeline import PeopleUnavailable, VideoPeople, batch_people, video_people
from .shots import CutDetectionError, detect_cuts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def load_model(report: Callable[[str], None]) -> FaceEmbedder | None:
    """The embedding model for --people, or None after one line saying why it cannot be had."""
    try:
        return load_embedder()
    except EmbeddingUnavailable as error:
        report(f"--people: {error}; the results are written without people")
        return None


@contextmanager
def video_source(video: str, s3_object: dict[str, Any] | None, s3: Callable[[], S3Client]) -> Iterator[VideoSource]:
    """The local file if ``video`` is one here, else the job's S3 object (ranged reads), else the
    ``s3://`` URI's object."""
    local = None if video.lower().startswith("s3:") or not Path(video).is_file() else Path(video)
    if local is not None:
        yield local
        return
    s3_video = job_video({"Video": {"S3Object": s3_object or {}}}, video)
    if s3_video is None:
        raise OSError(f"{video} is not here and the results name no S3 object")
    with S3ObjectReader(s3(), s3_video) as reader:
        yield reader


def find_cuts(
    video: str, s3_object: dict[str, Any] | None, s3: Callable[[], S3Client], report: Callable[[str], None]
) -> list[int]:
    """The video's hard cuts (ms), or none after one line saying why they could not be found."""
    try:
        with video_source(video, s3_object, s3) as source:
            return detect_cuts(source)
    except (CutDetectionError, ClientError, BotoCoreError, OSError) as error:
        report(f"no cut detection ({error}): appearances may continue across cuts")
        return []


class CutsInBackground:
    """A video's cuts, found on a thread while the job runs (a daemon: Ctrl-C does not wait): the
    local file, else the pinned S3 object version."""

    def __init__(
        self,
        video: str,
        s3_object: dict[str, Any] | None,
        s3: Callable[[], S3Client],
        report: Callable[[str], None],
    ) -> None:
        self._cuts: list[int] = []
        self._thread = threading.Thread(
            target=self._find, args=(video, s3_object, s3, report), name="cut-detection", daemon=True
        )
        self._thread.start()

    def _find(
        self, video: str, s3_object: dict[str, Any] | None, s3: Callable[[], S3Client], report: Callable[[str], None]
    ) -> None:
        self._cuts = find_cuts(video, s3_object, s3, report)

    def result(self) -> list[int]:
        self._thread.join()
        return self._cuts


def write_with_people(
    pages: Iterator[dict[str, Any]],
    out: Path,
    fmt: str,
    video: str,
    s3: Callable[[], S3Client],
    embedder: FaceEmbedder | None,
    report: Callable[[str], None],
    on_face: Callable[[], object] = lambda: None,
    cuts: list[int] | None = None,
) -> tuple[Summary, VideoPeople | None]:
    """Write a job's results with its cuts applied and, given an embedder, its people. The pages are
    kept in a temporary file (memory does not grow with the result): the people are found from a
    first pass over them and the video's frames, and written in the second."""
    with tempfile.TemporaryFile("w+") as spool:
        first: dict[str, Any] | None = None
        for page in pages:
            first = first or page
            spool.write(json.dumps(page) + "\n")
        s3_object = (first or {}).get("Video", {}).get("S3Object")

        def spooled() -> Iterator[dict[str, Any]]:
            spool.seek(0)
            for line in spool:
                yield json.loads(line)

        if cuts is None:
            cuts = find_cuts(video, s3_object, s3, report)
        people = None
        if embedder is not None:
            try:
                with video_source(video, s3_object, s3) as source:
                    people = video_people(spooled, source, cuts, embedder)
            except (PeopleUnavailable, ClientError, BotoCoreError, OSError) as error:
                report(f"--people: {error}; the results are written without people")
        assignment = people.assignment if people else None
        if out == Path("-"):  # --out -: standard output
            stdout = UntilReaderStops(sys.stdout)
            summary = write_document(cast(TextIO, stdout), spooled(), fmt, on_face, cuts=cuts, people=assignment)
            stdout.flush()
            if stdout.stopped:
                report("standard output's reader stopped before the results ended (as head does): --out FILE has all")
        else:
            summary = write_results(spooled(), out, fmt, on_face, cuts=cuts, people=assignment)
    return summary, people


def regroup_written(
    results: Path,
    fmt: str,
    video: str,
    s3_object: dict[str, Any] | None,
    s3: Callable[[], S3Client],
    embedder: FaceEmbedder,
    report: Callable[[str], None],
) -> VideoPeople | None:
    """--people for a video whose results a batch had already written (it skipped it): its faces
    read back from the file, its cuts and people found again, the file rewritten with them."""
    page = read_page(results, fmt)
    if s3_object and "Video" not in page:
        page["Video"] = {"S3Object": s3_object}  # where to read the frames (jsonl and csv keep no header)
    page.pop("Appearances", None)
    page.pop("Persons", None)
    for face in page.get("Faces", []):
        face.pop("AppearanceIndex", None)
        face.pop("PersonIndex", None)
    _summary, people = write_with_people(iter([page]), results, fmt, video, s3, embedder, report)
    return people


def write_batch_persons(out_dir: Path, videos: list[tuple[str, str, VideoPeople]]) -> Path:
    """``DIR/persons.json`` for a batch run with --people: each person across the videos (video,
    results file, the person's index in that file, time on screen, first and last seen), numbered by
    first appearance in the batch's order of videos. No embedding: only the grouping."""
    mapping = batch_people([people for _video, _results, people in videos])
    persons: dict[int, list[dict[str, Any]]] = {}
    for (video, results, people), local in zip(videos, mapping, strict=True):
        summary = persons_of(people)
        for person in summary:
            persons.setdefault(local[person.index], []).append(
                {
                    "Video": video,
                    "Results": results,
                    "PersonIndex": person.index,
                    "AppearanceIndexes": list(person.appearances),
                    "DurationMillis": person.on_screen_ms,
                    "FirstTimestamp": person.first_ms,
                    "LastTimestamp": person.last_ms,
                }
            )
    document = {
        "Persons": [
            {
                "Index": index,
                "VideoCount": len(seen),
                "DurationMillis": sum(entry["DurationMillis"] for entry in seen),
                "Videos": seen,
            }
            for index, seen in sorted(persons.items())
        ]
    }
    path = out_dir / PERSONS_FILE
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=1) + "\n")
    partial.replace(path)
    return path


def persons_of(people: VideoPeople) -> list[Person]:
    assignment = people.assignment
    return persons(assignment.appearances, assignment.person_of_appearance)
