"""Results with --people: PersonIndex per face and appearance, Persons, the csv person column, and
reading them back by the written indexes (no template anywhere)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from launcher.jobs.appearances import Detection, group_appearances
from launcher.jobs.formats import PeopleAssignment, read_summary, write_document, write_results
from launcher.people.grouping import Piece, Seen, group_people, link_pieces
from launcher.people.pipeline import merge_pieces

STEP = 200


def face(timestamp: int, left: float) -> dict:
    box = {"Width": 0.1, "Height": 0.18, "Left": left, "Top": 0.3}
    return {"Timestamp": timestamp, "Face": {"BoundingBox": box, "Confidence": 99.0}}


# One spot: Anna 0-2.8 s, a cut at 3 s, Boris 3-5.8 s; Anna again at the left from 8 s.
FACES = (
    [face(t, 0.45) for t in range(0, 3000, STEP)]
    + [face(t, 0.45) for t in range(3000, 6000, STEP)]
    + [face(t, 0.1) for t in range(8000, 9000, STEP)]
)
CUTS = [3000]
EMBEDDINGS = {0: (0.5, 0.0), 1: (0.0, 0.5), 2: (0.52, 0.0)}  # pieces 0 and 2 are Anna, piece 1 Boris


def assignment() -> PeopleAssignment:
    grouping = group_appearances((Detection.from_face(f) for f in FACES), cuts=CUTS, pieces=True)
    pieces = grouping.appearances
    linked = link_pieces(
        [Piece(p.index, p.start_ms, p.end_ms, EMBEDDINGS[p.index]) for p in pieces], grouping.links, CUTS
    )
    people = group_people([Seen(0, a.start_ms, a.end_ms, a.embedding) for a in linked])
    return PeopleAssignment(
        {n: i for i, a in enumerate(linked) for n in a.pieces}, merge_pieces(pieces, linked), people
    )


def test_json_has_person_indexes_and_persons() -> None:
    stream = io.StringIO()
    summary = write_document(stream, iter([{"JobStatus": "SUCCEEDED", "Faces": FACES}]), cuts=CUTS, people=assignment())
    document = json.loads(stream.getvalue())
    assert [(a["StartTimestamp"], a["EndTimestamp"], a["PersonIndex"]) for a in document["Appearances"]] == [
        (0, 2800, 0),
        (3000, 5800, 1),
        (8000, 8800, 0),
    ]
    assert [face["PersonIndex"] for face in document["Faces"]] == [0] * 15 + [1] * 15 + [0] * 5
    assert document["Persons"] == [
        {
            "Index": 0,
            "AppearanceIndexes": [0, 2],
            "DurationMillis": 2800 + 800,
            "FirstTimestamp": 0,
            "LastTimestamp": 8800,
            "BestAppearanceIndex": 0,
        },
        {
            "Index": 1,
            "AppearanceIndexes": [1],
            "DurationMillis": 2800,
            "FirstTimestamp": 3000,
            "LastTimestamp": 5800,
            "BestAppearanceIndex": 1,
        },
    ]
    assert "of 2 person(s)" in summary.describe()


def test_without_people_the_cut_still_splits_and_no_person_is_written() -> None:
    stream = io.StringIO()
    write_document(stream, iter([{"Faces": FACES}]), cuts=CUTS)
    document = json.loads(stream.getvalue())
    assert len(document["Appearances"]) == 3
    assert "Persons" not in document and "PersonIndex" not in document["Faces"][0]


def test_every_format_reads_back_the_written_appearances_and_people(tmp_path: Path) -> None:
    for fmt in ("json", "jsonl", "csv"):
        out = tmp_path / f"faces.{fmt}"
        written = write_results(iter([{"Faces": FACES}]), out, fmt, cuts=CUTS, people=assignment())
        again = read_summary(out, fmt)
        assert [(a.index, a.start_ms, a.end_ms) for a in again.appearances] == [
            (a.index, a.start_ms, a.end_ms) for a in written.appearances
        ], fmt
        assert again.person_of_appearance == [0, 1, 0], fmt
        assert [p.appearances for p in again.persons] == [(0, 2), (1,)], fmt
    header = (tmp_path / "faces.csv").read_text().splitlines()[0]
    assert ",appearance,person," in header  # then every other FaceDetail member and the metadata (issue 20)
