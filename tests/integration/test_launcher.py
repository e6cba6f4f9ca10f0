"""The launcher against the local endpoint with the stack deployed into it, configured the AWS way
(AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, credentials in the environment)."""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from launcher.cli import main
from launcher.jobs.errors import ExitCode
from launcher.jobs.s3video import S3ObjectReader
from localaws.rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS
from tests.support.aws import ACCOUNT_ID, ROOT, drain, own_copy, read_json, unique, upload


def launch(stack, *args: str) -> int:
    return main([*args, "--outputs", str(stack["file"])])


# The "face" clip (2 s at 30 fps) sampled at the emulator's cadence: a face at 0, 500, 1000, 1500 ms.
SAMPLES = math.ceil(2000 / DEFAULT_SAMPLE_INTERVAL_MS)
LAST_MS = (SAMPLES - 1) * DEFAULT_SAMPLE_INTERVAL_MS


def job_count(endpoint) -> int:
    return endpoint.rekognition.store.count()


# -- the happy paths ------------------------------------------------------------------------------


def test_a_local_video_to_results(stack, aws_env, workdir, videos, capsys):
    video = workdir / "clip.mp4"
    shutil.copy(videos["face"].path, video)
    assert launch(stack, str(video)) == ExitCode.OK
    result = read_json(workdir / "clip.mp4.faces.json")
    assert result["JobStatus"] == "SUCCEEDED"
    assert set(result) >= {"JobId", "JobStatus", "VideoMetadata", "Video", "Faces"}
    assert len(result["Faces"]) == SAMPLES
    assert [face["AppearanceIndex"] for face in result["Faces"]] == [0] * SAMPLES, "one face crossing the frame"
    (appearance,) = result["Appearances"]
    assert (appearance["StartTimestamp"], appearance["EndTimestamp"], appearance["DetectionCount"]) == (
        0,
        LAST_MS,
        SAMPLES,
    )
    assert result["Video"]["S3Object"]["Version"], "the launch pins the object version"
    assert result["Video"]["S3Object"]["Name"].startswith("videos/")
    out = capsys.readouterr().out
    assert f"{SAMPLES} face(s) found from 0.0 s to {LAST_MS / 1000:.1f} s of a 2.0 s video" in out
    assert list(workdir.glob(".*partial")) == []


def test_an_s3_video_to_results(stack, aws, aws_env, workdir, videos):
    s3_object = upload(aws, stack["outputs"]["bucketName"], videos["face"].path, key="incoming/clip.mp4")
    assert launch(stack, f"s3://{s3_object['Bucket']}/incoming/clip.mp4") == ExitCode.OK
    result = read_json(workdir / "clip.mp4.faces.json")
    assert result["Video"]["S3Object"] == s3_object, "the current version is pinned"
    assert len(result["Faces"]) == SAMPLES
    pinned = f"s3://{s3_object['Bucket']}/incoming/clip.mp4?versionId={s3_object['Version']}"
    assert launch(stack, pinned, "--out", "pinned.json") == ExitCode.OK
    assert read_json(workdir / "pinned.json")["JobId"] == result["JobId"]


def test_the_same_command_twice_starts_one_job_and_uploads_once(stack, aws, aws_env, workdir, videos, endpoint):
    video = workdir / "twice.mp4"
    shutil.copy(videos["no-face"].path, video)
    jobs_before = job_count(endpoint)
    assert launch(stack, str(video), "--job-tag", "twice") == ExitCode.OK
    first = read_json(workdir / "twice.mp4.faces.json")
    assert launch(stack, str(video), "--job-tag", "twice", "--overwrite") == ExitCode.OK
    second = read_json(workdir / "twice.mp4.faces.json")
    assert first["JobId"] == second["JobId"]
    assert job_count(endpoint) == jobs_before + 1
    key = first["Video"]["S3Object"]["Name"]
    versions = aws("s3").list_object_versions(Bucket=stack["outputs"]["bucketName"], Prefix=key)["Versions"]
    assert len(versions) == 1, "uploaded once"


def start_elsewhere(stack, aws, video: Path) -> tuple[dict[str, str], str]:
    """Upload and start a job with the stack's channel, as another tool would: (S3Object, JobId)."""
    outputs = stack["outputs"]
    s3_object = upload(aws, outputs["bucketName"], video)
    job_id = aws("rekognition").start_face_detection(
        Video={"S3Object": s3_object},
        NotificationChannel={"SNSTopicArn": outputs["topicArn"], "RoleArn": outputs["roleArn"]},
    )["JobId"]
    return s3_object, job_id


