"""Every format holds what the job returned: each FaceDetail member botocore's model knows is a CSV
column (read back whole), and the video's metadata is on every CSV row."""

from __future__ import annotations

import csv
import io
import json

import botocore.session

from launcher.jobs.formats import ATTRIBUTE_MEMBERS, CSV_COLUMNS, LIST_MEMBERS, read_summary, write_document

FACE = {
    "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
    "AgeRange": {"Low": 25, "High": 33},
    "Smile": {"Value": False, "Confidence": 97.5},
    "Eyeglasses": {"Value": True, "Confidence": 88.25},
    "Sunglasses": {"Value": False, "Confidence": 99.5},
    "Gender": {"Value": "Female", "Confidence": 99.96},
    "Beard": {"Value": False, "Confidence": 90.0},
    "Mustache": {"Value": False, "Confidence": 91.0},
    "EyesOpen": {"Value": True, "Confidence": 92.0},
    "MouthOpen": {"Value": False, "Confidence": 93.0},
    "Emotions": [{"Type": "CALM", "Confidence": 80.5}, {"Type": "HAPPY", "Confidence": 12.25}],
    "Landmarks": [{"Type": "eyeLeft", "X": 0.15, "Y": 0.2}],
    "Pose": {"Roll": 1.5, "Yaw": -2.5, "Pitch": 3.5},
    "Quality": {"Brightness": 70.5, "Sharpness": 80.5},
    "Confidence": 99.96,
    "FaceOccluded": {"Value": False, "Confidence": 95.0},
    "EyeDirection": {"Yaw": 1.25, "Pitch": -0.5, "Confidence": 96.0},
}
PAGE = {
    "JobStatus": "SUCCEEDED",
    "JobId": "job-1",
    "VideoMetadata": {
        "Codec": "h264",
        "DurationMillis": 1000,
        "Format": "QuickTime / MOV",
        "FrameRate": 29.97,
        "FrameHeight": 360,
        "FrameWidth": 640,
        "ColorRange": "LIMITED",
    },
    "Faces": [{"Timestamp": 0, "Face": FACE}, {"Timestamp": 200, "Face": FACE}],
}


def test_every_face_detail_member_of_the_service_model_has_its_columns():
    model = botocore.session.get_session().get_service_model("rekognition")
    members = model.shape_for("FaceDetail").members
    covered = {"BoundingBox", "Pose", "Quality", "Confidence", *ATTRIBUTE_MEMBERS, *LIST_MEMBERS}
    assert set(members) <= covered, set(members) - covered
    for member, parts in ATTRIBUTE_MEMBERS.items():
        assert tuple(members[member].members) == parts, member


def test_csv_holds_every_attribute_and_the_metadata_and_reads_back_whole(tmp_path):
    out = io.StringIO()
    write_document(out, iter([PAGE]), "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(CSV_COLUMNS)
    row = rows[0]
    assert (row["age_range_low"], row["age_range_high"], row["gender_value"], row["gender_confidence"]) == (
        "25",
        "33",
        "Female",
        "99.96",
    )
    assert row["eyeglasses_value"] == "true" and json.loads(row["emotions"])[0] == {"Type": "CALM", "Confidence": 80.5}
    assert all(r["job_id"] == "job-1" and r["video_frame_rate"] == "29.97" for r in rows)
    path = tmp_path / "faces.csv"
    path.write_text(out.getvalue())
    summary = read_summary(path, "csv")
    assert summary.header["VideoMetadata"] == PAGE["VideoMetadata"] and summary.header["JobId"] == "job-1"
    best = summary.appearances[0].best_face
    assert best is not None
    for member in (*ATTRIBUTE_MEMBERS, *LIST_MEMBERS, "Confidence"):
        assert best[member] == FACE[member], member
