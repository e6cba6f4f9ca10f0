"""The redaction's boxes (launcher/redact/boxes.py): interpolation to any frame time, extension at
an appearance's ends (longer at the frame's side), the documented margin, bridges between
appearances the grouping could not join, kept appearances, and pixel rounding."""

from __future__ import annotations

import pytest

from launcher.jobs.appearances import Box, Detection, group_appearances
from launcher.redact.boxes import FaceBox, Padding, Timeline, Track, sampling_interval, split


def appearances(*tracks: list[tuple[int, Box]]):  # type: ignore[no-untyped-def]
    """Appearances from detections, each track far from the others so that it groups alone."""
    detections = [Detection(at, box) for track in tracks for at, box in track]
    return group_appearances(detections).appearances


def centre(box: FaceBox) -> tuple[float, float]:
    return box.left + box.width / 2, box.top + box.height / 2


STILL = Padding(base_margin=0.0, motion_margin=0.0, slack_ms=0.0, min_end_speed=0.0)


def test_interpolates_centre_and_size_linearly_between_detections() -> None:
    found = appearances([(0, Box(0.1, 0.2, 0.1, 0.2)), (200, Box(0.2, 0.2, 0.14, 0.2))])
    assert len(found) == 1
    timeline = Timeline(found, STILL)
    (box,) = timeline.boxes_at(50)
    assert centre(box) == pytest.approx((0.15 + (0.27 - 0.15) * 0.25, 0.3))
    assert box.width == pytest.approx(0.11) and box.height == pytest.approx(0.2)


def test_the_margin_is_the_documented_formula() -> None:
    """margin = base x size + motion x speed x (time to the nearer detection + slack)."""
    padding = Padding(base_margin=0.25, motion_margin=1.0, slack_ms=50, min_end_speed=0.0)
    # Moves 0.1 of the frame in x in 200 ms: 0.5 per second; still in y.
    found = appearances([(0, Box(0.1, 0.4, 0.1, 0.2)), (200, Box(0.2, 0.4, 0.1, 0.2))])
    assert len(found) == 1
    timeline = Timeline(found, padding)
    at_detection = timeline.boxes_at(0)[0]
    assert at_detection.width == pytest.approx(0.1 + 2 * (0.25 * 0.1 + 0.5 * 0.05))
    assert at_detection.height == pytest.approx(0.2 + 2 * (0.25 * 0.2))
    halfway = timeline.boxes_at(100)[0]
    assert halfway.width == pytest.approx(0.1 + 2 * (0.25 * 0.1 + 0.5 * 0.15))
    assert centre(halfway)[0] == pytest.approx(0.2)


def test_extends_one_sampling_interval_beyond_the_ends_along_the_motion() -> None:
    track = [(at, Box(0.3 + (at - 1000) / 5000, 0.4, 0.1, 0.2)) for at in range(1000, 2001, 200)]
    found = appearances(track)
    assert len(found) == 1 and sampling_interval(found) == 200
    timeline = Timeline(found, STILL)
    assert timeline.boxes_at(790) == []
    before = timeline.boxes_at(800)[0]
    # The union of the first box and the first box moved back 200 ms at 0.2 per second.
    assert before.left == pytest.approx(0.3 - 0.04) and before.width == pytest.approx(0.1 + 0.04)
    after = timeline.boxes_at(2200)[0]
    assert after.left == pytest.approx(0.5) and after.width == pytest.approx(0.14)
    # At 0.2 a second the face needs 2 s to leave the frame, longer than three intervals: it would
    # have been seen at the next sample, so one interval is enough.
    assert timeline.boxes_at(2210) == []


def test_an_end_heading_out_of_the_frame_is_covered_until_the_face_has_left() -> None:
    """Leaving to the right at 0.5 of the frame a second, the box's left side at 0.8 at the last
    detection: the face is gone 400 ms later (two intervals), and is covered until then, wherever
    it is in the frame now."""
    track = [(at, Box(0.3 + (at - 1000) / 2000, 0.4, 0.1, 0.2)) for at in range(1000, 2001, 200)]
    timeline = Timeline(appearances(track), STILL)
    (leaving,) = timeline.boxes_at(2390)
    # The union of the last box and that box moved 390 ms on: at the frame's right side.
    assert leaving.left == pytest.approx(0.8) and leaving.left + leaving.width == pytest.approx(0.9 + 0.5 * 0.39)
    assert timeline.boxes_at(2410) == []
    # Coming in: 0.3 back at 0.5 a second, the box's right side reaches the frame's left at 800 ms
    # before; that is more than three intervals (600 ms), so the start gets the one interval.
    assert timeline.boxes_at(790) == []


