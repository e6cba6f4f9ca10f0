"""From pieces of appearances with face embeddings to appearances and people. Pure: no I/O, no model.

The appearance tracker (``launcher.appearances``) follows faces by position. With ``--people`` it
cuts its appearances into *pieces* wherever a position link is uncertain (the face was missed for a
sample or more, went behind another face, or another face competed for the same detection) and
at every hard cut it never links across. Each piece gets an embedding from its best frames. Then:

1. ``link_pieces``: each position link between two pieces is kept unless the embeddings of both
   pieces say they are different people (the *veto*). Across a hard cut, a piece that ends just
   before the cut and one that starts just after it are joined only when their faces match (the
   same person on screen on both sides of the cut, as in a cut from a wide shot to a close-up);
   each piece is joined at most once, closest pair first. The joined pieces are the appearances.
2. ``group_people``: appearances are grouped into people by average-linkage clustering of their
   embeddings (two groups merge while the mean distance between their members is within
   ``same_person``), never putting together two appearances of one video that are on screen at the
   same time (two faces at once are two people). People are numbered by their first appearance:
   by video, then time, so the numbering is stable for the same input. An appearance without an
   embedding (its face too small for the model) is a person of its own.

Distances are Euclidean between embeddings (dlib's network: about 0.6 separates people; the
thresholds here were tuned on ``bench/appearances.py``'s tuning set).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

Embedding = tuple[float, ...]


@dataclass(frozen=True)
class PeopleSettings:
    same_person: float = 0.55  # mean distance within which appearances are one person
    veto: float = 0.55  # a position link between pieces further apart than this is undone
    join_across_cut: float = 0.5  # pieces on both sides of a cut closer than this are one appearance
    max_gap_ms: int = 1000  # ... if the first ends at most this before the cut and the second starts at most this after


@dataclass(frozen=True)
class Piece:
    """A piece of an appearance: one video's tracker output between two uncertain links."""

    index: int  # the tracker's index, unique within its video
    start_ms: int
    end_ms: int
    embedding: Embedding | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LinkedAppearance:
    """Pieces joined into one appearance, in time order, with the embedding of their best frames."""

    pieces: tuple[int, ...]
    start_ms: int
    end_ms: int
    embedding: Embedding | None = field(default=None, repr=False)


def distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance between two embeddings of the same length."""
    return math.dist(a, b)


def _mean(embeddings: Sequence[Embedding]) -> Embedding | None:
    if not embeddings:
        return None
    count = len(embeddings)
    return tuple(sum(values) / count for values in zip(*embeddings, strict=True))


def link_pieces(
    pieces: Sequence[Piece],
    position_links: Sequence[tuple[int, int]],
    cuts: Sequence[int],
    settings: PeopleSettings | None = None,
) -> list[LinkedAppearance]:
    """The appearances of one video, from its pieces, the tracker's position links (earlier piece,
    later piece) and the video's hard cuts (ms); ordered by their first piece's index."""
    settings = settings or PeopleSettings()
    by_index = {piece.index: piece for piece in pieces}
    following: dict[int, int] = {}
    preceding: dict[int, int] = {}

    def join(earlier: int, later: int) -> None:
        following[earlier], preceding[later] = later, earlier

    for earlier, later in sorted(position_links):
        a, b = by_index[earlier], by_index[later]
        if a.embedding is not None and b.embedding is not None and distance(a.embedding, b.embedding) > settings.veto:
            continue  # two different people at the same place: the position link is wrong
        if earlier not in following and later not in preceding:
            join(earlier, later)
    ordered_cuts = sorted(cuts)
    for number, cut in enumerate(ordered_cuts):
        previous_cut = ordered_cuts[number - 1] if number else -math.inf
        next_cut = ordered_cuts[number + 1] if number + 1 < len(ordered_cuts) else math.inf
        ends = [
            p
            for p in pieces
            if p.index not in following and previous_cut <= p.end_ms < cut and cut - p.end_ms <= settings.max_gap_ms
        ]
        starts = [
            p
            for p in pieces
            if p.index not in preceding and cut <= p.start_ms < next_cut and p.start_ms - cut <= settings.max_gap_ms
        ]
        pairs = sorted(
            (distance(a.embedding, b.embedding), a.index, b.index)
            for a in ends
            for b in starts
            if a.embedding is not None and b.embedding is not None
        )
        for gap, earlier, later in pairs:
            if gap < settings.join_across_cut and earlier not in following and later not in preceding:
                join(earlier, later)
    appearances = []
    for piece in sorted(pieces, key=lambda p: p.index):
        if piece.index in preceding:
            continue
        chain = [piece]
        while chain[-1].index in following:
            chain.append(by_index[following[chain[-1].index]])
        appearances.append(
            LinkedAppearance(
                pieces=tuple(p.index for p in chain),
                start_ms=chain[0].start_ms,
                end_ms=max(p.end_ms for p in chain),
                embedding=_mean([p.embedding for p in chain if p.embedding is not None]),
            )
        )
    return appearances


@dataclass(frozen=True)
class Seen:
    """One appearance as the people grouping sees it: which video, when, and its embedding."""

    video: int
    start_ms: int
    end_ms: int
    embedding: Embedding | None = field(default=None, repr=False)


def group_people(appearances: Sequence[Seen], settings: PeopleSettings | None = None) -> list[int]:
    """The person index of each appearance (in the given order), numbered by first appearance."""
    settings = settings or PeopleSettings()
    count = len(appearances)
    members: dict[int, list[int]] = {i: [i] for i in range(count)}  # cluster id -> appearances
    embedded = [i for i in range(count) if appearances[i].embedding is not None]
    # Mean distance between clusters, for clusters of appearances with embeddings.
    between: dict[tuple[int, int], float] = {}
    for x, i in enumerate(embedded):
        for j in embedded[x + 1 :]:
            a, b = appearances[i], appearances[j]
            if a.video == b.video and a.start_ms <= b.end_ms and b.start_ms <= a.end_ms:
                continue  # on screen together: never one person
            between[(i, j)] = distance(a.embedding, b.embedding)  # type: ignore[arg-type]
    alive = set(embedded)  # clusters of appearances with embeddings, by their first member
    queue = [(value, i, j) for (i, j), value in between.items()]
    heapq.heapify(queue)  # closest pair first; ties by index, so the result is deterministic
    while queue:
        closest, i, j = heapq.heappop(queue)
        if closest > settings.same_person:
            break
        if i not in alive or j not in alive or between.get((i, j)) != closest:
            continue  # merged away since, or its distance changed
        size_i, size_j = len(members[i]), len(members[j])
        members[i].extend(members.pop(j))
        alive.discard(j)
        del between[(i, j)]
        for k in alive - {i}:
            key_i, key_j = (min(i, k), max(i, k)), (min(j, k), max(j, k))
            with_i, with_j = between.pop(key_i, None), between.pop(key_j, None)
            if with_i is None or with_j is None:
                continue  # one of them was on screen with k: the merged cluster never joins k
            merged = (size_i * with_i + size_j * with_j) / (size_i + size_j)
            between[key_i] = merged
            heapq.heappush(queue, (merged, *key_i))
    cluster_of = {member: cluster for cluster, group in members.items() for member in group}
    first_seen = sorted(
        members,
        key=lambda cluster: min((appearances[m].video, appearances[m].start_ms, m) for m in members[cluster]),
    )
    number = {cluster: position for position, cluster in enumerate(first_seen)}
    return [number[cluster_of[i]] for i in range(count)]