def test_attach_to_a_job_started_elsewhere(stack, aws, aws_env, workdir, videos):
    _, job_id = start_elsewhere(stack, aws, videos["face"].path)
    assert launch(stack, "elsewhere.mp4", "--attach", job_id) == ExitCode.OK
    result = read_json(workdir / "elsewhere.mp4.faces.json")
    assert result["JobId"] == job_id and len(result["Faces"]) == SAMPLES


def test_every_output_format(stack, aws_env, workdir, videos):
    video = workdir / "formats.mp4"
    shutil.copy(videos["face"].path, video)
    assert launch(stack, str(video), "--format", "jsonl") == ExitCode.OK
    lines = (workdir / "formats.mp4.faces.jsonl").read_text().splitlines()
    assert len(lines) == SAMPLES
    assert all(set(json.loads(line)) == {"Timestamp", "Face", "AppearanceIndex"} for line in lines)
    assert launch(stack, str(video), "--format", "csv", "--out", "faces.csv") == ExitCode.OK
    rows = list(csv.DictReader((workdir / "faces.csv").open()))
    assert len(rows) == SAMPLES
    assert list(rows[0])[:13] == [
        "timestamp_ms",
        "left",
        "top",
        "width",
        "height",
        "confidence",
        "roll",
        "yaw",
        "pitch",
        "brightness",
        "sharpness",
        "appearance",
        "person",
    ]
    assert {r["appearance"] for r in rows} == {"0"}
    # The video's metadata on every row, as the json results have it.
    assert {(r["video_frame_width"], r["video_codec"]) for r in rows} == {("640", "h264")} and rows[0]["job_id"]
    assert {r["person"] for r in rows} == {""}, "a person only with --people"
    assert [int(r["timestamp_ms"]) for r in rows] == [json.loads(line)["Timestamp"] for line in lines]
    assert all(0 <= float(r["left"]) <= 1 and float(r["confidence"]) > 90 for r in rows)


# -- the queue is shared ---------------------------------------------------------------------------