def test_a_single_detection_moves_on_after_it_as_its_bridge_says() -> None:
    """One detection (then, too far for the grouping, a second appearance): after the single
    detection the box goes forward along the motion, not back (a face seen once and leaving the
    frame after it was uncovered at the service's 500 ms cadence when it was extrapolated the wrong way)."""
    once = [(400, Box(0.2, 0.4, 0.1, 0.2))]
    later = [(at, Box(0.5 + (at - 600) / 1000 * 0.5, 0.4, 0.1, 0.2)) for at in (600, 800)]
    found = appearances(once, later)
    assert len(found) == 2
    padding = Padding(base_margin=0.0, motion_margin=0.0, slack_ms=0.0, min_end_speed=0.0, extend_ms=200)
    boxes = [box for box in Timeline(found, padding).boxes_at(500) if box.appearance == found[0].index]
    own = [box for box in boxes if box.left == pytest.approx(0.2)]
    # Moving 0.3 of the frame in 200 ms: 100 ms after its detection it is 0.15 further right.
    assert own and own[0].width == pytest.approx(0.1 + 0.15)


def test_a_kept_single_detection_borrows_motion_from_a_covered_neighbour() -> None:
    """A kept face seen once, its next detection in another (covered) appearance: the audit's kept
    box follows the motion of the bridge between them, and the gap between the two is covered
    (which face is in it is a guess; hiding is the safe one)."""
    once = [(400, Box(0.2, 0.4, 0.1, 0.2))]
    later = [(at, Box(0.5 + (at - 600) / 1000 * 0.5, 0.4, 0.1, 0.2)) for at in (600, 800)]
    found = appearances(once, later)
    padding = Padding(base_margin=0.0, motion_margin=0.0, slack_ms=0.0, min_end_speed=0.0, extend_ms=200)
    timeline = Timeline(found, padding, keep=[found[0].index])
    (kept,) = timeline.kept_at(200)
    assert kept.left == pytest.approx(0.2 - 0.3) and kept.width == pytest.approx(0.1 + 0.3)
    covered = timeline.boxes_at(500)
    assert any(box.left <= 0.4 <= box.left + box.width for box in covered)


def test_an_end_at_the_frames_side_is_extended_longer() -> None:
    entering = [(at, Box(-0.05 + (at - 1000) / 10000, 0.4, 0.1, 0.2)) for at in range(1000, 2001, 200)]
    found = appearances(entering)
    timeline = Timeline(found, Padding(edge_factor=3.0))
    assert timeline.boxes_at(1000 - 3 * 200) != []
    assert Timeline(found, Padding(edge_factor=3.0)).boxes_at(1000 - 3 * 200 - 10) == []
    # The far end is inside the frame: one interval only.
    assert Timeline(found, Padding(edge_factor=3.0)).boxes_at(2000 + 200 + 10) == []


def test_an_end_with_unknown_motion_grows_at_the_minimum_speed() -> None:
    found = appearances([(1000, Box(0.4, 0.4, 0.1, 0.2))])
    padding = Padding(base_margin=0.0, motion_margin=1.0, slack_ms=0.0, min_end_speed=0.5, extend_ms=400)
    (box,) = Timeline(found, padding).boxes_at(600)
    assert box.width == pytest.approx(0.1 + 2 * 0.5 * 0.1 * 0.4)


def test_every_frame_time_is_answered_in_time_order_or_not() -> None:
    found = appearances(
        [(at, Box(0.1, 0.1, 0.1, 0.2)) for at in range(0, 1001, 200)],
        [(at, Box(0.7, 0.6, 0.1, 0.2)) for at in range(3000, 4001, 200)],
    )
    timeline = Timeline(found, STILL)
    in_order = [[box.appearance for box in timeline.boxes_at(t)] for t in range(0, 4500, 33)]
    backwards = [[box.appearance for box in timeline.boxes_at(t)] for t in range(0, 4500, 33)[::-1]]
    assert in_order == backwards[::-1]
    assert [0] in in_order and [1] in in_order and [] in in_order


def test_kept_appearances_are_not_covered_but_known_to_the_audit() -> None:
    found = appearances(
        [(at, Box(0.1, 0.1, 0.1, 0.2)) for at in range(0, 1001, 200)],
        [(at, Box(0.7, 0.6, 0.1, 0.2)) for at in range(0, 1001, 200)],
    )
    timeline = Timeline(found, STILL, keep=[1])
    assert [box.appearance for box in timeline.boxes_at(500)] == [0]
    assert [box.appearance for box in timeline.kept_at(500)] == [1]


