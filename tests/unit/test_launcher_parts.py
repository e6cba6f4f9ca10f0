"""The launcher's pure parts: URIs, tokens, completion messages, result writers."""

import csv
import json
import re
from pathlib import Path

import pytest

from launcher.jobs.detection import StartRequest, check_parameter
from launcher.jobs.errors import BadInput
from launcher.jobs.formats import read_summary, write_results
from launcher.jobs.notifications import parse_completion
from launcher.jobs.s3video import S3Video, parse_s3_uri

COMPLETION = {
    "JobId": "a" * 64,
    "Status": "SUCCEEDED",
    "API": "StartFaceDetection",
    "JobTag": "t",
    "Timestamp": 1510865364756,
    "Video": {"S3ObjectName": "v.mp4", "S3Bucket": "b"},
}


def test_s3_uris():
    assert parse_s3_uri("s3://bucket/path/to/v.mp4") == S3Video("bucket", "path/to/v.mp4", None)
    assert parse_s3_uri("s3://bucket/v%20x.mp4?versionId=abc") == S3Video("bucket", "v x.mp4", "abc")
    for bad in (
        "s3://bucket",
        "s3://bucket/",
        "http://bucket/v.mp4",
        "s3:///v.mp4",
        "s3://b/v.mp4?versionId=",
        "s3://b/v.mp4?versionId=1&versionId=2",
        "s3://b/v.mp4?acl=1",
    ):
        with pytest.raises(BadInput):
            parse_s3_uri(bad)


def test_an_s3_uri_with_a_hash_or_question_mark_in_its_key_says_how_to_write_them():
    """A key such as 'clip #1.mp4' is a fragment or a query once in a URI: the line says how to write it."""
    escapes = "(in a key, write # as %23, ? as %3F and % as %25)"
    for bad, says in (
        ("s3://b/clip #1.mp4", "is not an S3 video URI: write s3://bucket/key or s3://bucket/key?versionId=ID"),
        ("s3://b/what?.mp4", "the only query parameter an S3 video URI takes is one versionId=ID"),
    ):
        with pytest.raises(BadInput) as refused:
            parse_s3_uri(bad)
        assert str(refused.value) == f"{bad!r}{'' if says.startswith('is') else ':'} {says} {escapes}"
    assert parse_s3_uri("s3://b/clip%20%231.mp4") == S3Video("b", "clip #1.mp4", None)
    with pytest.raises(BadInput) as refused:
        parse_s3_uri("s3://bucket-only")
    assert "%23" not in str(refused.value)


def test_derived_token_is_valid_and_changes_with_every_parameter():
    request = StartRequest(S3Video("b", "k.mp4", "v1"), "arn:topic", "arn:role")
    token = request.derived_token()
    assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", token)
    check_parameter("StartFaceDetection", "ClientRequestToken", token, "--token")
    assert StartRequest(S3Video("b", "k.mp4", "v1"), "arn:topic", "arn:role").derived_token() == token
    variants = [
        StartRequest(S3Video("b", "k.mp4", "v2"), "arn:topic", "arn:role"),
        StartRequest(S3Video("b", "k.mp4", "v1"), "arn:topic", "arn:role", attributes="ALL"),
        StartRequest(S3Video("b", "k.mp4", "v1"), "arn:topic", "arn:role", job_tag="x"),
        StartRequest(S3Video("b", "k.mp4", "v1"), "arn:other", "arn:role"),
    ]
    assert len({v.derived_token() for v in variants} | {token}) == 5
    assert request.as_api()["ClientRequestToken"] == token
    assert StartRequest(S3Video("b", "k", None), "t", "r", token="mine").as_api()["ClientRequestToken"] == "mine"


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(COMPLETION),
        json.dumps(
            {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:x", "Message": json.dumps(COMPLETION)}
        ),
        json.dumps(dict(COMPLETION, API="FACE_DETECTION")),
    ],
)
def test_completions_raw_or_in_the_sns_envelope(body):
    completion = parse_completion(body)
    assert completion is not None
    assert (completion.job_id, completion.status, completion.job_tag) == ("a" * 64, "SUCCEEDED", "t")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{not json",
        "[]",
        json.dumps({"JobId": "x"}),
        json.dumps(dict(COMPLETION, Status="MAYBE")),
        json.dumps({"Type": "Notification", "Message": "not json"}),
    ],
)
def test_anything_else_is_not_a_completion(body):
    assert parse_completion(body) is None