def test_other_jobs_and_malformed_messages_are_left_alone(stack, aws, aws_env, workdir, videos, caplog):
    outputs = stack["outputs"]
    drain(aws, outputs["queueUrl"])
    drain(aws, outputs["deadLetterQueueUrl"])
    foreign = json.dumps(
        {
            "JobId": "f" * 64,
            "Status": "SUCCEEDED",
            "API": "StartFaceDetection",
            "Timestamp": 1,
            "Video": {"S3ObjectName": "x", "S3Bucket": "y"},
        }
    )
    aws("sqs").send_message(QueueUrl=outputs["queueUrl"], MessageBody=foreign)
    aws("sqs").send_message(QueueUrl=outputs["queueUrl"], MessageBody="{not json")
    video = workdir / "shared.mp4"
    shutil.copy(videos["no-face"].path, video)
    assert launch(stack, str(video), "--grace", "600") == ExitCode.OK
    assert "not a Rekognition completion" in caplog.text
    queued = [m["Body"] for m in drain(aws, outputs["queueUrl"])]
    dead = [m["Body"] for m in drain(aws, outputs["deadLetterQueueUrl"])]
    # The completion waits for its owner (or, if it has none, goes to the dead-letter queue after
    # maxReceiveCount receives). The malformed one was left in flight, not deleted: it comes back
    # after the visibility timeout, on its way to the dead-letter queue.
    assert foreign in queued + dead
    in_flight = aws("sqs").get_queue_attributes(
        QueueUrl=outputs["queueUrl"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert in_flight["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    own = read_json(workdir / "shared.mp4.faces.json")["JobId"]
    assert not any(own in body for body in queued + dead), "the launcher's own message was deleted"


def test_a_lost_notification_is_recovered_by_the_status_fallback(stack, aws, aws_env, workdir, videos, tmp_path):
    lonely_queue = aws("sqs").create_queue(QueueName=unique("unsubscribed"))["QueueUrl"]
    outputs = dict(stack["outputs"], queueUrl=lonely_queue)
    outputs_file = tmp_path / "lonely-outputs.json"
    outputs_file.write_text(json.dumps(outputs))
    video = workdir / "lost.mp4"
    shutil.copy(videos["no-face"].path, video)
    code = main([str(video), "--outputs", str(outputs_file), "--grace", "1", "--job-tag", "lost"])
    assert code == ExitCode.OK
    assert read_json(workdir / "lost.mp4.faces.json")["JobStatus"] == "SUCCEEDED"


# -- service errors, retried or reported -----------------------------------------------------------


def test_throttling_and_limit_exceeded_are_recovered(stack, aws_env, workdir, videos, endpoint, caplog, monkeypatch):
    backend = endpoint.rekognition
    backend.faults.inject("StartFaceDetection", "ThrottlingException", 2)
    backend.faults.inject("GetFaceDetection", "ProvisionedThroughputExceededException", 2)
    video = workdir / "busy.mp4"
    shutil.copy(videos["no-face"].path, video)
    assert launch(stack, str(video), "--job-tag", "throttled") == ExitCode.OK
    # botocore retries LimitExceeded a few times by itself; without its retries, the launcher's own
    # loop waits for a free slot and says so.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    backend.faults.inject("StartFaceDetection", "LimitExceededException", 2)
    assert launch(stack, str(video), "--job-tag", "limited", "--retry-wait", "0.1", "--overwrite") == ExitCode.OK
    assert "too many open jobs" in caplog.text
    assert backend.faults.pending() == {}, "every injected fault was met, and recovered from"


def test_limit_exceeded_until_the_timeout_is_its_own_exit_code(
    stack, aws_env, workdir, videos, endpoint, capsys, monkeypatch
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint.rekognition.faults.inject("StartFaceDetection", "LimitExceededException", 1000)
    video = workdir / "never.mp4"
    shutil.copy(videos["no-face"].path, video)
    try:
        code = launch(stack, str(video), "--job-tag", "never", "--retry-wait", "0.2", "--timeout", "1")
    finally:
        endpoint.rekognition.faults.clear()
    assert code == ExitCode.LIMIT_EXCEEDED
    assert "LimitExceededException" in capsys.readouterr().err
    assert not (workdir / "never.mp4.faces.json").exists()


def test_a_failed_job_exits_non_zero_with_its_message(stack, aws, aws_env, workdir, videos, capsys):
    corrupt = workdir / "corrupt.mp4"
    corrupt.write_bytes(videos["face"].path.read_bytes()[:2000])
    s3_object = upload(aws, stack["outputs"]["bucketName"], corrupt, key="broken/corrupt.mp4")
    code = launch(stack, f"s3://{s3_object['Bucket']}/broken/corrupt.mp4")
    assert code == ExitCode.JOB_FAILED
    assert "ended FAILED: Unsupported video" in capsys.readouterr().err
    assert not (workdir / "corrupt.mp4.faces.json").exists()


def test_access_denied_names_the_fix(stack, aws, aws_env, workdir, videos, capsys):
    outputs_file = workdir / "wrong-role.json"
    outputs_file.write_text(
        json.dumps(dict(stack["outputs"], roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{unique('nobody')}"))
    )
    video = workdir / "denied.mp4"
    shutil.copy(videos["no-face"].path, video)
    assert main([str(video), "--outputs", str(outputs_file)]) == ExitCode.ACCESS_DENIED
    err = capsys.readouterr().err
    assert "AccessDeniedException" in err and "What to do:" in err


def test_a_missing_bucket_is_a_clear_error(stack, aws_env, workdir, videos, capsys):
    outputs_file = workdir / "no-bucket.json"
    outputs_file.write_text(json.dumps(dict(stack["outputs"], bucketName=unique("no-such-bucket"))))
    video = workdir / "nowhere.mp4"
    shutil.copy(videos["no-face"].path, video)
    assert main([str(video), "--outputs", str(outputs_file)]) == ExitCode.AWS_ERROR
    err = capsys.readouterr().err
    assert "uploading" in err and "What to do:" in err and "Traceback" not in err


# -- the report ------------------------------------------------------------------------------------


def report_figures(path: Path) -> tuple[int, list[str]]:
    """How many timeline lanes the report has, and its thumbnails' data URIs."""
    page = path.read_text()
    return page.count('<div class="lane"'), re.findall(r'<image href="(data:image/jpeg;base64,[^"]+)"', page)


def test_report_beside_the_results_with_a_thumbnail_from_the_local_video(stack, aws_env, workdir, videos, capsys):
    (workdir / "out").mkdir()
    video = own_copy(videos["face"].path, workdir / "reported.mp4")
    assert launch(stack, str(video), "--report", "--out", "out/faces.json") == ExitCode.OK
    report = workdir / "out" / "reported.mp4.faces.html"
    assert f"report written to {Path('out') / 'reported.mp4.faces.html'}" in capsys.readouterr().out
    lanes, pictures = report_figures(report)
    assert (lanes, len(pictures)) == (1, 1)
    assert base64.b64decode(pictures[0].split(",", 1)[1])[:3] == b"\xff\xd8\xff", "a JPEG"
    assert 'href="faces.json"' in report.read_text(), "links the results beside it"
    assert list(workdir.glob("out/.*partial")) == []


def test_report_of_an_s3_video_reads_its_frames_from_s3(stack, aws, aws_env, workdir, videos, monkeypatch):
    s3_object = upload(aws, stack["outputs"]["bucketName"], videos["face"].path, key="incoming/remote.mp4")
    fetched = []
    original = S3ObjectReader._block

    def counting(reader, number):
        fetched.append(number)
        return original(reader, number)

    monkeypatch.setattr(S3ObjectReader, "_block", counting)
    assert launch(stack, f"s3://{s3_object['Bucket']}/incoming/remote.mp4", "--report") == ExitCode.OK
    assert fetched, "frames were read from S3"
    lanes, pictures = report_figures(workdir / "remote.mp4.faces.html")
    assert (lanes, len(pictures)) == (1, 1)


def test_report_after_attach_without_the_local_file_uses_the_job_s_s3_object(stack, aws, aws_env, workdir, videos):
    s3_object, job_id = start_elsewhere(stack, aws, videos["face"].path)
    assert launch(stack, "gone.mp4", "--attach", job_id, "--report") == ExitCode.OK
    page = (workdir / "gone.mp4.faces.html").read_text()
    assert f"s3://{s3_object['Bucket']}/{s3_object['Name']}" in page
    assert report_figures(workdir / "gone.mp4.faces.html")[1], "the thumbnail came from S3"


def test_report_of_a_video_without_faces_says_so(stack, aws_env, workdir, videos):
    video = own_copy(videos["no-face"].path, workdir / "empty.mp4")
    assert launch(stack, str(video), "--report") == ExitCode.OK
    page = (workdir / "empty.mp4.faces.html").read_text()
    assert "No faces were found" in page and report_figures(workdir / "empty.mp4.faces.html") == (0, [])


# -- bad inputs: a clear error, no job, no file ----------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.mp4"], "does not exist"),
        (["notes.mp4"], "not a readable video container"),
        (["mpeg4.mp4"], "Rekognition Video needs H.264"),
        (["s3:/bucket/key.mp4"], "is not an S3 video URI"),
        (["s3://bucket-only"], "is not an S3 video URI"),
        (["s3://bucket/key.mp4?version=1"], "versionId"),
        (["clip.mp4", "--token", "not a token!"], "--token"),
        (["clip.mp4", "--token", "x" * 65], "--token"),
        (["clip.mp4", "--job-tag", "spaces are not allowed"], "--job-tag"),
        (["clip.mp4", "--out", "no/such/folder/out.json"], "does not exist"),
        (["clip.mp4", "--attach", "bad job id!"], "--attach"),
        (["clip.mp4", "--retry-wait", "0"], "--retry-wait must be a positive number"),
        (["clip.mp4", "--timeout", "nan"], "--timeout must be a positive number"),
        (["clip.mp4", "--grace", "-1"], "--grace must be zero or more"),
        (["clip.mp4", "--report", "--out", "faces.json"], "clip.mp4.faces.html: it is a folder"),
    ],
)
def test_bad_inputs_are_refused_before_anything_starts(
    stack, aws_env, workdir, videos, endpoint, capsys, args, message
):
    shutil.copy(videos["face"].path, workdir / "clip.mp4")
    shutil.copy(videos["mpeg4"].path, workdir / "mpeg4.mp4")
    (workdir / "notes.mp4").write_text("not a video")
    (workdir / "clip.mp4.faces.html").mkdir()
    before = set(workdir.iterdir())
    jobs = job_count(endpoint)
    assert launch(stack, *args) == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err
    assert job_count(endpoint) == jobs
    assert set(workdir.iterdir()) == before


def test_a_missing_s3_object_is_a_clear_error(stack, aws_env, workdir, endpoint, capsys):
    jobs = job_count(endpoint)
    uri = f"s3://{stack['outputs']['bucketName']}/no/such/video.mp4"
    assert launch(stack, uri) == ExitCode.BAD_INPUT
    assert f"{uri} does not exist" in capsys.readouterr().err
    assert job_count(endpoint) == jobs


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("not json", "not readable JSON"),
        (json.dumps({"bucketName": "b", "region": "us-east-1"}), "topicArn, roleArn, queueUrl"),
    ],
)
def test_missing_or_incomplete_outputs(aws_env, workdir, videos, capsys, content, message):
    outputs = workdir / "outputs.json"
    if content is not None:
        outputs.write_text(content)
    shutil.copy(videos["face"].path, workdir / "clip.mp4")
    assert main(["clip.mp4", "--outputs", str(outputs)]) == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="the Pulumi CLI is installed here")
def test_stack_without_the_pulumi_cli(aws_env, workdir, videos, capsys):
    shutil.copy(videos["face"].path, workdir / "clip.mp4")
    assert main(["clip.mp4", "--stack", "dev"]) == ExitCode.BAD_INPUT
    assert "--stack needs the Pulumi CLI" in capsys.readouterr().err


# -- waiting: timeout and Ctrl-C -------------------------------------------------------------------


def test_timeout_leaves_the_job_running_and_says_how_to_reattach(stack, aws_env, workdir, videos, gate, capsys):
    video = workdir / "slow.mp4"
    shutil.copy(videos["no-face"].path, video)
    assert launch(stack, str(video), "--timeout", "1.5", "--job-tag", "slow") == ExitCode.TIMEOUT
    err = capsys.readouterr().err
    assert "keeps running" in err and "--attach" in err
    job_id = err.split("--attach ")[1].split()[0]
    gate.gate.set()
    assert launch(stack, str(video), "--attach", job_id) == ExitCode.OK


def _ctrl_c_once_the_job_starts(stack, workdir, video: Path, *extra: str) -> tuple[str, int, str, str]:
    """Run the launcher as a real process and send it SIGINT half a second after it says its job
    started: (job id, exit code, standard output, standard error after that line)."""
    command = [sys.executable, str(ROOT / "scripts" / "launch.py"), str(video), "--outputs", str(stack["file"])]
    process = subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=workdir,
    )
    notes = process.stderr if "--json" in extra else process.stdout  # with --json the notes are on stderr
    started = ""
    try:
        while not started.startswith("job "):
            started = notes.readline()
            assert started, "the launcher ended before starting a job"
        timer = threading.Timer(0.5, process.send_signal, (signal.SIGINT,))
        timer.start()
        out, err = process.communicate(timeout=60)
    finally:  # a launcher left running would start jobs in the next tests on this endpoint
        if process.poll() is None:
            process.kill()
            process.communicate()
    return started.split()[1], process.returncode, out, err


