"""The Rekognition Video emulator over the wire, with boto3 as the client."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from components import policies
from localaws.defaults import DUMMY_CREDENTIALS, client_environment
from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS, EmulatorSettings
from localaws.rekognition.validation import operation_model, validate_shape
from localaws.vision import landmarks
from synthetic import Box
from tests.support.aws import ACCOUNT_ID, REGION, GateDetector, make_channel, receive_all, unique, upload, wait_for_job


def error_code(raised: pytest.ExceptionInfo) -> str:
    return raised.value.response["Error"]["Code"]


def start(aws, s3_object, channel=None, **extra):
    request = {"Video": {"S3Object": s3_object}, **extra}
    if channel is not None:
        request["NotificationChannel"] = channel.notification_channel
    return aws("rekognition").start_face_detection(**request)["JobId"]


def assert_matches_output_shape(operation: str, response: dict) -> None:
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    output_shape = operation_model(operation).output_shape
    assert output_shape is not None
    validate_shape(output_shape, body)


# -- detection -------------------------------------------------------------------------------------


def test_face_is_found_at_every_sampled_frame(aws, bucket, videos, channel):
    video = videos["face"]
    job_id = start(aws, upload(aws, bucket, video.path), channel, JobTag="synthetic-face")
    response = wait_for_job(aws, job_id)
    assert response["JobStatus"] == "SUCCEEDED", response.get("StatusMessage")
    assert_matches_output_shape("GetFaceDetection", response)
    faces = response["Faces"]
    timestamps = sorted({face["Timestamp"] for face in faces})
    interval = DEFAULT_SAMPLE_INTERVAL_MS
    expected_samples = int(video.duration_ms // interval) + (video.duration_ms % interval > 0)
    assert len(timestamps) == expected_samples, timestamps
    assert len(faces) == len(timestamps), "exactly one face per sampled frame"
    for face in faces:
        box = face["Face"]["BoundingBox"]
        found = Box(
            box["Left"] * video.width,
            box["Top"] * video.height,
            box["Width"] * video.width,
            box["Height"] * video.height,
        )
        truth = video.face_at(face["Timestamp"])
        assert found.iou(truth) >= 0.5, (face["Timestamp"], found, truth)
        detail = face["Face"]
        assert detail["Confidence"] > 90
        assert [landmark["Type"] for landmark in detail["Landmarks"]] == [
            "eyeLeft",
            "eyeRight",
            "nose",
            "mouthLeft",
            "mouthRight",
        ]
        assert abs(detail["Pose"]["Roll"]) < 10, "the astronaut's head is upright"
        assert 0 < detail["Quality"]["Brightness"] <= 100 and 0 < detail["Quality"]["Sharpness"] <= 100
        assert "AgeRange" not in detail
    assert response["JobTag"] == "synthetic-face"
    metadata = response["VideoMetadata"]
    assert metadata["Codec"] == "h264"
    assert metadata["Format"] == "QuickTime / MOV"
    assert (metadata["FrameWidth"], metadata["FrameHeight"]) == (640, 360)
    assert metadata["FrameRate"] == pytest.approx(30)
    assert metadata["DurationMillis"] == pytest.approx(video.duration_ms, abs=40)
    assert metadata["ColorRange"] == "LIMITED"


def test_nothing_is_found_in_a_face_free_video(aws, bucket, videos):
    response = wait_for_job(aws, start(aws, upload(aws, bucket, videos["no-face"].path)))
    assert response["JobStatus"] == "SUCCEEDED"
    assert response["Faces"] == []


def test_all_attributes(aws, bucket, videos):
    response = wait_for_job(aws, start(aws, upload(aws, bucket, videos["face"].path), FaceAttributes="ALL"))
    assert_matches_output_shape("GetFaceDetection", response)
    for face in response["Faces"]:
        detail = face["Face"]
        # From the bundled age and gender models: the astronaut is a woman in her thirties or forties.
        assert detail["Gender"]["Value"] == "Female" and detail["Gender"]["Confidence"] > 50
        assert 20 <= detail["AgeRange"]["Low"] < detail["AgeRange"]["High"] <= 60
        # From dlib's 68 landmarks (the default): she smiles, her eyes open, her teeth showing.
        for name in ("Smile", "EyesOpen", "MouthOpen"):
            assert detail[name]["Value"] is True and 50 <= detail[name]["Confidence"] <= 100, name
        # No bundled model tells these: the service's shape, Confidence 0.
        for name in ("Eyeglasses", "Sunglasses", "Beard", "Mustache"):
            assert detail[name] == {"Value": False, "Confidence": 0}, name
        # From the bundled expression model: her smile reads HAPPY; every type, summing to 100.
        emotions = {emotion["Type"]: emotion["Confidence"] for emotion in detail["Emotions"]}
        assert max(emotions, key=emotions.__getitem__) == "HAPPY" and len(emotions) == 8
        assert sum(emotions.values()) == pytest.approx(100, abs=0.01)


def test_all_attributes_from_the_face_mesh(mesh_endpoint, videos, monkeypatch):
    """An endpoint serving with --landmarks mesh: Pose, EyesOpen, MouthOpen and Smile from MediaPipe's
    face mesh and eye model, the same answers for the astronaut as the default's (test_all_attributes),
    and a Pose that reads her looking at the camera, as the default's does. dlib's 68-point model is never asked
    (its function here fails the job if called)."""

    def research_only(*args, **kwargs):
        raise AssertionError("the 68-point model was used")

    monkeypatch.setattr(landmarks, "landmarks68", research_only)
    client, bucket = mesh_endpoint
    response = wait_for_job(client, start(client, upload(client, bucket, videos["face"].path), FaceAttributes="ALL"))
    assert response["JobStatus"] == "SUCCEEDED" and response["Faces"]
    assert_matches_output_shape("GetFaceDetection", response)
    for face in response["Faces"]:
        detail = face["Face"]
        for name in ("Smile", "EyesOpen", "MouthOpen"):
            assert detail[name]["Value"] is True and 50 <= detail[name]["Confidence"] <= 100, name
        assert abs(detail["Pose"]["Yaw"]) < 20 and abs(detail["Pose"]["Pitch"]) < 20, detail["Pose"]


def test_unsupported_codec_fails_the_job_with_a_message(aws, bucket, videos, channel):
    job_id = start(aws, upload(aws, bucket, videos["mpeg4"].path), channel)
    response = wait_for_job(aws, job_id)
    assert response["JobStatus"] == "FAILED"
    assert "H.264" in response["StatusMessage"]
    (message,) = receive_all(aws, channel.queue_url)
    assert json.loads(json.loads(message["Body"])["Message"])["Status"] == "FAILED"


def test_corrupt_file_fails_the_job(aws, bucket, videos, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(videos["face"].path.read_bytes()[:3000])
    response = wait_for_job(aws, start(aws, upload(aws, bucket, corrupt)))
    assert response["JobStatus"] == "FAILED"
    assert response["StatusMessage"]
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("these are not the frames you are looking for")
    response = wait_for_job(aws, start(aws, upload(aws, bucket, not_video)))
    assert response["JobStatus"] == "FAILED"


def test_the_pinned_version_is_the_one_processed(aws, bucket, videos):
    first = upload(aws, bucket, videos["face"].path, key="overwritten.mp4")
    upload(aws, bucket, videos["no-face"].path, key="overwritten.mp4")
    response = wait_for_job(aws, start(aws, first))
    assert response["Faces"], "the first version (with a face) was read, not the latest"


# -- notification ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw"])
def test_completion_arrives_through_sns_in_sqs_with_the_documented_payload(aws, bucket, videos, raw):
    channel = make_channel(aws, raw=raw)
    s3_object = upload(aws, bucket, videos["no-face"].path)
    before = int(time.time() * 1000)
    job_id = start(aws, s3_object, channel, JobTag="tag:1")
    wait_for_job(aws, job_id)
    (message,) = receive_all(aws, channel.queue_url)
    body = json.loads(message["Body"])
    if not raw:
        assert body["Type"] == "Notification" and body["TopicArn"] == channel.topic_arn
        body = json.loads(body["Message"])
    assert set(body) == {"JobId", "Status", "API", "JobTag", "Timestamp", "Video"}
    assert body["JobId"] == job_id
    assert body["Status"] == "SUCCEEDED"
    assert body["API"] == "StartFaceDetection"
    assert body["JobTag"] == "tag:1"
    assert before <= body["Timestamp"] <= int(time.time() * 1000)
    assert body["Video"] == {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]}


def test_no_job_tag_no_job_tag_in_the_message(aws, bucket, videos, channel):
    wait_for_job(aws, start(aws, upload(aws, bucket, videos["no-face"].path), channel))
    (message,) = receive_all(aws, channel.queue_url)
    assert "JobTag" not in json.loads(json.loads(message["Body"])["Message"])


# -- idempotency -----------------------------------------------------------------------------------


def test_same_token_same_parameters_same_job_and_one_notification(aws, bucket, videos, channel):
    s3_object = upload(aws, bucket, videos["no-face"].path)
    token = unique("token")
    first = start(aws, s3_object, channel, ClientRequestToken=token)
    wait_for_job(aws, first)
    again = start(aws, s3_object, channel, ClientRequestToken=token)
    assert again == first
    assert len(receive_all(aws, channel.queue_url)) == 1
    with pytest.raises(ClientError) as raised:
        start(aws, s3_object, channel, ClientRequestToken=token, FaceAttributes="ALL")
    assert error_code(raised) == "IdempotentParameterMismatchException"


# -- request errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"ClientRequestToken": "not a token!"}, "ClientRequestToken"),
        ({"ClientRequestToken": "x" * 65}, "ClientRequestToken"),
        ({"JobTag": "spaces are not allowed"}, "JobTag"),
        ({"FaceAttributes": "SOME"}, "FaceAttributes"),
        (
            {
                "NotificationChannel": {
                    "SNSTopicArn": "arn:aws:sns:us-east-1:123:t",
                    "RoleArn": "arn:aws:iam::123456789012:role/r",
                }
            },
            "SNSTopicArn",
        ),
        (
            {"NotificationChannel": {"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t", "RoleArn": "role/r"}},
            "RoleArn",
        ),
    ],
)
def test_invalid_parameters_name_the_field(aws, bucket, extra, field):
    with pytest.raises(ClientError) as raised:
        start(aws, {"Bucket": bucket, "Name": "video.mp4"}, **extra)
    assert error_code(raised) == "InvalidParameterException"
    assert field in str(raised.value)


def test_bucket_name_pattern_is_checked(aws):
    with pytest.raises(ClientError) as raised:
        start(aws, {"Bucket": "no spaces allowed", "Name": "v.mp4"})
    assert error_code(raised) == "InvalidParameterException"
    assert "Bucket" in str(raised.value)


@pytest.mark.parametrize("which", ["key", "bucket", "version"])
def test_missing_video_is_invalid_s3_object(aws, bucket, videos, which):
    s3_object = upload(aws, bucket, videos["no-face"].path)
    if which == "key":
        s3_object["Name"] = "missing.mp4"
    elif which == "bucket":
        s3_object["Bucket"] = unique("no-such-bucket")
    else:
        s3_object["Version"] = "no-such-version"
    with pytest.raises(ClientError) as raised:
        start(aws, s3_object)
    assert error_code(raised) == "InvalidS3ObjectException"


def test_video_over_the_size_limit(aws, endpoint, bucket, videos, monkeypatch):
    small = dataclasses.replace(endpoint.rekognition.settings, max_video_bytes=1000)
    monkeypatch.setattr(endpoint.rekognition, "settings", small)
    with pytest.raises(ClientError) as raised:
        start(aws, upload(aws, bucket, videos["no-face"].path))
    assert error_code(raised) == "VideoTooLargeException"


def test_unknown_job_and_bad_pagination_token(aws, endpoint, bucket, videos):
    rekognition = aws("rekognition")
    with pytest.raises(ClientError) as raised:
        rekognition.get_face_detection(JobId="0" * 64)
    assert error_code(raised) == "ResourceNotFoundException"
    job_id = start(aws, upload(aws, bucket, videos["face"].path))
    wait_for_job(aws, job_id)
    for token in ("garbage", "W1wib3RoZXItam9iXCIsIDFd", "x" * 255):
        with pytest.raises(ClientError) as raised:
            rekognition.get_face_detection(JobId=job_id, NextToken=token)
        assert error_code(raised) == "InvalidPaginationTokenException", token
    # botocore checks MaxResults' minimum on the client; the service checks it too.
    unchecked = boto3.client(
        "rekognition",
        region_name=REGION,
        endpoint_url=endpoint.url,
        config=Config(parameter_validation=False),
        **DUMMY_CREDENTIALS,
    )
    with pytest.raises(ClientError) as raised:
        unchecked.get_face_detection(JobId=job_id, MaxResults=0)
    assert error_code(raised) == "InvalidParameterException"
    assert "MaxResults" in str(raised.value)


def test_pages_cover_every_face_once(aws, bucket, videos):
    job_id = start(aws, upload(aws, bucket, videos["face"].path))
    everything = wait_for_job(aws, job_id)["Faces"]
    assert "NextToken" not in aws("rekognition").get_face_detection(JobId=job_id, MaxResults=5000)
    paged, token = [], None
    while True:
        page = aws("rekognition").get_face_detection(
            JobId=job_id, MaxResults=3, **({"NextToken": token} if token else {})
        )
        assert len(page["Faces"]) <= 3
        paged.extend(page["Faces"])
        token = page.get("NextToken")
        if not token:
            break
    assert paged == everything


# -- the notification channel is checked --------------------------------------------------------


@pytest.mark.parametrize(
    "breakage",
    ["no-topic", "no-role", "foreign-account", "foreign-region", "other-service", "no-publish", "topic-denies"],
)
def test_broken_channel_is_refused(aws, bucket, videos, channel, breakage):
    iam, sns = aws("iam"), aws("sns")
    expected = "AccessDeniedException"
    if breakage == "no-topic":
        channel.topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:{unique('AmazonRekognition-gone')}"
        expected = "InvalidParameterException"
    elif breakage == "no-role":
        channel.role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{unique('nobody')}"
    elif breakage == "foreign-account":
        iam.update_assume_role_policy(
            RoleName=channel.role_name,
            PolicyDocument=json.dumps(policies.rekognition_trust_policy("999999999999", REGION)),
        )
    elif breakage == "foreign-region":  # aws:SourceArn names another region's Rekognition
        iam.update_assume_role_policy(
            RoleName=channel.role_name,
            PolicyDocument=json.dumps(policies.rekognition_trust_policy(ACCOUNT_ID, "ap-south-1")),
        )
    elif breakage == "other-service":
        trust = policies.rekognition_trust_policy(ACCOUNT_ID, REGION)
        trust["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
        iam.update_assume_role_policy(RoleName=channel.role_name, PolicyDocument=json.dumps(trust))
    elif breakage == "no-publish":
        other_topic = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:AmazonRekognition-other"
        iam.put_role_policy(
            RoleName=channel.role_name,
            PolicyName="publish",
            PolicyDocument=json.dumps(policies.service_role_policy(other_topic, REGION)),
        )
    elif breakage == "topic-denies":
        policy = policies.topic_policy(channel.topic_arn, channel.role_arn)
        policy["Statement"].append(
            {
                "Effect": "Deny",
                "Principal": {"AWS": channel.role_arn},
                "Action": "sns:Publish",
                "Resource": channel.topic_arn,
            }
        )
        sns.set_topic_attributes(TopicArn=channel.topic_arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    with pytest.raises(ClientError) as raised:
        start(aws, upload(aws, bucket, videos["no-face"].path), channel)
    assert error_code(raised) == expected
    assert receive_all(aws, channel.queue_url, wait_seconds=0) == []


def test_a_managed_policy_attached_to_the_role_also_grants_publish(aws, bucket, videos, channel):
    iam = aws("iam")
    iam.delete_role_policy(RoleName=channel.role_name, PolicyName="publish")
    policy_arn = iam.create_policy(
        PolicyName=unique("publish"), PolicyDocument=json.dumps(policies.service_role_policy(channel.topic_arn, REGION))
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=channel.role_name, PolicyArn=policy_arn)
    wait_for_job(aws, start(aws, upload(aws, bucket, videos["no-face"].path), channel))
    assert len(receive_all(aws, channel.queue_url)) == 1


# -- jobs in the background, the open-job limit, restarts ---------------------------------------


@pytest.fixture
def gated_endpoint(tmp_path):
    detector = GateDetector()
    settings = EmulatorSettings(data_dir=tmp_path / "gated", max_open_jobs=2, workers=2)
    with LocalEndpoint(settings, port=0, detector=detector) as endpoint:
        yield endpoint, detector
        detector.gate.set()


def test_open_job_limit_and_the_api_never_blocks(gated_endpoint, aws, bucket, videos):
    endpoint, detector = gated_endpoint
    rekognition = endpoint.client("rekognition")
    s3_object = upload(aws, bucket, videos["no-face"].path)
    started = time.monotonic()
    jobs = [rekognition.start_face_detection(Video={"S3Object": s3_object})["JobId"] for _ in range(2)]
    assert time.monotonic() - started < 5, "start returns before the video is processed"
    assert all(rekognition.get_face_detection(JobId=j)["JobStatus"] == "IN_PROGRESS" for j in jobs)
    with pytest.raises(ClientError) as raised:
        rekognition.start_face_detection(Video={"S3Object": s3_object})
    assert error_code(raised) == "LimitExceededException"
    assert "Maximum limit: 2" in str(raised.value)
    detector.gate.set()
    for job_id in jobs:
        deadline = time.monotonic() + 30
        while rekognition.get_face_detection(JobId=job_id)["JobStatus"] == "IN_PROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    rekognition.start_face_detection(Video={"S3Object": s3_object})  # a slot is free again


def test_restart_keeps_finished_jobs_and_resumes_interrupted_ones(aws, bucket, videos, tmp_path):
    data_dir = tmp_path / "restart"
    s3_object = upload(aws, bucket, videos["face"].path)
    with LocalEndpoint(EmulatorSettings(data_dir=data_dir), port=0) as first:
        finished = first.client("rekognition").start_face_detection(Video={"S3Object": s3_object})["JobId"]
        deadline = time.monotonic() + 30
        while first.client("rekognition").get_face_detection(JobId=finished)["JobStatus"] == "IN_PROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = first.client("rekognition").get_face_detection(JobId=finished)
    gate = GateDetector()
    with LocalEndpoint(EmulatorSettings(data_dir=data_dir), port=0, detector=gate) as gated:
        interrupted = gated.client("rekognition").start_face_detection(Video={"S3Object": s3_object})["JobId"]
        gated.rekognition._stopping.set()  # the stop arrives while the job is mid-video
        gate.gate.set()
    with LocalEndpoint(EmulatorSettings(data_dir=data_dir), port=0) as second:
        rekognition = second.client("rekognition")
        after = rekognition.get_face_detection(JobId=finished)
        assert after["Faces"] == before["Faces"] and after["JobStatus"] == "SUCCEEDED"
        deadline = time.monotonic() + 30
        while (resumed := rekognition.get_face_detection(JobId=interrupted))["JobStatus"] == "IN_PROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert resumed["JobStatus"] == "SUCCEEDED"
        assert len(resumed["Faces"]) == len(before["Faces"])


# -- the AWS CLI -----------------------------------------------------------------------------------


AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed (requirements-dev.txt installs it)")
def test_aws_cli_reads_results(endpoint, aws, bucket, videos, tmp_path):
    job_id = start(aws, upload(aws, bucket, videos["face"].path))
    wait_for_job(aws, job_id)
    env = {
        **client_environment(endpoint.url),
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [
            AWS_CLI,
            "rekognition",
            "get-face-detection",
            "--job-id",
            job_id,
            "--endpoint-url",
            endpoint.url,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["JobStatus"] == "SUCCEEDED"
    missing = subprocess.run(
        [AWS_CLI, "rekognition", "get-face-detection", "--job-id", "0" * 64, "--endpoint-url", endpoint.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
