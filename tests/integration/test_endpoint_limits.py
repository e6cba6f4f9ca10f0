"""Bounded resources (issue 18): regions are botocore's, and requests signed for many regions keep the
endpoint's memory flat; a start for a bucket of another region is refused as AWS refuses it; a pixel
bomb ends FAILED; deep JSON is a 400; unknown operations and moto's failures are AWS-shaped errors;
an idle connection is closed; Event invocations run at most a few at once per function."""

from __future__ import annotations

import json
import random
import socket
import time
from pathlib import Path
from typing import Any

import av
import boto3
import numpy as np
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localaws.endpoint import LocalEndpoint
from localaws.guard import known_regions
from localaws.process import EndpointProcess, client_environment
from localaws.rekognition import models
from localaws.rekognition.models import EmulatorSettings
from localaws.vision import emotions, face_mesh
from localaws.vision.installation import REINSTALL_MODELS
from localaws.vision.video import MAX_FRAME_PIXELS
from localaws.wsgi_body import MAX_JSON_DEPTH
from tests.support.aws import REGION, GateDetector, lambda_role, python_function, unique, upload, wait_for_job

REQUESTS = 300
# The endpoint's resident memory may grow this much over 300 requests signed for random regions. Before
# the fix, each new region kept an S3 client of about 12.5 MB: 34 regions of the aws partition alone
# would be about 420 MB.
MAX_GROWTH_MB = 60


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_requests_signed_for_random_regions_keep_memory_flat(tmp_path):
    """Each start makes the emulator read S3 in the start's region (before the fix, a new client
    per region); unknown regions are refused with an error that names them."""
    random.seed(18)
    regions = sorted(known_regions())
    session = boto3.session.Session()
    settings = {**client_environment("")}
    with EndpointProcess(tmp_path / "endpoint") as endpoint:

        def rekognition(region: str) -> Any:
            return session.client(
                "rekognition",
                region_name=region,
                endpoint_url=endpoint.url,
                aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 1}),
            )

        clients = {region: rekognition(region) for region in regions}
        video = {"S3Object": {"Bucket": "no-such-bucket", "Name": "clip.mp4"}}
        codes: dict[str, int] = {}

        def start(region: str) -> None:
            client = clients.get(region) or rekognition(region)
            try:
                client.start_face_detection(Video=video)
            except ClientError as error:
                codes[error.response["Error"]["Code"]] = codes.get(error.response["Error"]["Code"], 0) + 1
                if region not in clients:
                    assert repr(region) in error.response["Error"]["Message"]

        for region in regions[:5]:
            start(region)  # the modules and the first clients loaded
        before = rss_mb(endpoint.pid)
        for index in range(REQUESTS):
            start(random.choice(regions) if index % 5 else f"xx-{unique('region')}-1")
        after = rss_mb(endpoint.pid)
    assert codes == {"InvalidS3ObjectException": REQUESTS * 4 // 5 + 5, "InvalidSignatureException": REQUESTS // 5}
    assert after - before < MAX_GROWTH_MB, f"{before:.0f} MB before, {after:.0f} MB after {REQUESTS} requests"


def test_a_start_for_a_bucket_of_another_region_is_refused(aws, endpoint, videos):
    bucket = unique("eu-videos")
    eu_s3 = endpoint.client("s3", "eu-west-1")
    eu_s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    eu_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    video = upload(lambda service: endpoint.client(service, "eu-west-1"), bucket, videos["no-face"].path)
    with pytest.raises(ClientError) as refused:
        aws("rekognition").start_face_detection(Video={"S3Object": video})  # signed for us-east-1
    assert refused.value.response["Error"]["Code"] == "InvalidS3ObjectException"
    assert "region" in refused.value.response["Error"]["Message"]
    job_id = endpoint.client("rekognition", "eu-west-1").start_face_detection(Video={"S3Object": video})["JobId"]
    assert wait_for_job(lambda service: endpoint.client(service, "eu-west-1"), job_id)["JobStatus"] == "SUCCEEDED"


@pytest.fixture(scope="module")
def pixel_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two blank 8192x8192 H.264 frames: about 200 KB on disk, 100 MB a frame decoded."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width = stream.height = 8192
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.zeros((8192 * 3 // 2, 8192), np.uint8), format="yuv420p")
        for _ in range(2):
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_a_pixel_bomb_ends_failed_with_a_message(aws, bucket, pixel_bomb):
    assert MAX_FRAME_PIXELS < 8192 * 8192 and pixel_bomb.stat().st_size < 300_000
    job_id = aws("rekognition").start_face_detection(Video={"S3Object": upload(aws, bucket, pixel_bomb)})["JobId"]
    page = wait_for_job(aws, job_id)
    assert page["JobStatus"] == "FAILED"
    assert "8192x8192" in page["StatusMessage"] and str(MAX_FRAME_PIXELS) in page["StatusMessage"]


def test_an_all_job_without_a_readable_emotion_model_fails_in_one_line(
    aws, bucket, videos, tmp_path, monkeypatch, caplog
):
    """A corrupt emotion model is the installation's fault, not an internal error: the job says which
    file and how to reinstall it, in one line, and the endpoint's log has no traceback."""
    corrupt = tmp_path / "emotion_model.hdf5"
    corrupt.write_bytes(b"junk" * 100)
    broken = emotions.EmotionClassifier(corrupt)
    monkeypatch.setattr(models, "shared_classifier", lambda: broken)
    fails_twice_in_one_line(aws, upload(aws, bucket, videos["face"].path), corrupt, REINSTALL_MODELS, "ALL")
    assert not [record for record in caplog.records if record.exc_info], "no traceback in the endpoint's log"


def fails_twice_in_one_line(aws, video: dict[str, str], model: Path, fix: str, attributes: str) -> None:
    """Two jobs on ``video`` each fail before any face, in one line naming the ``model`` file and the
    ``fix`` (the second: the failure is remembered, not a half-loaded model)."""
    for _ in range(2):
        job_id = aws("rekognition").start_face_detection(Video={"S3Object": video}, FaceAttributes=attributes)["JobId"]
        page = wait_for_job(aws, job_id)
        assert page["JobStatus"] == "FAILED" and not page["Faces"]
        message = page["StatusMessage"]
        assert "\n" not in message and "Internal error" not in message
        assert str(model) in message and fix in message


def test_a_mesh_job_without_a_readable_face_mesh_model_fails_in_one_line(
    mesh_endpoint, videos, tmp_path, monkeypatch, caplog
):
    """With --landmarks mesh every face's Pose needs the face mesh: a corrupt one fails a DEFAULT job
    before any frame, in one line naming the file and the fix, and the endpoint's log has no traceback."""
    corrupt = tmp_path / "face_landmark.tflite"
    corrupt.write_bytes(b"junk" * 100)
    broken = face_mesh.FaceMeshModel(corrupt)
    monkeypatch.setattr(face_mesh, "shared_model", lambda: broken)
    aws, bucket = mesh_endpoint
    fails_twice_in_one_line(aws, upload(aws, bucket, videos["face"].path), corrupt, REINSTALL_MODELS, "DEFAULT")
    assert not [record for record in caplog.records if record.exc_info], "no traceback in the endpoint's log"


def signed(
    endpoint: LocalEndpoint, service: str, target: str | None, body: bytes, content_type: str, path: str = "/"
) -> tuple[int, dict[str, str], bytes]:
    """A request signed as botocore signs it, for what botocore would not send."""
    headers = {"Content-Type": content_type}
    if target:
        headers["X-Amz-Target"] = target
    request = AWSRequest("POST", endpoint.url + path, data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), service, REGION).add_auth(request)
    prepared = request.prepare()
    host, port = endpoint.url.removeprefix("http://").split(":")
    import http.client

    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", path, body=body, headers=dict(prepared.headers))
    response = connection.getresponse()
    answer = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    connection.close()
    return answer


DEEP = b"[" * 100_000 + b"]" * 100_000
JSON_11 = "application/x-amz-json-1.1"


@pytest.mark.parametrize(
    ("service", "target", "content_type", "path"),
    [
        ("rekognition", "RekognitionService.GetFaceDetection", JSON_11, "/"),
        ("logs", "Logs_20140328.DescribeLogGroups", JSON_11, "/"),
        ("lambda", None, "application/json", "/2015-03-31/event-source-mappings/"),
    ],
)
def test_json_nested_too_deep_is_a_400(endpoint, service, target, content_type, path):
    status, _, body = signed(endpoint, service, target, DEEP, content_type, path)
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"
    assert f"at most {MAX_JSON_DEPTH}" in json.loads(body)["message"]
    shallow = json.dumps({"a": [[[{"b": 1}]]]}).encode()  # and what is not deep still passes
    assert signed(endpoint, service, target, shallow, content_type, path)[0] != 500


@pytest.mark.parametrize(
    ("service", "target"),
    [("rekognition", "Foo.Bar"), ("rekognition", "RekognitionService.NoSuchThing"), ("sqs", "AmazonSQS.Bogus")],
)
def test_an_unknown_target_is_an_aws_shaped_json_error(endpoint, service, target):
    status, headers, body = signed(endpoint, service, target, b"{}", JSON_11)
    assert status == 400
    assert headers["x-amzn-errortype"] == "UnknownOperationException"
    assert target in json.loads(body)["message"]


def test_an_operation_moto_does_not_implement_is_not_emulated(aws):
    """moto raises NotImplementedError for it, which reached clients as an HTML page and a 500."""
    with pytest.raises(ClientError) as refused:
        aws("logs").cancel_import_task(importId="nothing")
    assert refused.value.response["Error"]["Code"] == "NotImplemented"
    assert "CancelImportTask" in refused.value.response["Error"]["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_an_idle_or_half_sent_connection_is_closed(tmp_path):
    settings = EmulatorSettings(data_dir=tmp_path / "endpoint")
    with LocalEndpoint(settings, port=0, detector=GateDetector(), read_timeout=1.0) as endpoint:
        host, port = endpoint.url.removeprefix("http://").split(":")
        for start in (b"", b"POST / HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\nContent-Length: 100\r\n"):
            with socket.create_connection((host, int(port)), timeout=30) as connection:
                connection.sendall(start)
                assert connection.recv(1024) == b""  # closed by the endpoint, not by the 30 s here


HANDLER = """
import json, os, time, uuid
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    me = uuid.uuid4().hex
    s3.put_object(Bucket=event["bucket"], Key="running/" + me, Body=b"")
    time.sleep(1.0)
    running = s3.list_objects_v2(Bucket=event["bucket"], Prefix="running/").get("KeyCount", 0)
    s3.delete_object(Bucket=event["bucket"], Key="running/" + me)
    s3.put_object(Bucket=event["bucket"], Key="done/" + me, Body=str(running).encode())
"""


def test_event_invocations_run_a_few_at_a_time_per_function_and_the_rest_wait(aws, endpoint):
    from localaws.awslambda.models import LambdaSettings

    cap = LambdaSettings.event_concurrency
    bucket, name = unique("events"), unique("sleeper")
    aws("s3").create_bucket(Bucket=bucket)
    role = lambda_role(aws, "role")
    python_function(aws, role, HANDLER, name=name, timeout=60)
    invocations = 2 * cap
    for _ in range(invocations):
        aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket}).encode())
    deadline = time.monotonic() + 180
    while (done := aws("s3").list_objects_v2(Bucket=bucket, Prefix="done/").get("KeyCount", 0)) < invocations:
        assert time.monotonic() < deadline, f"{done} of {invocations} invocations done"
        time.sleep(0.5)
    seen = [
        int(aws("s3").get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for item in aws("s3").list_objects_v2(Bucket=bucket, Prefix="done/")["Contents"]
    ]
    assert max(seen) <= cap, seen
