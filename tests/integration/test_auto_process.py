"""The stack with ``autoProcess: true``, deployed into a local endpoint of its own (at most 2 open jobs, so
that LimitExceededException happens), processing uploads by itself; then destroyed. And one with
``redact: true``: the redactor function's copy, its refusal past the function's time, its clean stop."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from launcher.cli import main
from launcher.functions.redactor import RedactionKeys, Redactor
from launcher.jobs.detection import StartRequest
from launcher.jobs.s3video import S3Video
from localaws import cli as local_cli
from localaws.deploy import engine
from localaws.deploy.handlers import Context
from localaws.endpoint import LocalEndpoint
from localaws.rekognition.models import EmulatorSettings
from synthetic import make_video
from tests.support.aws import ACCOUNT_ID, REGION, unique

ROOT = Path(__file__).resolve().parents[2]
MAX_OPEN_JOBS = 2
RECOGNISABLE_SSIM = 0.35  # as tests/integration/test_redact.py: a face at or above it is still recognisable


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[LocalEndpoint]:
    settings = EmulatorSettings(data_dir=tmp_path_factory.mktemp("auto-endpoint"), max_open_jobs=MAX_OPEN_JOBS)
    with LocalEndpoint(settings, port=0) as running:
        yield running


@pytest.fixture(scope="module")
def aws(local) -> Callable[..., Any]:
    return local.client


def deploy(local: LocalEndpoint, state: Path, **settings: str) -> dict[str, Any]:
    ctx = Context(local.clients_in(REGION), REGION, ACCOUNT_ID)
    config = {"aws:region": REGION, **{f"rekognition-faces:{k}": v for k, v in settings.items()}}
    outputs, _ = engine.deploy(ctx, ROOT, "auto", state, config)
    return outputs


@pytest.fixture(scope="module")
def stack(local, tmp_path_factory) -> dict[str, Any]:
    folder, name = tmp_path_factory.mktemp("auto-stack"), unique("auto")
    outputs = deploy(local, folder / "state.json", namePrefix=name, autoProcess="true", forceDestroy="true")
    (folder / "outputs.json").write_text(json.dumps(outputs))
    return {"outputs": outputs, "state": folder / "state.json", "file": folder / "outputs.json", "name": name}


@pytest.fixture(scope="module")
def redacting(local, aws, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A stack with ``redact: true``, its layer published as the endpoint's stand-in for the real one
    (``scripts/local.py redactor-layer``)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert local_cli.main(["redactor-layer", "--endpoint", local.url]) == 0
    layer = printed.getvalue().strip()
    assert layer.startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:faces-redactor:")
    folder, name = tmp_path_factory.mktemp("redact-stack"), unique("redact")
    settings = {"autoProcess": "true", "forceDestroy": "true", "redact": "true", "redactLayerArn": layer}
    outputs = deploy(local, folder / "state.json", namePrefix=name, **settings)
    yield {"outputs": outputs, "state": folder / "state.json"}
    engine.destroy(Context(local.clients_in(REGION), REGION, ACCOUNT_ID), folder / "state.json")


def put(aws, bucket: str, key: str, body: bytes) -> S3Video:
    return S3Video(bucket, key, aws("s3").put_object(Bucket=bucket, Key=key, Body=body)["VersionId"])


def result(aws, stack, video_key: str, kind: str = "faces", timeout: float = 60) -> dict[str, Any]:
    """The result object for the video, once the stack has written it."""
    bucket, key = stack["outputs"]["bucketName"], f"results/{video_key}.{kind}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = aws("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        if any(item["Key"] == key for item in listed):
            found = aws("s3").get_object(Bucket=bucket, Key=key)
            return {**json.loads(found["Body"].read()), "metadata": found["Metadata"]}
        time.sleep(0.2)
    raise AssertionError(f"no {key} after {timeout} s")


def gray_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield float(frame.time or 0) * 1000, frame.to_ndarray(format="rgb24").mean(axis=2)


def keys_under(aws, bucket: str, prefix: str) -> set[str]:
    return {item["Key"] for item in aws("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


def jobs_on(local: LocalEndpoint, video: S3Video) -> list[str]:
    """The emulator's jobs on this object (any version), read from its job store as an auditor would."""
    rows = local.rekognition.store._query("SELECT job_id, request FROM jobs")  # a test's audit
    found = []
    for job_id, request in rows:
        s3_object = json.loads(request)["Video"]["S3Object"]
        if (s3_object["Bucket"], s3_object["Name"]) == (video.bucket, video.key):
            found.append(job_id)
    return found