def pages(faces_per_page, count):
    for page in range(count):
        response = {
            "JobStatus": "SUCCEEDED",
            "JobId": "j",
            "VideoMetadata": {"DurationMillis": 5000},
            "Video": {"S3Object": {"Bucket": "b", "Name": "n"}},
            "Faces": [
                {
                    "Timestamp": page * 1000 + i,
                    "Face": {"BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}, "Confidence": 99.0},
                }
                for i in range(faces_per_page)
            ],
        }
        if page + 1 < count:
            response["NextToken"] = str(page)
        yield response


def test_json_merges_every_page_into_one_response_shaped_document(tmp_path: Path):
    out = tmp_path / "faces.json"
    summary = write_results(pages(3, 4), out, "json")
    document = json.loads(out.read_text())
    assert document["JobId"] == "j" and document["JobStatus"] == "SUCCEEDED"
    assert "NextToken" not in document
    assert len(document["Faces"]) == 12
    assert (summary.faces, summary.first_ms, summary.last_ms, summary.video_ms) == (12, 0, 3002, 5000)
    assert summary.describe() == "12 face(s) found from 0.0 s to 3.0 s of a 5.0 s video, in 1 appearance(s)"
    # GetFaceDetection's shape is kept; each face says which appearance it belongs to: the same face
    # at the same place, never gone for more than a second, is one appearance.
    assert all(set(face) == {"Timestamp", "Face", "AppearanceIndex"} for face in document["Faces"])
    assert [face["AppearanceIndex"] for face in document["Faces"]] == [0] * 12
    (appearance,) = document["Appearances"]
    assert (appearance["Index"], appearance["StartTimestamp"], appearance["EndTimestamp"]) == (0, 0, 3002)
    assert appearance["DetectionCount"] == 12 and len(appearance["BoundingBoxes"]) == 12
    assert [a.index for a in summary.appearances] == [0]
    assert summary.header["VideoMetadata"] == {"DurationMillis": 5000}


def test_a_frame_split_across_two_pages_is_grouped_as_one_frame(tmp_path: Path):
    box = {"Left": 0.1, "Top": 0.2, "Width": 0.1, "Height": 0.2}
    other = {"Left": 0.6, "Top": 0.2, "Width": 0.1, "Height": 0.2}
    first = {"JobStatus": "SUCCEEDED", "NextToken": "n", "Faces": [{"Timestamp": 0, "Face": {"BoundingBox": box}}]}
    second = {"JobStatus": "SUCCEEDED", "Faces": [{"Timestamp": 0, "Face": {"BoundingBox": other}}]}
    third = {"JobStatus": "SUCCEEDED", "Faces": [{"Timestamp": 200, "Face": {"BoundingBox": other}}]}
    out = tmp_path / "faces.jsonl"
    summary = write_results(iter([first, second, third]), out, "jsonl")
    assert [json.loads(line)["AppearanceIndex"] for line in out.read_text().splitlines()] == [0, 1, 1]
    assert [a.detections for a in summary.appearances] == [1, 2]


def test_csv_has_an_appearance_column(tmp_path: Path):
    box = {"Left": 0.1, "Top": 0.2, "Width": 0.1, "Height": 0.2}
    faces = [{"Timestamp": t, "Face": {"BoundingBox": box}} for t in (0, 200, 5000, 5200)]  # gone 4.8 s
    out = tmp_path / "faces.csv"
    write_results(iter([{"JobStatus": "SUCCEEDED", "Faces": faces}]), out, "csv")
    rows = list(csv.DictReader(out.open()))
    assert [row["appearance"] for row in rows] == ["0", "0", "1", "1"]


def test_an_error_mid_results_leaves_no_file(tmp_path: Path):
    def failing():
        yield from pages(2, 1)
        raise RuntimeError("the network went away")

    out = tmp_path / "faces.json"
    out.write_text("the previous result")
    with pytest.raises(RuntimeError):
        write_results(failing(), out, "csv")
    assert out.read_text() == "the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.json"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_a_results_file_reads_back_into_the_summary_it_was_written_with(tmp_path: Path, fmt):
    box = {"Left": 0.1, "Top": 0.2, "Width": 0.1, "Height": 0.2}
    faces = [{"Timestamp": t, "Face": {"BoundingBox": box, "Confidence": 99.5}} for t in (0, 200, 5000, 5200)]
    out = tmp_path / f"faces.{fmt}"
    written = write_results(iter([{"JobStatus": "SUCCEEDED", "Faces": faces}]), out, fmt)
    again = read_summary(out, fmt)
    assert again.faces == written.faces == 4
    assert [a.to_api() for a in again.appearances] == [a.to_api() for a in written.appearances]


def test_a_batchs_uploads_at_once_fit_in_the_s3_clients_connection_pool(monkeypatch):
    """Two 400 MB videos in a batch printed 'WARNING: Connection pool is full, discarding connection'
    (urllib3), as its two uploads of 10 parts at once shared botocore's 10 connections."""
    from launcher.aws import AwsSettings, Clients
    from launcher.batch.scheduler import PREPARE_WORKERS
    from launcher.upload import TRANSFER

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    clients = Clients("us-east-1", AwsSettings(region="us-east-1", endpoint_url="http://127.0.0.1:1"))
    pool = clients("s3").meta.config.max_pool_connections
    assert pool >= PREPARE_WORKERS * TRANSFER.max_concurrency + 2  # and a status call or two meanwhile
