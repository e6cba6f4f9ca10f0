"""Grouping detections into appearances, on hand-made detection sequences."""

import random
from itertools import pairwise

import pytest

from launcher.jobs.appearances import (
    LANDMARK_TYPES,
    AppearanceTracker,
    Box,
    Detection,
    TrackerSettings,
    frames,
    group_appearances,
    picture_score,
)

STEP_MS = 200


def face(timestamp, left, top, width=0.1, height=0.18, *, yaw=0.0, sharpness=60.0, layout=None):
    """A GetFaceDetection ``Faces`` entry; ``layout`` places the landmarks inside the box."""
    layout = layout or ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))
    return {
        "Timestamp": timestamp,
        "Face": {
            "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
            "Landmarks": [
                {"Type": kind, "X": left + x * width, "Y": top + y * height}
                for kind, (x, y) in zip(LANDMARK_TYPES, layout, strict=True)
            ],
            "Pose": {"Roll": 0.0, "Yaw": yaw, "Pitch": 0.0},
            "Quality": {"Brightness": 50.0, "Sharpness": sharpness},
            "Confidence": 99.9,
        },
    }


def group(entries, settings=None):
    return group_appearances([Detection.from_face(entry) for entry in entries], settings)


def spans(grouping):
    return [(a.start_ms, a.end_ms, a.detections) for a in grouping.appearances]


def test_one_moving_face_is_one_appearance_with_its_boxes_extent_and_count():
    entries = [face(i * STEP_MS, 0.1 + 0.02 * i, 0.3) for i in range(20)]
    grouping = group(entries)
    assert grouping.indexes == [0] * 20
    (appearance,) = grouping.appearances
    assert (appearance.index, appearance.start_ms, appearance.end_ms, appearance.detections) == (0, 0, 3800, 20)
    assert appearance.duration_ms == 3800
    assert appearance.extent == pytest.approx(Box(0.1, 0.3, 0.48, 0.18))
    assert [at for at, _ in appearance.boxes()] == [i * STEP_MS for i in range(20)]
    assert list(appearance.boxes())[5][1] == Box(0.2, 0.3, 0.1, 0.18)


def test_two_faces_crossing_keep_their_own_appearance():
    # A goes right, B goes left, along the same line: at 2 s they are one on the other.
    entries = []
    for i in range(21):
        entries.append(face(i * STEP_MS, 0.1 + 0.035 * i, 0.40))
        entries.append(face(i * STEP_MS, 0.8 - 0.035 * i, 0.40))
    grouping = group(entries)
    assert spans(grouping) == [(0, 4000, 21), (0, 4000, 21)]
    for appearance in grouping.appearances:
        lefts = [box.left for _, box in appearance.boxes()]
        assert lefts == sorted(lefts) or lefts == sorted(lefts, reverse=True), "an appearance swapped faces"


def test_a_face_hidden_behind_another_for_two_seconds_keeps_its_appearance():
    # A goes right in front; B goes left behind it and is not detected while A covers it.
    entries = []
    for i in range(40):
        a_left, b_left = 0.1 + 0.01 * i, 0.5 - 0.01 * i
        entries.append(face(i * STEP_MS, a_left, 0.40))
        if abs(a_left - b_left) >= 0.1:
            entries.append(face(i * STEP_MS, b_left, 0.42))
    behind = [entry["Timestamp"] for entry in entries if entry["Face"]["BoundingBox"]["Top"] == 0.42]
    assert max(b - a for a, b in pairwise(behind)) > TrackerSettings().max_gap_ms
    assert spans(group(entries)) == [(0, 7800, 40), (0, 7800, len(behind))]
    # Gone as long with nothing in front of it, it would have left.
    alone = [entry for entry in entries if entry["Face"]["BoundingBox"]["Top"] == 0.42]
    assert len(group(alone).appearances) == 2


def test_a_near_and_a_far_face_one_behind_the_other_are_told_apart_by_size():
    entries = []
    for i in range(12):
        jitter = 0.01 if i % 2 else -0.01
        entries.append(face(i * STEP_MS, 0.40 + jitter, 0.30, width=0.15, height=0.27))
        entries.append(face(i * STEP_MS, 0.42 - jitter, 0.31, width=0.12, height=0.22))
    grouping = group(entries)
    assert len(grouping.appearances) == 2
    for appearance in grouping.appearances:
        assert len({round(box.width, 3) for _, box in appearance.boxes()}) == 1


