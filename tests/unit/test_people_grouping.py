"""Appearances into people with fixed embeddings (no model): cuts, vetoes, re-entries, batches."""

from __future__ import annotations

from launcher.people.grouping import LinkedAppearance, PeopleSettings, Piece, Seen, group_people, link_pieces

# Three "people": points 0.7 apart (dlib's network puts different people about 0.6 or more apart),
# and small offsets for other pictures of the same person.
ANNA = (0.5, 0.0, 0.0, 0.0)
BORIS = (0.0, 0.5, 0.0, 0.0)
CLARA = (0.0, 0.0, 0.5, 0.0)


def near(person: tuple[float, ...], shift: float) -> tuple[float, ...]:
    return (*person[:3], person[3] + shift)


def pieces_of(appearances: list[LinkedAppearance]) -> list[tuple[int, ...]]:
    return [appearance.pieces for appearance in appearances]


def test_two_people_at_one_spot_across_a_cut_stay_apart() -> None:
    pieces = [Piece(0, 0, 2800, ANNA), Piece(1, 3000, 6000, BORIS)]
    appearances = link_pieces(pieces, [], cuts=[3000])
    assert pieces_of(appearances) == [(0,), (1,)]
    seen = [Seen(0, a.start_ms, a.end_ms, a.embedding) for a in appearances]
    assert group_people(seen) == [0, 1]


def test_the_same_face_on_both_sides_of_a_cut_is_one_appearance() -> None:
    pieces = [Piece(0, 0, 2800, ANNA), Piece(1, 3000, 6000, near(ANNA, 0.1)), Piece(2, 3200, 6000, BORIS)]
    appearances = link_pieces(pieces, [], cuts=[3000])
    assert pieces_of(appearances) == [(0, 1), (2,)]
    assert (appearances[0].start_ms, appearances[0].end_ms) == (0, 6000)


def test_a_cut_joins_only_pieces_next_to_it() -> None:
    """Anna leaves at 1 s; the cut comes at 3 s: the Anna after the cut is a new appearance."""
    pieces = [Piece(0, 0, 1000, ANNA), Piece(1, 3000, 6000, ANNA)]
    assert pieces_of(link_pieces(pieces, [], cuts=[3000])) == [(0,), (1,)]


def test_the_embedding_vetoes_a_position_link_between_two_people() -> None:
    pieces = [Piece(0, 0, 2000, ANNA), Piece(1, 2600, 5000, BORIS)]
    assert pieces_of(link_pieces(pieces, [(0, 1)], cuts=[])) == [(0,), (1,)]


def test_a_position_link_is_kept_for_the_same_person_or_without_embeddings() -> None:
    same = [Piece(0, 0, 2000, ANNA), Piece(1, 2600, 5000, near(ANNA, 0.2))]
    assert pieces_of(link_pieces(same, [(0, 1)], cuts=[])) == [(0, 1)]
    unknown = [Piece(0, 0, 2000, ANNA), Piece(1, 2600, 5000, None)]
    assert pieces_of(link_pieces(unknown, [(0, 1)], cuts=[])) == [(0, 1)]


def test_one_person_re_entering_joins_the_same_person() -> None:
    seen = [Seen(0, 0, 2000, ANNA), Seen(0, 500, 4000, BORIS), Seen(0, 5000, 7000, near(ANNA, 0.15))]
    assert group_people(seen) == [0, 1, 0]


def test_two_faces_on_screen_together_are_two_people_even_if_alike() -> None:
    seen = [Seen(0, 0, 2000, ANNA), Seen(0, 1000, 3000, near(ANNA, 0.05))]
    assert group_people(seen) == [0, 1]
    # ... but in two different videos they may be one person.
    assert group_people([Seen(0, 0, 2000, ANNA), Seen(1, 1000, 3000, near(ANNA, 0.05))]) == [0, 0]


def test_people_across_the_videos_of_a_batch_numbered_by_first_appearance() -> None:
    seen = [
        Seen(1, 0, 1000, ANNA),  # given out of order: numbering follows video, then time
        Seen(0, 5000, 6000, BORIS),
        Seen(0, 0, 1000, CLARA),
        Seen(1, 2000, 3000, BORIS),
        Seen(0, 7000, 8000, None),  # too small for an embedding: a person of its own
    ]
    assert group_people(seen) == [3, 1, 0, 1, 2]


def test_the_cannot_link_holds_after_merges() -> None:
    """Anna's first appearance overlaps Boris's second; Boris's appearances merge first, so the
    merged Boris can no longer join Anna even though one of his members could."""
    nearly = near(BORIS, 0.01)
    seen = [Seen(0, 0, 1000, ANNA), Seen(0, 2000, 3000, BORIS), Seen(0, 500, 900, nearly)]
    settings = PeopleSettings(same_person=10.0)  # everything is "close": only the constraint separates
    people = group_people(seen, settings)
    assert people[1] == people[2]
    assert people[0] != people[2]


def test_average_linkage_does_not_chain_through_a_middle_face() -> None:
    line = [(0.0, 0.0), (0.3, 0.0), (0.6, 0.0), (0.9, 0.0)]  # neighbours 0.3 apart, ends 0.9 apart
    seen = [Seen(0, 1000 * i, 1000 * i + 500, point) for i, point in enumerate(line)]
    people = group_people(seen, PeopleSettings(same_person=0.4))
    assert len(set(people)) == 2