def intake_dead_letter_queue(aws, name_prefix: str) -> str:
    (url,) = aws("sqs").list_queues(QueueNamePrefix=f"{name_prefix}-intake-dead-letter")["QueueUrls"]
    return url


def queue_depth(aws, queue_url: str) -> int:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@pytest.fixture
def launcher_env(local, tmp_path, monkeypatch) -> Path:
    """The launcher's environment pointed at this endpoint, run from a scratch folder."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "AWS_ENDPOINT_URL": local.url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return tmp_path


def test_an_upload_under_the_prefix_produces_its_result_object(aws, local, stack, videos):
    bucket = stack["outputs"]["bucketName"]
    video = put(aws, bucket, "videos/first clip.mp4", videos["face"].path.read_bytes())
    document = result(aws, stack, video.key)
    assert document["JobStatus"] == "SUCCEEDED"
    assert document["Faces"] and {"Timestamp", "Face"} <= set(document["Faces"][0])
    assert document["Video"]["S3Object"] == {"Bucket": bucket, "Name": video.key, "Version": video.version}
    (job_id,) = jobs_on(local, video)
    assert document["metadata"] == {"job-id": job_id, "video-version": video.version}
    assert queue_depth(aws, stack["outputs"]["queueUrl"]) == 0  # the collector consumed the completion


def test_objects_outside_the_prefix_or_with_other_suffixes_start_no_job(aws, local, stack, videos):
    bucket, body = stack["outputs"]["bucketName"], videos["face"].path.read_bytes()
    elsewhere = put(aws, bucket, "other/clip.mp4", body)
    not_video = put(aws, bucket, "videos/clip.txt", body)
    marker = put(aws, bucket, "videos/marker.mp4", body)  # processed after the other two were notified
    result(aws, stack, marker.key)
    assert jobs_on(local, elsewhere) == [] and jobs_on(local, not_video) == []


@pytest.mark.parametrize("kind", ["mpeg4", "garbage"])
def test_a_corrupt_or_unsupported_video_produces_an_error_result(aws, stack, videos, kind):
    body = videos["mpeg4"].path.read_bytes() if kind == "mpeg4" else b"this is not a video" * 100
    video = put(aws, stack["outputs"]["bucketName"], f"videos/{kind}.mp4", body)
    document = result(aws, stack, video.key, kind="error")
    assert document["JobStatus"] == "FAILED"
    assert "Unsupported video" in document["StatusMessage"]
    assert document["metadata"]["video-version"] == video.version


def test_one_version_gets_one_job_however_often_it_is_announced_or_launched(aws, local, stack, videos, launcher_env):
    outputs = stack["outputs"]
    video = put(aws, outputs["bucketName"], "videos/twice.mp4", videos["no-face"].path.read_bytes())
    first = result(aws, stack, video.key)
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": video.bucket},
                    "object": {"key": "videos/twice.mp4", "versionId": video.version},
                },
            }
        ]
    }
    aws("sqs").send_message(QueueUrl=outputs["intakeQueueUrl"], MessageBody=json.dumps(event))  # redelivered
    uri = f"s3://{video.bucket}/{video.key}?versionId={video.version}"
    assert main([uri, "--outputs", str(stack["file"]), "--out", "launched.json"]) == 0  # and the launcher too
    time.sleep(1)  # the redelivered event has been handled
    assert queue_depth(aws, outputs["intakeQueueUrl"]) == 0
    (job_id,) = jobs_on(local, video)
    token = StartRequest(video, outputs["topicArn"], outputs["roleArn"]).derived_token()
    assert local.rekognition.store.by_token(token, since_ms=0).job_id == job_id == first["metadata"]["job-id"]
    launched = json.loads((launcher_env / "launched.json").read_text())
    assert launched == {k: v for k, v in first.items() if k != "metadata"}


def test_the_launcher_uploads_under_the_prefix_and_reads_the_result_object(aws, local, stack, tmp_path, launcher_env):
    clip = make_video(tmp_path / "mine.mp4", seconds=0.6)
    launch = [str(clip.path), "--outputs", str(stack["file"])]
    assert main([*launch, "--format", "csv", "--out", "f.csv"]) == 0
    rows = (launcher_env / "f.csv").read_text().splitlines()
    assert rows[0].startswith("timestamp_ms,") and len(rows) > 1
    assert main([*launch, "--out", "again.json", "--report"]) == 0  # the same file again: no upload, no job
    report = (launcher_env / "mine.mp4.faces.html").read_text()
    appearances = len(json.loads((launcher_env / "again.json").read_text())["Appearances"])
    assert appearances and report.count('<div class="lane"') == appearances
    assert report.count("data:image/jpeg;base64,") == appearances, "thumbnails cut from the local video"
    bucket = stack["outputs"]["bucketName"]
    key = f"videos/{hashlib.sha256(clip.path.read_bytes()).hexdigest()}.mp4"  # under incomingPrefix
    assert len(aws("s3").list_object_versions(Bucket=bucket, Prefix=key)["Versions"]) == 1
    assert len(jobs_on(local, S3Video(bucket, key, None))) == 1
    document = json.loads((launcher_env / "again.json").read_text())
    assert len(rows) - 1 == len(document["Faces"])
    assert main([*launch, "--attributes", "ALL"]) == 2


def test_limit_exceeded_delays_but_loses_nothing(aws, local, stack, tmp_path):
    bucket = stack["outputs"]["bucketName"]
    clips = [make_video(tmp_path / f"burst-{i}.mp4", seconds=0.5 + i * 0.1) for i in range(2 * MAX_OPEN_JOBS + 1)]
    uploaded = [put(aws, bucket, f"videos/burst/{clip.path.name}", clip.path.read_bytes()) for clip in clips]
    for video in uploaded:
        assert result(aws, stack, video.key, timeout=90)["JobStatus"] == "SUCCEEDED"
        assert len(jobs_on(local, video)) == 1
    assert queue_depth(aws, intake_dead_letter_queue(aws, stack["name"])) == 0


def test_a_record_that_crashes_the_starter_reaches_the_dead_letter_queue_alone(aws, local, tmp_path, videos):
    name = unique("crash")
    settings = {"autoProcess": "true", "forceDestroy": "true", "intakeMaxReceiveCount": "2"}
    outputs = deploy(local, tmp_path / "state.json", namePrefix=name, **settings)
    aws("sqs").send_message(QueueUrl=outputs["intakeQueueUrl"], MessageBody="not an S3 event")
    video = put(aws, outputs["bucketName"], "videos/beside.mp4", videos["no-face"].path.read_bytes())
    assert result(aws, {"outputs": outputs}, video.key)["JobStatus"] == "SUCCEEDED"
    dead_url = intake_dead_letter_queue(aws, name)
    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        received = aws("sqs").receive_message(QueueUrl=dead_url, WaitTimeSeconds=1, AttributeNames=["All"])
        messages = received.get("Messages", [])
    assert [m["Body"] for m in messages] == ["not an S3 event"]
    assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) > 2  # tried twice, then received here
    engine.destroy(Context(local.clients_in(REGION), REGION, ACCOUNT_ID), tmp_path / "state.json")


def test_the_launcher_reports_a_failed_job_on_a_corrupt_video_at_once(aws, stack, videos, launcher_env, capsys):
    bucket = stack["outputs"]["bucketName"]
    video = put(aws, bucket, "videos/launched-garbage.mp4", b"this is not a video" * 100)
    started = time.monotonic()
    launch = [f"s3://{bucket}/{video.key}", "--outputs", str(stack["file"]), "--out", "garbage.json"]
    assert main(launch) == 3  # ExitCode.JOB_FAILED, from the error result, not the timeout
    assert time.monotonic() - started < 30
    assert "Unsupported video" in capsys.readouterr().err
    assert not (launcher_env / "garbage.json").exists()


def test_the_launcher_runs_a_video_outside_the_prefix_and_the_collector_writes_its_result(
    aws, local, stack, videos, launcher_env
):
    bucket = stack["outputs"]["bucketName"]
    video = put(aws, bucket, "elsewhere/launched.mp4", videos["face"].path.read_bytes())
    assert main([f"s3://{bucket}/{video.key}", "--outputs", str(stack["file"]), "--out", "out.json"]) == 0
    (job_id,) = jobs_on(local, video)  # the launcher's own job: the starter never saw this key
    assert result(aws, stack, video.key)["metadata"]["job-id"] == job_id
    assert json.loads((launcher_env / "out.json").read_text())["JobStatus"] == "SUCCEEDED"


def test_auto_process_turned_on_then_off_adds_then_removes_everything(aws, local, tmp_path, videos):
    state, name = tmp_path / "state.json", unique("toggle")
    ctx = Context(local.clients_in(REGION), REGION, ACCOUNT_ID)
    off = deploy(local, state, namePrefix=name, forceDestroy="true")
    on = deploy(local, state, namePrefix=name, forceDestroy="true", autoProcess="true")
    assert {k: v for k, v in on.items() if k in off} == off  # the existing resources stay as they are
    lam, sqs = aws("lambda"), aws("sqs")
    functions = [
        lam.get_function(FunctionName=on[key])["Configuration"]
        for key in ("starterFunctionName", "collectorFunctionName")
    ]
    assert len(sqs.list_queues(QueueNamePrefix=f"{name}-intake")["QueueUrls"]) == 2

    again = deploy(local, state, namePrefix=name, forceDestroy="true")
    assert again == off
    for function in functions:
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=function["FunctionName"])
        mappings = lam.list_event_source_mappings()["EventSourceMappings"]
        assert not [m for m in mappings if m["FunctionArn"] == function["FunctionArn"]]
        with pytest.raises(aws("iam").exceptions.NoSuchEntityException):
            aws("iam").get_role(RoleName=function["Role"].rsplit("/", 1)[1])
        assert not aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function['FunctionName']}")[
            "logGroups"
        ]
    assert not sqs.list_queues(QueueNamePrefix=f"{name}-intake").get("QueueUrls")
    notification = aws("s3").get_bucket_notification_configuration(Bucket=off["bucketName"])
    assert not notification.get("QueueConfigurations")
    visibility = sqs.get_queue_attributes(QueueUrl=off["queueUrl"], AttributeNames=["VisibilityTimeout"])
    assert visibility["Attributes"]["VisibilityTimeout"] == "30"  # SQS's default again, as before autoProcess
    video = put(aws, off["bucketName"], "videos/after.mp4", videos["no-face"].path.read_bytes())
    time.sleep(1.5)  # an intake poller would have started a job by now
    assert jobs_on(local, video) == []
    engine.destroy(ctx, state)


def test_destroy_removes_it_all(aws, local, stack):
    outputs = stack["outputs"]
    lam = aws("lambda")
    roles = [
        lam.get_function(FunctionName=outputs[name])["Configuration"]["Role"].rsplit("/", 1)[1]
        for name in ("starterFunctionName", "collectorFunctionName")
    ]
    intake_queues = aws("sqs").list_queues(QueueNamePrefix=f"{stack['name']}-intake")["QueueUrls"]
    assert len(intake_queues) == 2  # the intake queue and its dead-letter queue, until destroyed
    engine.destroy(Context(local.clients_in(REGION), REGION, ACCOUNT_ID), stack["state"])
    for role in roles:  # the execution roles and their policies
        with pytest.raises(aws("iam").exceptions.NoSuchEntityException):
            aws("iam").get_role(RoleName=role)
    for name in (outputs["starterFunctionName"], outputs["collectorFunctionName"]):
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=name)
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert not aws("sqs").list_queues(QueueNamePrefix=f"{stack['name']}-intake").get("QueueUrls")  # and its DLQ
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert not [g for g in groups if outputs["starterFunctionName"].rsplit("-", 1)[0] in g["logGroupName"]]
    assert outputs["bucketName"] not in {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}


def flat_video(path: Path, frames: int, width: int, height: int) -> Path:
    """A grey H.264 clip of ``frames`` intra frames, all one encoded picture: written at once
    whatever its length (what matters here is its header)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30, options={"preset": "ultrafast", "x264-params": "keyint=1"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        grey = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
        (picture,) = [*stream.encode(grey.reformat(format="yuv420p")), *stream.encode(None)]
        for index in range(frames):
            packet = av.Packet(bytes(picture))
            packet.stream, packet.pts, packet.dts, packet.duration = stream, index, index, 1
            packet.time_base, packet.is_keyframe = picture.time_base, True
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("redact-clip") / "short.mp4", seconds=1.0)