def test_a_head_turning_in_place_stays_one_appearance_and_layout_decides_between_overlapping_faces():
    frontal = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))
    profile = ((0.15, 0.4), (0.4, 0.4), (0.1, 0.6), (0.15, 0.8), (0.35, 0.8))
    # One face turning gradually: one appearance.
    turning = [
        face(
            i * STEP_MS,
            0.4,
            0.3,
            layout=tuple((f[0] + (p[0] - f[0]) * i / 9, f[1]) for f, p in zip(frontal, profile, strict=True)),
        )
        for i in range(10)
    ]
    assert spans(group(turning)) == [(0, 1800, 10)]
    # Two faces at almost the same place, one frontal and one in profile, both jittering: the layout
    # keeps each with its own appearance.
    entries = []
    for i in range(10):
        jitter = 0.004 if i % 2 else -0.004
        entries.append(face(i * STEP_MS, 0.40 + jitter, 0.30, layout=frontal))
        entries.append(face(i * STEP_MS, 0.40 - jitter, 0.30, layout=profile))
    grouping = group(entries)
    assert grouping.indexes == [0, 1] * 10 or grouping.indexes == [1, 0] * 10


def test_short_gaps_are_bridged_and_a_long_absence_starts_a_new_appearance():
    # Samples 5 and 6 missed (400 ms, a turned head): one appearance.
    bridged = [face(i * STEP_MS, 0.2 + 0.01 * i, 0.3) for i in range(15) if i not in (5, 6)]
    assert spans(group(bridged)) == [(0, 2800, 13)]
    # Gone for 2 s (the face left and came back at the same place): two appearances.
    away = [face(i * STEP_MS, 0.2, 0.3) for i in list(range(5)) + list(range(15, 20))]
    assert spans(group(away)) == [(0, 800, 5), (3000, 3800, 5)]
    # The tolerance is a setting.
    assert spans(group(away, TrackerSettings(max_gap_ms=3000))) == [(0, 3800, 10)]


def test_a_face_cut_by_the_frame_s_side_while_it_comes_in_and_goes_out_is_one_appearance():
    # Coming in from the left: the frame cuts its box, which grows in width only; then across; then
    # out on the right, its box shrinking. Faces in the middle teach the tracker the faces' shape.
    entries = [face(0, 0.5, 0.1), face(200, 0.5, 0.1)]
    entries += [face(i * STEP_MS, 0.0, 0.4, width=0.025 * i, height=0.18) for i in range(1, 5)]
    entries += [face(i * STEP_MS, 0.025 * (i - 4), 0.4) for i in range(5, 41)]
    entries += [face(i * STEP_MS, 0.9 + 0.025 * (i - 40), 0.4, width=0.1 - 0.025 * (i - 40)) for i in range(41, 44)]
    grouping = group(entries)
    assert [a.detections for a in grouping.appearances] == [2, 43]


def test_a_face_far_from_where_it_was_is_another_appearance():
    entries = [face(0, 0.1, 0.3), face(200, 0.1, 0.3), face(400, 0.7, 0.3), face(600, 0.7, 0.3)]
    assert spans(group(entries)) == [(0, 200, 2), (400, 600, 2)]


def test_one_face_splitting_into_two():
    # One box (two people standing one behind the other), then two boxes moving apart.
    entries = [face(i * STEP_MS, 0.40, 0.30) for i in range(5)]
    for i in range(5, 12):
        entries.append(face(i * STEP_MS, 0.40 - 0.006 * (i - 4), 0.30))
        entries.append(face(i * STEP_MS, 0.40 + 0.05 * (i - 4), 0.31))
    grouping = group(entries)
    assert spans(grouping) == [(0, 2200, 12), (1000, 2200, 7)]
    # The one that stayed put continues the appearance; the one that moved away is the new one.
    first, second = grouping.appearances
    assert all(box.left <= 0.40 for _, box in first.boxes())
    assert all(box.left > 0.40 for _, box in second.boxes())


