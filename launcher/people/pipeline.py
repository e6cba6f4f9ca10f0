"""``--people`` for one video: the tracker's pieces, an embedding per piece from the video's frames,
pieces linked into appearances, appearances grouped into people; and across the videos of a batch.

The embeddings stay in memory (``VideoPeople.embeddings``, for the batch's grouping across videos):
they are never written to the results or the report, only the grouping is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import av

from ..jobs.appearances import Appearance, AppearanceTracker, Box, Detection, frames
from ..jobs.formats import PeopleAssignment
from ..report.thumbnails import VideoSource, frames_at
from .embedding import FaceBox, FaceEmbedder, mean_embedding
from .grouping import Embedding, LinkedAppearance, PeopleSettings, Piece, Seen, group_people, link_pieces

_ALL_TOGETHER = 2**62  # an end time that makes every person of one video overlap the others (never merged)


@dataclass(frozen=True)
class VideoPeople:
    """The people of one video: the grouping to write, and (memory only) the embeddings."""

    assignment: PeopleAssignment
    pieces: int
    embedded_pieces: int
    embeddings: list[Embedding | None] = field(repr=False)  # per appearance: never written anywhere

    def person_embeddings(self) -> dict[int, Embedding | None]:
        """One embedding per person of the video: the mean of their appearances' (memory only)."""
        by_person: dict[int, list[Embedding]] = {}
        for appearance, person in enumerate(self.assignment.person_of_appearance):
            embedding = self.embeddings[appearance]
            by_person.setdefault(person, [])
            if embedding is not None:
                by_person[person].append(embedding)
        return {person: _mean(values) for person, values in by_person.items()}


def _mean(values: Sequence[Embedding]) -> Embedding | None:
    if not values:
        return None
    return tuple(sum(column) / len(values) for column in zip(*values, strict=True))


def track_pieces(
    pages: Iterable[dict[str, Any]], cuts: Sequence[int]
) -> tuple[list[Appearance], list[tuple[int, int]]]:
    """The tracker's pieces of a job's results (pages of GetFaceDetection) and their position links."""
    tracker = AppearanceTracker(cuts=cuts, pieces=True)
    every = (face for page in pages for face in page.get("Faces", []))
    for timestamp, frame in frames(every):
        tracker.add_frame(timestamp, [Detection.from_face(face) for face in frame])
    return tracker.finish(), tracker.links


def embed_pieces(
    video: VideoSource, pieces: Sequence[Appearance], embedder: FaceEmbedder
) -> dict[int, Embedding | None]:
    """Each piece's embedding: the mean over its best frames (None when its face is too small)."""
    wanted: dict[int, list[tuple[int, Box]]] = {}
    for piece in pieces:
        for timestamp, box in piece.best_frames or ((piece.best_timestamp, piece.best_box),):
            wanted.setdefault(timestamp, []).append((piece.index, box))
    found: dict[int, list[Any]] = {piece.index: [] for piece in pieces}
    try:
        for timestamp, frame in frames_at(video, wanted):
            image = frame.to_ndarray(format="rgb24")
            for index, box in wanted[timestamp]:
                embedding = embedder.embed(image, FaceBox(box.left, box.top, box.width, box.height))
                if embedding is not None:
                    found[index].append(embedding)
    except (av.error.FFmpegError, ValueError, IndexError) as error:
        raise PeopleUnavailable(f"the video's frames could not be read for the face embeddings: {error}") from None
    return {index: mean_embedding(values) for index, values in found.items()}


class PeopleUnavailable(Exception):
    """--people could not be done for this video; the message says why in one line."""


def merge_pieces(pieces: Sequence[Appearance], linked: Sequence[LinkedAppearance]) -> list[Appearance]:
    """Appearances made of linked pieces, indexed in the order of ``linked`` (first detection)."""
    by_index = {piece.index: piece for piece in pieces}
    merged = []
    for index, appearance in enumerate(linked):
        parts = [by_index[number] for number in appearance.pieces]
        boxes = parts[0]._boxes[:0]
        for part in parts:
            boxes.extend(part._boxes)
        left = min(p.extent.left for p in parts)
        top = min(p.extent.top for p in parts)
        right = max(p.extent.left + p.extent.width for p in parts)
        bottom = max(p.extent.top + p.extent.height for p in parts)
        best = max(parts, key=lambda p: (p.best_score, -p.index))
        merged.append(
            Appearance(
                index=index,
                start_ms=min(p.start_ms for p in parts),
                end_ms=max(p.end_ms for p in parts),
                detections=sum(p.detections for p in parts),
                extent=Box(left, top, right - left, bottom - top),
                best_timestamp=best.best_timestamp,
                best_box=best.best_box,
                best_face=best.best_face,
                _boxes=boxes,
                best_score=best.best_score,
                best_frames=best.best_frames,
            )
        )
    return merged


def video_people(
    pages: Callable[[], Iterable[dict[str, Any]]],
    video: VideoSource,
    cuts: Sequence[int],
    embedder: FaceEmbedder,
    settings: PeopleSettings | None = None,
) -> VideoPeople:
    """The people of one video from its results (``pages()`` gives them; read once here) and frames."""
    pieces, links = track_pieces(pages(), cuts)
    embeddings = embed_pieces(video, pieces, embedder)
    linked = link_pieces(
        [Piece(p.index, p.start_ms, p.end_ms, embeddings.get(p.index)) for p in pieces], links, cuts, settings
    )
    appearances = merge_pieces(pieces, linked)
    people = group_people([Seen(0, a.start_ms, a.end_ms, a.embedding) for a in linked], settings)
    appearance_of_piece = {number: index for index, a in enumerate(linked) for number in a.pieces}
    assignment = PeopleAssignment(appearance_of_piece, appearances, people)
    return VideoPeople(
        assignment,
        pieces=len(pieces),
        embedded_pieces=sum(1 for value in embeddings.values() if value is not None),
        embeddings=[a.embedding for a in linked],
    )


def batch_people(videos: Sequence[VideoPeople], settings: PeopleSettings | None = None) -> list[dict[int, int]]:
    """People across the videos of a batch: for each video, its person index -> the batch's person
    index (numbered by first appearance, in the order of ``videos``). Two people of one video stay
    two people of the batch."""
    seen: list[Seen] = []
    keys: list[tuple[int, int]] = []
    for number, video in enumerate(videos):
        firsts: dict[int, int] = {}
        for appearance in video.assignment.appearances:
            person = video.assignment.person_of_appearance[appearance.index]
            firsts[person] = min(firsts.get(person, appearance.start_ms), appearance.start_ms)
        for person, embedding in sorted(video.person_embeddings().items()):
            seen.append(Seen(number, firsts[person], _ALL_TOGETHER, embedding))
            keys.append((number, person))
    batch = group_people(seen, settings)
    mapping: list[dict[int, int]] = [{} for _ in videos]
    for (number, person), index in zip(keys, batch, strict=True):
        mapping[number][person] = index
    return mapping