def test_redact_writes_a_copy_with_the_face_covered_and_its_audit(aws, redacting, short_clip, tmp_path):
    """Upload -> starter -> job -> collector -> redactor (its own package, its layer) -> the copy."""
    bucket = redacting["outputs"]["bucketName"]
    clip = short_clip
    video = put(aws, bucket, "videos/redact me.mp4", clip.path.read_bytes())
    audit = result(aws, redacting, video.key, kind="redaction")  # written after the copy
    keys = RedactionKeys.of("results/", video.key)
    found = aws("s3").get_object(Bucket=bucket, Key=keys.copy)
    assert found["ContentType"] == "video/mp4"
    assert found["Metadata"] == audit["metadata"] and found["Metadata"]["video-version"] == video.version
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(found["Body"].read())
    redaction = audit["Redaction"]
    assert redaction["output"] == f"s3://{bucket}/{keys.copy}"
    # No detector in the layer (docs/redaction.md): written, not audited, and it says so.
    assert redaction["detector"] == "none" and redaction["framesAudited"] == 0 and redaction["leaks"] == []
    assert redaction["auditSkipped"].startswith("not audited: the function's layer has no face detector")
    assert redaction["auditSkipped"].endswith(")"), "and, in brackets, why loading a detector failed"
    assert redaction["frames"] == clip.frame_count
    assert redaction["coveredFrames"] == clip.frame_count  # the face is in every frame
    frames = 0
    for (time_ms, before), (copy_ms, after) in zip(gray_frames(clip.path), gray_frames(copy), strict=True):
        assert abs(time_ms - copy_ms) < 1
        face = clip.face_at(time_ms)
        assert face is not None
        window = (
            slice(round(face.top), round(face.top + face.height)),
            slice(round(face.left), round(face.left + face.width)),
        )
        assert structural_similarity(before[window], after[window], data_range=255) < RECOGNISABLE_SSIM
        assert abs(before[:20, :20] - after[:20, :20]).mean() < 4  # the rest of the frame is the video's
        frames += 1
    assert frames == clip.frame_count
    assert keys.error not in keys_under(aws, bucket, "results/videos/")