def test_many_faces_in_one_frame():
    random.seed(7)
    entries = []
    for frame in range(10):
        for row in range(10):
            for column in range(20):
                jitter = random.uniform(-0.002, 0.002)
                entries.append(face(frame * STEP_MS, 0.05 * column + jitter, 0.1 * row, width=0.04, height=0.08))
    grouping = group(entries)
    assert len(grouping.appearances) == 200
    assert all(a.detections == 10 and (a.start_ms, a.end_ms) == (0, 1800) for a in grouping.appearances)
    # Numbered from the left in the first frame (column 0 first); each keeps its grid place.
    first_column = [grouping.indexes[row * 20] for row in range(10)]
    assert sorted(first_column) == list(range(10))
    for appearance in grouping.appearances:
        columns = {round(box.left / 0.05) for _, box in appearance.boxes()}
        rows = {round(box.top / 0.1) for _, box in appearance.boxes()}
        assert len(columns) == 1 and len(rows) == 1


def test_the_grouping_is_deterministic_whatever_the_order_within_a_frame():
    entries = []
    for i in range(12):
        entries += [face(i * STEP_MS, 0.1 + 0.03 * i, 0.2), face(i * STEP_MS, 0.7 - 0.03 * i, 0.25)]
        entries += [face(i * STEP_MS, 0.4, 0.6, width=0.15, height=0.27)]
    reference = group(entries)
    shuffled = entries[:]
    random.seed(3)
    random.shuffle(shuffled)  # across frames too: the pure function sorts by time
    again = group(shuffled)
    by_entry = {id(entry): index for entry, index in zip(shuffled, again.indexes, strict=True)}
    assert [by_entry[id(entry)] for entry in entries] == reference.indexes
    assert [a.to_api() for a in again.appearances] == [a.to_api() for a in reference.appearances]


def test_the_best_detection_is_the_sharpest_most_frontal():
    entries = [
        face(0, 0.3, 0.3, yaw=40, sharpness=90),
        face(200, 0.3, 0.3, yaw=2, sharpness=80),
        face(400, 0.3, 0.3, yaw=0, sharpness=20),
        face(600, 0.3, 0.3, yaw=2, sharpness=80),  # as good as 200 ms: the earlier one wins
    ]
    (appearance,) = group(entries).appearances
    assert appearance.best_timestamp == 200
    assert appearance.best_face == entries[1]["Face"]
    document = appearance.to_api()
    assert document["BestDetection"] == {"Timestamp": 200, "Face": entries[1]["Face"]}
    assert picture_score({"BoundingBox": {}}) == 1.0
    assert picture_score(entries[1]["Face"]) > picture_score(entries[0]["Face"])


def test_appearance_document_shape():
    (appearance,) = group([face(0, 0.1, 0.2), face(200, 0.12, 0.2)]).appearances
    document = appearance.to_api()
    assert document["Index"] == 0
    assert (document["StartTimestamp"], document["EndTimestamp"], document["DurationMillis"]) == (0, 200, 200)
    assert document["DetectionCount"] == 2
    assert document["BoundingBox"] == pytest.approx({"Width": 0.12, "Height": 0.18, "Left": 0.1, "Top": 0.2})
    assert document["BoundingBoxes"][1] == {
        "Timestamp": 200,
        "BoundingBox": {"Width": 0.1, "Height": 0.18, "Left": 0.12, "Top": 0.2},
    }


def test_faces_without_landmarks_or_quality_are_grouped_too():
    entries = [
        {"Timestamp": i * STEP_MS, "Face": {"BoundingBox": {"Width": 0.1, "Height": 0.2, "Left": 0.3, "Top": 0.3}}}
        for i in range(4)
    ]
    assert spans(group(entries)) == [(0, 600, 4)]


def test_the_tracker_says_each_index_at_once_and_refuses_time_going_backwards():
    tracker = AppearanceTracker()
    assert tracker.add_frame(0, [Detection.from_face(face(0, 0.1, 0.1)), Detection.from_face(face(0, 0.6, 0.1))]) == [
        0,
        1,
    ]
    assert tracker.add_frame(200, [Detection.from_face(face(200, 0.61, 0.1))]) == [1]
    with pytest.raises(ValueError, match="time order"):
        tracker.add_frame(100, [])
    assert [a.detections for a in tracker.finish()] == [1, 2]
    assert tracker.finish() is tracker.finish()
    with pytest.raises(ValueError, match="finished"):
        tracker.add_frame(400, [])


def test_frames_groups_consecutive_entries_by_timestamp():
    entries = [face(0, 0.1, 0.1), face(0, 0.5, 0.1), face(200, 0.1, 0.1)]
    assert [(t, len(f)) for t, f in frames(entries)] == [(0, 2), (200, 1)]
    assert list(frames([])) == []