def test_a_bridge_covers_a_fast_face_between_two_appearances_the_grouping_split() -> None:
    """A face jumping 3 face widths between samples is two appearances; the gap between them is
    still covered, along the line from one to the other."""
    first = [(at, Box(0.05 + at / 1000 * 0.3, 0.4, 0.1, 0.2)) for at in (0, 200)]
    second = [(at, Box(0.45 + (at - 400) / 1000 * 0.3, 0.4, 0.1, 0.2)) for at in (400, 600)]
    found = appearances(first, second)
    assert len(found) == 2, "the grouping splits it (if it stops doing so, this test has no subject)"
    with_bridge = Timeline(found, STILL)
    (box,) = [box for box in with_bridge.boxes_at(300) if box.left <= 0.3 <= box.left + box.width]
    assert centre(box)[0] == pytest.approx((0.16 + 0.5) / 2)
    no_bridge = Timeline(found, Padding(**{**STILL.__dict__, "bridge_intervals": 0.0}))
    assert not [box for box in no_bridge.boxes_at(300) if box.left <= 0.3 <= box.left + box.width]


def test_no_bridge_between_faces_of_different_sizes() -> None:
    small = [(at, Box(0.1, 0.4, 0.05, 0.1)) for at in (0, 200)]
    large = [(at, Box(0.2, 0.4, 0.2, 0.4)) for at in (400, 600)]
    timeline = Timeline(appearances(small, large), STILL)
    assert all(track.times[0] != 200 for track in timeline.tracks)


def test_two_boxes_at_one_timestamp_merge_into_their_union() -> None:
    track = Track(0, [(0, Box(0.1, 0.1, 0.1, 0.1)), (0, Box(0.3, 0.3, 0.1, 0.1))])
    assert track.box(0) == Box(pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.3), pytest.approx(0.3))


def test_pixels_round_outwards_to_even_and_clip_to_the_frame() -> None:
    assert FaceBox(0, 0.101, 0.101, 0.2, 0.2).pixels(100, 100) == (10, 10, 32, 32)
    assert FaceBox(0, -0.5, 0.9, 0.7, 0.5).pixels(100, 100) == (0, 90, 20, 100)
    assert FaceBox(0, 1.1, 0.1, 0.2, 0.2).pixels(100, 100) is None
    assert FaceBox(0, 0.101, 0.101, 0.2, 0.2).pixels(100, 100, align=1) == (10, 10, 31, 31)


def test_the_sampling_interval_is_the_median_step_and_bounded() -> None:
    assert sampling_interval([]) == 500
    found = appearances([(at, Box(0.1, 0.1, 0.1, 0.2)) for at in (0, 100, 200, 300, 1000)])
    assert sampling_interval(found) == 100
    sparse = appearances([(at, Box(0.1, 0.1, 0.1, 0.2)) for at in (0, 900)])
    assert sampling_interval(sparse) == 900


def test_a_track_is_cut_where_it_went_long_without_a_detection() -> None:
    """Missed samples (or another face taken for this one): each piece is extended at its inner
    ends like an appearance's, and the gap keeps its interpolated box."""
    boxes = [(at, Box(0.1 + at / 10000, 0.4, 0.1, 0.2)) for at in (0, 200, 400, 1400, 1600)]
    pieces = split(Track(0, boxes, extend_ms=200.0), Padding(split_intervals=1.5), 200.0)
    spans = sorted((piece.times[0], piece.times[-1], piece.before_ms, piece.after_ms) for piece in pieces)
    assert spans == [(0, 400, 200.0, 200.0), (400, 1400, 0.0, 0.0), (1400, 1600, 200.0, 200.0)]


def test_a_single_detection_borrows_the_motion_of_its_bridge() -> None:
    """A face seen once, then (as another appearance, too far for the grouping) further on: before
    its one detection it is looked for back along that motion, not only around where it was seen."""
    once = [(400, Box(0.2, 0.4, 0.1, 0.2))]
    later = [(at, Box(0.5 + (at - 600) / 1000 * 0.5, 0.4, 0.1, 0.2)) for at in (600, 800)]
    found = appearances(once, later)
    assert len(found) == 2
    padding = Padding(base_margin=0.0, motion_margin=0.0, slack_ms=0.0, min_end_speed=0.0, extend_ms=200)
    (before,) = Timeline(found, padding).boxes_at(200)
    # Moving 0.3 of the frame in 200 ms: 200 ms earlier it was 0.3 further left; the box spans both.
    assert before.left == pytest.approx(0.2 - 0.3) and before.width == pytest.approx(0.1 + 0.3)


def test_at_a_detections_own_time_the_box_is_that_detection() -> None:
    """At the first and the last detection's timestamp exactly (the frames the service sampled),
    the box is that detection's, padded: not the other end's."""
    track = [(at, Box(0.1 + (at - 1000) / 10000, 0.4, 0.1, 0.2)) for at in range(1000, 2001, 500)]
    timeline = Timeline(appearances(track), STILL)
    for at in (1000, 1500, 2000):
        (box,) = timeline.boxes_at(at)
        assert box.left == pytest.approx(0.1 + (at - 1000) / 10000) and box.width == pytest.approx(0.1)