def test_a_video_past_the_functions_time_gets_an_error_object_and_no_copy(aws, redacting, tmp_path):
    """The line is the function's time: here the deployed redactor is given 3 s (in AWS it has
    900) and invoked on a 1920x1080 clip of 600 frames (about 11 s of CPU: 4 s on its 10 GB's 5.8
    vCPUs, with the safety factor), which it refuses from its header, before a frame is decoded."""
    lam, name = aws("lambda"), redacting["outputs"]["redactorFunctionName"]
    bucket = redacting["outputs"]["bucketName"]
    clip = flat_video(tmp_path / "long.mp4", 600, 1920, 1080)
    video = put(aws, bucket, "elsewhere/long.mp4", clip.read_bytes())  # outside the pipeline: invoked here
    results_key = "results/elsewhere/long.mp4.faces.json"
    aws("s3").put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))
    event = {"JobId": "job", "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
    lam.update_function_configuration(FunctionName=name, Timeout=3)
    try:
        answer = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    finally:
        lam.update_function_configuration(FunctionName=name, Timeout=900)
    assert "FunctionError" not in answer, answer["Payload"].read()
    keys = RedactionKeys.of("results/", video.key)
    assert json.loads(answer["Payload"].read()) == {"written": None, "error": keys.error}
    found = aws("s3").get_object(Bucket=bucket, Key=keys.error)
    document = json.loads(found["Body"].read())
    assert document["Code"] == "VideoTooLongForLambda" and document["Redaction"] == "NOT_WRITTEN"
    assert "1920x1080, 600 frames" in document["Message"] and "scripts/launch.py s3://" in document["Message"]
    assert "\n" not in document["Message"]
    limit = document["Limit"]
    assert limit["frames"] == 600 and limit["estimatedSeconds"] > limit["availableSeconds"]
    assert limit["maxFrames"] < limit["frames"]
    assert found["Metadata"]["video-version"] == video.version
    assert keys_under(aws, bucket, "results/elsewhere/long.mp4") == {results_key, keys.error}


class DwindlingClock:
    """A Lambda context whose remaining time falls by ``step_ms`` at each look: plenty at the start,
    gone after a few frames (a video whose frames cost far more than the estimate)."""

    memory_limit_in_mb = "10240"

    def __init__(self, start_ms: int, step_ms: int) -> None:
        self.remaining_ms, self.step_ms = start_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        now = self.remaining_ms
        self.remaining_ms = max(0, now - self.step_ms)
        return now


def test_a_redaction_that_runs_out_of_time_midway_uploads_nothing(aws, redacting, short_clip):
    bucket = redacting["outputs"]["bucketName"]
    video = put(aws, bucket, "elsewhere/midway.mp4", short_clip.path.read_bytes())  # no pipeline here
    results_key = "results/elsewhere/midway.mp4.faces.json"
    aws("s3").put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))
    event = {"JobId": "job", "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
    answer = Redactor(bucket, "results/", aws("s3")).handle(event, DwindlingClock(900_000, 30_000))
    keys = RedactionKeys.of("results/", video.key)
    assert answer["written"] is None
    assert keys_under(aws, bucket, "results/elsewhere/midway") == {results_key, keys.error}
    document = json.loads(aws("s3").get_object(Bucket=bucket, Key=keys.error)["Body"].read())
    assert document["Code"] == "OutOfTime" and "nothing was uploaded" in document["Message"]


def test_a_key_whose_last_part_is_longer_than_a_file_name_is_redacted(aws, redacting, short_clip):
    """The local copy was named after the key's last part: above 242 bytes (S3 takes 1024) it could not
    be made in /tmp, and the video got no copy."""
    bucket = redacting["outputs"]["bucketName"]
    video = put(aws, bucket, "elsewhere/" + "n" * 250 + ".mp4", short_clip.path.read_bytes())
    results_key = f"results/{video.key}.faces.json"
    aws("s3").put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))
    event = {"JobId": "job", "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
    answer = Redactor(bucket, "results/", aws("s3")).handle(event, DwindlingClock(900_000, 0))
    keys = RedactionKeys.of("results/", video.key)
    assert answer["written"] == keys.copy, answer
    assert keys_under(aws, bucket, f"results/{video.key}") == {results_key, keys.copy, keys.audit}


def test_an_unreadable_video_gets_one_line_and_no_copy(aws, redacting):
    bucket = redacting["outputs"]["bucketName"]
    video = put(aws, bucket, "elsewhere/garbage.mp4", b"this is not a video" * 100)
    results_key = "results/elsewhere/garbage.mp4.faces.json"
    aws("s3").put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))
    event = {"JobId": "job", "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
    answer = Redactor(bucket, "results/", aws("s3")).handle(event, DwindlingClock(900_000, 0))
    keys = RedactionKeys.of("results/", video.key)
    assert answer == {"written": None, "error": keys.error}
    document = json.loads(aws("s3").get_object(Bucket=bucket, Key=keys.error)["Body"].read())
    assert document["Code"] == "UnreadableVideo" and document["Message"].startswith("cannot read the video")
    assert "\n" not in document["Message"]
    assert keys_under(aws, bucket, "results/elsewhere/garbage") == {results_key, keys.error}


def test_what_is_under_a_key_is_always_one_runs_outcome(aws, redacting, short_clip):
    """Version 1 cannot be read (an error object), version 2 is redacted (its copy and audit, the
    error removed), version 3 cannot be read again (its error, the copy of version 2 removed): nobody
    finds a copy beside an error and has to compare versions to know which is current."""
    bucket = redacting["outputs"]["bucketName"]
    s3, key = aws("s3"), "elsewhere/versions.mp4"
    keys = RedactionKeys.of("results/", key)
    results_key = f"results/{key}.faces.json"
    s3.put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))

    def redact_version(body: bytes) -> dict[str, Any]:
        video = put(aws, bucket, key, body)
        event = {"JobId": video.version, "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
        return Redactor(bucket, "results/", s3).handle(event, DwindlingClock(900_000, 0))

    assert redact_version(b"not a video" * 100)["written"] is None
    assert keys_under(aws, bucket, f"results/{key}") == {results_key, keys.error}
    markers = s3.list_object_versions(Bucket=bucket, Prefix=f"results/{key}").get("DeleteMarkers", [])
    assert markers == [], "nothing is deleted that was never written (a delete marker each)"

    assert redact_version(short_clip.path.read_bytes())["written"] == keys.copy
    assert keys_under(aws, bucket, f"results/{key}") == {results_key, keys.copy, keys.audit}

    assert redact_version(b"still not a video" * 100)["written"] is None
    assert keys_under(aws, bucket, f"results/{key}") == {results_key, keys.error}
    error = s3.head_object(Bucket=bucket, Key=keys.error)
    assert error["Metadata"]["video-version"] == s3.head_object(Bucket=bucket, Key=key)["VersionId"]


def test_a_late_run_for_an_older_version_and_a_failed_rerun_remove_nothing(aws, redacting, short_clip):
    """Runs can end out of order (a completion delivered late) or twice (a redelivered one): a run for
    a version that is no longer current writes and removes nothing, and a failed rerun of the current
    version leaves that version's copy where it is."""
    bucket = redacting["outputs"]["bucketName"]
    s3, key = aws("s3"), "elsewhere/late.mp4"
    keys = RedactionKeys.of("results/", key)
    results_key = f"results/{key}.faces.json"
    s3.put_object(Bucket=bucket, Key=results_key, Body=json.dumps({"JobStatus": "SUCCEEDED", "Faces": []}))
    older = put(aws, bucket, key, b"not a video" * 100)
    current = put(aws, bucket, key, short_clip.path.read_bytes())

    def run(video: S3Video, clock: DwindlingClock) -> dict[str, Any]:
        event = {"JobId": video.version, "Video": {"S3Object": video.as_s3_object()}, "Results": results_key}
        return Redactor(bucket, "results/", s3).handle(event, clock)

    assert run(current, DwindlingClock(900_000, 0))["written"] == keys.copy
    copy_before = s3.head_object(Bucket=bucket, Key=keys.copy)
    assert run(older, DwindlingClock(900_000, 0)) == {"written": None, "superseded": True}
    assert keys_under(aws, bucket, f"results/{key}") == {results_key, keys.copy, keys.audit}
    assert run(current, DwindlingClock(900_000, 30_000))["error"] == keys.error  # out of time this once
    assert keys_under(aws, bucket, f"results/{key}") == {results_key, keys.copy, keys.audit, keys.error}
    assert s3.head_object(Bucket=bucket, Key=keys.copy)["ETag"] == copy_before["ETag"]


def test_a_redaction_that_raises_is_run_once_not_three_times(aws, local, redacting, caplog):
    """The deployed stack's event invoke config: Lambda's default would run a failed asynchronous
    invocation of the redactor twice more (the local endpoint retries as Lambda does)."""
    lam, name = aws("lambda"), redacting["outputs"]["redactorFunctionName"]
    config = lam.get_function_event_invoke_config(FunctionName=name)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 21600)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with caplog.at_level(logging.WARNING, logger="localaws.awslambda.models"):
        # Not a redaction request: the handler raises (KeyError), as a bug would.
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"not": "a request"}))
        deadline = time.monotonic() + 120
        while local.awslambda.queued_events(arn):
            assert time.monotonic() < deadline, "the redactor's event is still queued or waiting for a retry"
            time.sleep(0.2)
    failures = [r.getMessage() for r in caplog.records if f"of {name} failed" in r.getMessage()]
    assert len(failures) == 1, failures
    assert "not retried (run 1; MaximumRetryAttempts 0" in failures[0]
