"""The starter and collector functions' rules, and the launcher's wait for a result object, with fake
AWS clients (the deployed stack is tested in tests/integration/test_auto_process.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from launcher.autoprocess_wait import ResultWaiter
from launcher.functions.collector import Collector
from launcher.functions.redactor import RedactionKeys, Redactor
from launcher.functions.runtime import BACKOFF_BASE_SECONDS, FunctionSettings, process_batch
from launcher.functions.starter import Starter
from launcher.jobs.detection import StartRequest
from launcher.jobs.errors import LauncherError
from launcher.jobs.formats import write_results
from launcher.jobs.s3video import S3Video
from tests.support.pulumi_mocks import FakeClock

SETTINGS = FunctionSettings(
    bucket="videos-bucket",
    queue_url="https://sqs/q",
    incoming_prefix="videos/",
    results_prefix="results/",
    topic_arn="arn:aws:sns:us-east-1:123456789012:AmazonRekognition-t",
    role_arn="arn:aws:iam::123456789012:role/r",
)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code}!"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    def head_object(self, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:
        if Key.endswith("gone.mp4") or (Key.startswith("results/") and Key not in self.objects):
            raise client_error("404", 404)
        if Key in self.objects:
            return {"VersionId": "r1", "Metadata": self.objects[Key]["Metadata"]}
        return {"VersionId": VersionId or "current"}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str, Metadata: dict[str, str]) -> None:
        self.objects[Key] = {"Body": Body, "Metadata": Metadata}

    def upload_file(self, path: str, bucket: str, key: str, ExtraArgs: dict[str, Any]) -> None:
        self.objects[key] = {"Body": Path(path).read_bytes(), "Metadata": ExtraArgs["Metadata"]}

    def download_file(self, bucket: str, key: str, path: str) -> None:
        if key not in self.objects:
            raise client_error("404", 404)
        Path(path).write_bytes(self.objects[key]["Body"])

    def delete_object(self, Bucket: str, Key: str) -> None:
        self.deleted.append(Key)
        self.objects.pop(Key, None)


class FakeRekognition:
    def __init__(self, errors: list[str] | None = None, pages: list[dict[str, Any]] | None = None) -> None:
        self.errors = list(errors or [])
        self.started: list[dict[str, Any]] = []
        self.pages = pages or []

    def start_face_detection(self, **request: Any) -> dict[str, str]:
        if self.errors:
            raise client_error(self.errors.pop(0))
        self.started.append(request)
        return {"JobId": f"job-{len(self.started)}"}

    def get_face_detection(self, JobId: str, MaxResults: int, NextToken: str | None = None) -> dict[str, Any]:
        return self.pages[int(NextToken or 0)]


class FakeSqs:
    def __init__(self) -> None:
        self.delays: dict[str, int] = {}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        self.delays[ReceiptHandle] = VisibilityTimeout


def record(body: Any, message_id: str = "m1", receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


def s3_event(key: str, version: str | None = "v1") -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key}
    if version:
        obj["versionId"] = version
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "videos-bucket"}, "object": obj}}]}


def run_starter(rekognition: FakeRekognition, *records: dict[str, Any]) -> tuple[dict[str, Any], FakeS3, FakeSqs]:
    s3, sqs = FakeS3(), FakeSqs()
    response = process_batch(
        {"Records": list(records)}, Starter(SETTINGS, s3, rekognition).handle, sqs, SETTINGS.queue_url
    )
    return response, s3, sqs


def test_starter_starts_the_event_version_with_the_launchers_token():
    rekognition = FakeRekognition()
    response, _, _ = run_starter(
        rekognition, record({"Event": "s3:TestEvent"}, "t"), record(s3_event("videos/a+b%C3%A9.MP4"))
    )
    assert response == {"batchItemFailures": []}
    (request,) = rekognition.started
    video = S3Video("videos-bucket", "videos/a bé.MP4", "v1")
    assert request["Video"] == {"S3Object": {"Bucket": "videos-bucket", "Name": "videos/a bé.MP4", "Version": "v1"}}
    assert request["ClientRequestToken"] == StartRequest(video, SETTINGS.topic_arn, SETTINGS.role_arn).derived_token()
    assert request["NotificationChannel"] == {"SNSTopicArn": SETTINGS.topic_arn, "RoleArn": SETTINGS.role_arn}


def test_starter_pins_the_current_version_when_the_event_has_none():
    rekognition = FakeRekognition()
    run_starter(rekognition, record(s3_event("videos/a.mp4", version=None)))
    assert rekognition.started[0]["Video"]["S3Object"]["Version"] == "current"


def test_starter_ignores_other_prefixes_and_suffixes():
    rekognition = FakeRekognition()
    response, _, _ = run_starter(
        rekognition, record(s3_event("other/a.mp4"), "1"), record(s3_event("videos/a.txt"), "2")
    )
    assert response == {"batchItemFailures": []} and rekognition.started == []


@pytest.mark.parametrize("code", ["LimitExceededException", "ThrottlingException", "AccessDeniedException"])
def test_starter_puts_the_record_back_with_a_backoff(code):
    response, s3, sqs = run_starter(FakeRekognition([code]), record(s3_event("videos/a.mp4"), receive_count=3))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert 1 <= sqs.delays["rh-m1"] <= BACKOFF_BASE_SECONDS * 4
    assert s3.objects == {}


@pytest.mark.parametrize("code", ["InvalidS3ObjectException", "VideoTooLargeException", "InvalidParameterException"])
def test_starter_writes_an_error_result_for_a_video_the_service_will_never_take(code):
    response, s3, _ = run_starter(FakeRekognition([code]), record(s3_event("videos/a.mp4")))
    assert response == {"batchItemFailures": []}
    written = s3.objects["results/videos/a.mp4.error.json"]
    document = json.loads(written["Body"])
    assert document["JobStatus"] == "NOT_STARTED" and code in document["StatusMessage"]
    assert written["Metadata"] == {"video-version": "v1"}


def test_starter_writes_an_error_result_when_the_version_is_gone():
    response, s3, _ = run_starter(FakeRekognition(), record(s3_event("videos/gone.mp4")))
    assert response == {"batchItemFailures": []}
    assert "does not exist" in json.loads(s3.objects["results/videos/gone.mp4.error.json"]["Body"])["StatusMessage"]


def test_a_record_that_crashes_fails_alone():
    rekognition = FakeRekognition()
    response, _, sqs = run_starter(rekognition, record("not json", "bad"), record(s3_event("videos/a.mp4"), "good"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(rekognition.started) == 1 and "rh-bad" in sqs.delays


def completion(status: str = "SUCCEEDED") -> dict[str, Any]:
    message = {
        "JobId": "job-1",
        "Status": status,
        "API": "StartFaceDetection",
        "Video": {"S3ObjectName": "videos/a.mp4"},
    }
    return record({"Type": "Notification", "Message": json.dumps(message)})


VIDEO = {"S3Object": {"Bucket": "videos-bucket", "Name": "videos/a.mp4", "Version": "v1"}}
FACE = {
    "Timestamp": 0,
    "Face": {"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.2, "Height": 0.3}, "Confidence": 99.0},
}


def run_collector(pages: list[dict[str, Any]], *records: dict[str, Any]) -> tuple[dict[str, Any], FakeS3, FakeSqs]:
    s3, sqs = FakeS3(), FakeSqs()
    collector = Collector(SETTINGS, s3, FakeRekognition(pages=pages))
    return process_batch({"Records": list(records)}, collector.handle, sqs, SETTINGS.queue_url), s3, sqs


def test_collector_writes_the_document_the_launcher_writes(tmp_path):
    pages = [
        {"JobStatus": "SUCCEEDED", "JobId": "job-1", "Video": VIDEO, "Faces": [FACE], "NextToken": "1"},
        {"JobStatus": "SUCCEEDED", "JobId": "job-1", "Video": VIDEO, "Faces": [{**FACE, "Timestamp": 200}]},
    ]
    response, s3, _ = run_collector(pages, completion())
    assert response == {"batchItemFailures": []}
    written = s3.objects["results/videos/a.mp4.faces.json"]
    write_results(iter(pages), tmp_path / "local.json", "json")
    assert written["Body"] == (tmp_path / "local.json").read_bytes()
    assert written["Metadata"] == {"job-id": "job-1", "video-version": "v1"}


def test_collector_writes_the_status_message_of_a_failed_job():
    pages = [{"JobStatus": "FAILED", "StatusMessage": "Unsupported video: codec", "JobId": "job-1", "Video": VIDEO}]
    response, s3, _ = run_collector(pages, completion("FAILED"))
    assert response == {"batchItemFailures": []}
    document = json.loads(s3.objects["results/videos/a.mp4.error.json"]["Body"])
    assert document == {
        "JobStatus": "FAILED",
        "StatusMessage": "Unsupported video: codec",
        "JobId": "job-1",
        "Video": VIDEO,
    }


def test_collector_leaves_other_messages_for_the_dead_letter_queue():
    response, s3, sqs = run_collector([], record("hello"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert s3.objects == {} and sqs.delays == {}  # no backoff: it only needs to reach maxReceiveCount


def test_the_launcher_waits_for_the_result_of_its_own_job():
    s3, clock = FakeS3(), FakeClock()
    s3.objects["results/videos/a.mp4.faces.json"] = {"Body": b"{}", "Metadata": {"job-id": "older-job"}}

    def written_later(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 3:
            s3.objects["results/videos/a.mp4.error.json"] = {"Body": b"{}", "Metadata": {"job-id": "job-1"}}

    waiter = ResultWaiter(s3, "b", "results/", lambda job: "IN_PROGRESS", 60, clock=clock, sleep=written_later)
    found = waiter.wait("job-1", "videos/a.mp4", deadline=100)
    assert found.key == "results/videos/a.mp4.error.json" and found.failed


def test_the_launcher_says_when_the_job_ended_without_a_result():
    clock = FakeClock()
    waiter = ResultWaiter(FakeS3(), "b", "results/", lambda job: "SUCCEEDED", 5, clock=clock, sleep=clock.sleep)
    with pytest.raises(LauncherError, match="collector function's logs"):
        waiter.wait("job-1", "videos/a.mp4", deadline=1000)
    assert clock.now < 30


class FakeLambda:
    def __init__(self, error: str | None = None) -> None:
        self.invoked: list[dict[str, Any]] = []
        self.error = error

    def invoke(self, **request: Any) -> dict[str, Any]:
        if self.error:
            raise client_error(self.error, 429)
        self.invoked.append(request)
        return {"StatusCode": 202}


REDACTING = FunctionSettings(**{**SETTINGS.__dict__, "redactor_function": "arn:aws:lambda:us-east-1:1:function:r"})


def run_redacting_collector(pages, functions, *records):
    s3, sqs = FakeS3(), FakeSqs()
    collector = Collector(REDACTING, s3, FakeRekognition(pages=pages), functions)
    return process_batch({"Records": list(records)}, collector.handle, sqs, SETTINGS.queue_url), s3


def test_with_redact_the_collector_hands_each_result_to_the_redactor_without_waiting():
    functions = FakeLambda()
    pages = [{"JobStatus": "SUCCEEDED", "JobId": "job-1", "Video": VIDEO, "Faces": [FACE]}]
    response, s3 = run_redacting_collector(pages, functions, completion())
    assert response == {"batchItemFailures": []} and "results/videos/a.mp4.faces.json" in s3.objects
    (request,) = functions.invoked
    assert request["FunctionName"] == REDACTING.redactor_function and request["InvocationType"] == "Event"
    assert json.loads(request["Payload"]) == {
        "JobId": "job-1",
        "Video": VIDEO,
        "Results": "results/videos/a.mp4.faces.json",
    }


@pytest.mark.parametrize(
    "status, key",
    [
        ("FAILED", "videos/a.mp4"),  # no results, nothing to redact
        ("SUCCEEDED", "elsewhere/a.mp4"),  # a launcher's job on a video outside the incoming prefix
    ],
)
def test_the_collector_redacts_only_the_stacks_own_successful_uploads(status, key):
    functions = FakeLambda()
    video = {"S3Object": {**VIDEO["S3Object"], "Name": key}}
    pages = [{"JobStatus": status, "JobId": "job-1", "Video": video, "Faces": []}]
    response, _ = run_redacting_collector(pages, functions, completion(status))
    assert response == {"batchItemFailures": []} and functions.invoked == []


def test_a_redacted_copy_is_never_redacted_again():
    settings = FunctionSettings(**{**REDACTING.__dict__, "incoming_prefix": "media/", "results_prefix": "media/out/"})
    collector = Collector(settings, FakeS3(), FakeRekognition(), FakeLambda())
    assert not collector._redacts(S3Video("b", "media/out/media/a.mp4.redacted.mp4", "v"))  # the component refuses
    assert collector._redacts(S3Video("b", "media/a.mp4", "v"))  # these prefixes, but an Output may bring them


def test_a_refused_invocation_puts_the_completion_back():
    pages = [{"JobStatus": "SUCCEEDED", "JobId": "job-1", "Video": VIDEO, "Faces": []}]
    response, s3 = run_redacting_collector(pages, FakeLambda("TooManyRequestsException"), completion())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert "results/videos/a.mp4.faces.json" in s3.objects  # written again, the same, on the next try


class Context:
    memory_limit_in_mb = "10240"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@pytest.mark.parametrize(
    ("failing", "code"), [("results", "ResultsUnreadable"), ("video", "UnreadableVideo")], ids=["results", "video"]
)
def test_the_redactor_turns_aws_errors_into_its_error_object(tmp_path, failing, code):
    """A refused read is the error object, in one line, not a traceback that Lambda would retry twice
    (each try up to 15 minutes at 10 GB)."""

    class RefusingS3(FakeS3):
        def download_file(self, bucket: str, key: str, path: str) -> None:
            if failing == "results":
                raise client_error("AccessDenied", 403)
            write_results(
                iter([{"JobStatus": "SUCCEEDED", "JobId": "job-1", "Video": VIDEO, "Faces": []}]), Path(path), "json"
            )

    s3 = RefusingS3()
    video = {"Bucket": "b", "Name": "videos/gone.mp4"}  # FakeS3's head_object: 404
    event = {"JobId": "job-1", "Video": {"S3Object": video}, "Results": "results/videos/gone.mp4.faces.json"}
    answer = Redactor("b", "results/", s3).handle(event, Context())
    assert answer["written"] is None
    document = json.loads(s3.objects["results/videos/gone.mp4.redacted.error.json"]["Body"])
    assert document["Code"] == code and "\n" not in document["Message"], document
    assert not any(key.endswith(".redacted.mp4") for key in s3.objects)


def test_the_redactors_error_removes_an_earlier_versions_copy_and_only_what_exists():
    """After a failure, the copy and audit of an earlier version are gone (they are not of this
    video); keys never written are not deleted (a delete marker each in a versioned bucket)."""
    s3 = FakeS3()
    keys = RedactionKeys.of("results/", "videos/gone.mp4")
    s3.objects[keys.copy] = {"Body": b"old copy", "Metadata": {}}
    event = {"JobId": "job-2", "Video": {"S3Object": {"Bucket": "b", "Name": "videos/gone.mp4"}}, "Results": "r"}
    Redactor("b", "results/", s3).handle(event, Context())  # the results are unreadable: an error
    assert set(s3.objects) == {keys.error}
    assert s3.deleted == [keys.copy]


def test_a_refused_delete_is_logged_and_the_error_object_stands(caplog):
    class NoDeleteS3(FakeS3):
        def delete_object(self, Bucket: str, Key: str) -> None:
            raise client_error("AccessDenied", 403)

    s3 = NoDeleteS3()
    keys = RedactionKeys.of("results/", "videos/gone.mp4")
    s3.objects[keys.audit] = {"Body": b"{}", "Metadata": {}}
    event = {"JobId": "job-2", "Video": {"S3Object": {"Bucket": "b", "Name": "videos/gone.mp4"}}, "Results": "r"}
    answer = Redactor("b", "results/", s3).handle(event, Context())
    assert answer == {"written": None, "error": keys.error}
    assert keys.error in s3.objects and keys.audit in s3.objects
    logged = [r.getMessage() for r in caplog.records]
    assert any(f"left s3://b/{keys.audit}" in line and "AccessDenied" in line for line in logged), logged


def test_a_missing_key_answered_403_is_absent_and_says_nothing(caplog):
    """The function has no s3:ListBucket, so AWS answers HeadObject on a missing key with 403:
    that is "nothing to remove", not a warning on every run."""

    class NoListS3(FakeS3):
        def head_object(self, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:
            if Key.startswith("results/") and Key not in self.objects:
                raise client_error("403", 403)
            return super().head_object(Bucket, Key, VersionId)

    s3 = NoListS3()
    event = {"JobId": "job-2", "Video": {"S3Object": {"Bucket": "b", "Name": "videos/gone.mp4"}}, "Results": "r"}
    with caplog.at_level("INFO", logger="launcher.functions.redactor"):
        Redactor("b", "results/", s3).handle(event, Context())
    assert s3.deleted == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("no redacted copy of"), warnings
