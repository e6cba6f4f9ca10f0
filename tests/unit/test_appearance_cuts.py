"""The appearance tracker with hard cuts and, for --people, pieces between uncertain links."""

from __future__ import annotations

from launcher.jobs.appearances import Box, Detection, group_appearances

STEP_MS = 200


def at(timestamp: int, left: float, top: float = 0.3, size: float = 0.1, score: float = 0.5) -> Detection:
    return Detection(timestamp, Box(left, top, size, size * 16 / 9), score=score)


def test_a_face_after_a_cut_at_the_same_place_is_a_new_appearance() -> None:
    detections = [at(t, 0.45) for t in range(0, 6000, STEP_MS)]
    assert len(group_appearances(detections).appearances) == 1  # without the cut: one, by position
    grouping = group_appearances(detections, cuts=[3000])
    assert [(a.start_ms, a.end_ms) for a in grouping.appearances] == [(0, 2800), (3000, 5800)]
    assert grouping.links == []


def test_a_cut_between_samples_counts_and_cuts_before_the_first_frame_do_not() -> None:
    detections = [at(t, 0.45) for t in range(0, 2000, STEP_MS)]
    assert len(group_appearances(detections, cuts=[0]).appearances) == 1
    assert len(group_appearances(detections, cuts=[1090]).appearances) == 2  # cut between 1000 and 1200


def test_pieces_break_after_a_missed_sample_and_link_the_pieces() -> None:
    detections = [at(t, 0.45) for t in range(0, 4000, STEP_MS) if t != 2000]
    grouping = group_appearances(detections, pieces=True)
    assert [(a.start_ms, a.end_ms) for a in grouping.appearances] == [(0, 1800), (2200, 3800)]
    assert grouping.links == [(0, 1)]
    assert len(group_appearances(detections).appearances) == 1  # without pieces: one appearance


def test_pieces_keep_their_best_frames() -> None:
    scores = [0.1, 0.9, 0.3, 0.8, 0.2, 0.7]
    detections = [at(i * STEP_MS, 0.45, score=score) for i, score in enumerate(scores)]
    (appearance,) = group_appearances(detections, pieces=True).appearances
    assert [timestamp for timestamp, _box in appearance.best_frames] == [200, 600, 1000]
    assert appearance.best_score == 0.9


def test_two_faces_meeting_end_their_pieces_after_the_contest() -> None:
    """Two faces slide towards each other until they are close enough to compete, then apart."""
    detections = []
    for i in range(20):
        gap = abs(10 - i) * 0.02 + 0.02  # nearest at i = 10
        detections += [at(i * STEP_MS, 0.45 - gap), at(i * STEP_MS, 0.45 + gap)]
    grouping = group_appearances(detections, pieces=True)
    assert len(grouping.appearances) > 2  # broken where they competed ...
    assert len(grouping.links) == len(grouping.appearances) - 2  # ... and every break is a link
    for earlier, later in grouping.links:
        first, second = grouping.appearances[earlier], grouping.appearances[later]
        assert first.end_ms < second.start_ms