def test_ctrl_c_prints_the_job_and_the_command_that_reattaches(stack, endpoint, aws_env, workdir, videos, gate):
    video = workdir / "interrupted.mp4"
    shutil.copy(videos["no-face"].path, video)
    job_id, code, _, err = _ctrl_c_once_the_job_starts(stack, workdir, video, "--job-tag", "interrupted")
    assert code == ExitCode.INTERRUPTED
    assert f"job {job_id} keeps running" in err
    assert f"--attach {job_id}" in err and "scripts/launch.py" in err
    assert not (workdir / "interrupted.mp4.faces.json").exists()


def test_ctrl_c_with_json_prints_one_json_object_too(stack, endpoint, aws_env, workdir, videos, gate):
    """--json promises one object on standard output, errors too: Ctrl-C printed none."""
    video = workdir / "interrupted-json.mp4"
    shutil.copy(videos["no-face"].path, video)
    job_id, code, out, _ = _ctrl_c_once_the_job_starts(stack, workdir, video, "--job-tag", "interrupted-json", "--json")
    assert code == ExitCode.INTERRUPTED
    assert json.loads(out) == {
        "exitCode": 130,
        "error": f"interrupted; job {job_id} keeps running",
        "jobId": job_id,
    }


def test_attaching_to_a_job_the_service_has_not_is_one_line(stack, aws_env, workdir, capsys):
    """A mistyped --attach was followed by 'job ... may keep running. Re-attach with:' and the same
    --attach: there is no such job to keep running."""
    assert launch(stack, "clip.mp4", "--attach", "f" * 64) == ExitCode.RESOURCE_NOT_FOUND
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: reading the job's status (job {'f' * 64}) failed: ResourceNotFoundException")
    assert line.endswith(
        "What to do: no such job in this account and region (results are kept 7 days): check the job ID and "
        "AWS_DEFAULT_REGION."
    )
    assert list(workdir.iterdir()) == []
