"""The whole flow as a user runs it: the endpoint, the deployer and the launcher as separate
processes, talking over 127.0.0.1."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws.process import ROOT, EndpointProcess, client_environment
from localaws.rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS
from localaws.status import STATUS_PATH
from synthetic import make_video
from tests.e2e import slow_detector


def run(command: list[str], env: dict[str, str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *command], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def deploy(endpoint: EndpointProcess, folder: Path) -> Path:
    outputs = folder / "outputs.json"
    run(
        [
            str(ROOT / "scripts" / "local.py"),
            "deploy",
            "--endpoint",
            endpoint.url,
            "--data-dir",
            str(folder),
            "--outputs-file",
            str(outputs),
        ],
        endpoint.environment(),
        folder,
    )
    return outputs


def launch(endpoint: EndpointProcess, folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(ROOT / "scripts" / "launch.py"), *args], endpoint.environment(), folder, check)


def client(endpoint: EndpointProcess, service: str) -> Any:
    env = client_environment(endpoint.url)
    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def samples(seconds: float) -> int:
    """Sampled frames in a clip: one at every multiple of the interval before its end (one face each)."""
    return math.ceil(seconds * 1000 / DEFAULT_SAMPLE_INTERVAL_MS)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "a": make_video(folder / "a.mp4", seconds=2.0).path,
        "b": make_video(folder / "b.mp4", seconds=1.4).path,
    }


def test_fresh_endpoint_deploy_upload_start_notify_results_and_once_only(tmp_path, clips):
    with EndpointProcess(tmp_path / "endpoint") as endpoint:
        outputs = deploy(endpoint, tmp_path)
        first = launch(endpoint, tmp_path, str(clips["a"]), "--outputs", str(outputs))
        result = json.loads((tmp_path / "a.mp4.faces.json").read_text())
        assert result["JobStatus"] == "SUCCEEDED" and len(result["Faces"]) == samples(2.0)
        assert f"{samples(2.0)} face(s) found" in first.stdout
        again = launch(endpoint, tmp_path, str(clips["a"]), "--outputs", str(outputs), "--overwrite")
        assert "not uploaded again" in again.stdout
        assert json.loads((tmp_path / "a.mp4.faces.json").read_text())["JobId"] == result["JobId"]
        bucket = json.loads(outputs.read_text())["bucketName"]
        assert len(client(endpoint, "s3").list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_two_launchers_share_the_queue_with_strangers_on_it(tmp_path, clips):
    with EndpointProcess(tmp_path / "endpoint") as endpoint:
        outputs = deploy(endpoint, tmp_path)
        queue_url = json.loads(outputs.read_text())["queueUrl"]
        sqs = client(endpoint, "sqs")
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(
                {
                    "JobId": "0" * 64,
                    "Status": "SUCCEEDED",
                    "API": "StartFaceDetection",
                    "Timestamp": 1,
                    "Video": {"S3ObjectName": "unknown.mp4", "S3Bucket": "nobody"},
                }
            ),
        )
        sqs.send_message(QueueUrl=queue_url, MessageBody="a message that is not JSON")
        env = endpoint.environment()
        launchers = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "scripts" / "launch.py"),
                    str(clips[name]),
                    "--outputs",
                    str(outputs),
                    "--out",
                    f"{name}.json",
                    "--timeout",
                    "120",
                ],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("a", "b")
        ]
        for process in launchers:
            _, err = process.communicate(timeout=180)
            assert process.returncode == 0, err
        a, b = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("a", "b"))
        assert a["JobId"] != b["JobId"]
        assert a["VideoMetadata"]["DurationMillis"] == 2000 and b["VideoMetadata"]["DurationMillis"] == 1400
        assert len(a["Faces"]) == samples(2.0) and len(b["Faces"]) == samples(1.4)


def open_jobs(endpoint: EndpointProcess) -> list[dict[str, Any]]:
    with urllib.request.urlopen(endpoint.url + STATUS_PATH, timeout=10) as response:
        return json.loads(response.read())["Jobs"]["Open"]


def test_kill_9_mid_job_then_restart_keeps_the_stack_and_the_job_succeeds(tmp_path, clips, monkeypatch):
    """Deploy, launch one video to the end, start a long job, ``kill -9`` the endpoint mid-job, start it
    again on the same data dir: the stack, the objects (all versions) and the finished results are
    there, re-attaching finishes the interrupted job, and a new launch works without a redeploy."""
    slow = ["--detector", "tests.e2e.slow_detector:factory"]
    hold = tmp_path / "hold"  # while it exists, the endpoint's detector holds every frame
    monkeypatch.setenv(slow_detector.HOLD_FILE_VARIABLE, str(hold))
    data = tmp_path / "endpoint"
    endpoint = EndpointProcess(data, extra_args=slow).start()
    try:
        outputs = deploy(endpoint, tmp_path)
        launch(endpoint, tmp_path, str(clips["a"]), "--outputs", str(outputs))
        finished = json.loads((tmp_path / "a.mp4.faces.json").read_text())
        bucket = json.loads(outputs.read_text())["bucketName"]
        s3 = client(endpoint, "s3")
        s3.put_object(Bucket=bucket, Key="a.mp4", Body=b"a second version of the key")
        hold.touch()
        launcher = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "launch.py"), str(clips["b"]), "--outputs", str(outputs)],
            env=endpoint.environment(),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while not (jobs := open_jobs(endpoint)):
                assert launcher.poll() is None and time.monotonic() < deadline, "the long job did not start"
                time.sleep(0.2)
            # The job is held at its first frames; the wait lets a snapshot save the uploaded video (a kill -9
            # loses the changes of the last snapshot interval, and the resumed job would fail without it).
            time.sleep(2)
            versions = s3.list_object_versions(Bucket=bucket)["Versions"]
        finally:
            launcher.kill()
            launcher.wait()
    finally:
        endpoint.kill()
    interrupted = jobs[0]["JobId"]
    with EndpointProcess(data, port=endpoint.port, extra_args=slow) as restarted:
        try:
            status = run(
                [str(ROOT / "scripts" / "local.py"), "status", "--outputs-file", str(outputs)],
                restarted.environment(),
                tmp_path,
            )
            assert "5 of 5 resource(s) found" in status.stdout and "1 open" in status.stdout, status.stdout
        finally:
            hold.unlink(missing_ok=True)  # the resumed job runs at full speed now (and a clean stop is quick)
        s3 = client(restarted, "s3")
        keep = ("Key", "VersionId", "ETag", "Size")
        after = s3.list_object_versions(Bucket=bucket)["Versions"]
        assert [{k: v[k] for k in keep} for v in after] == [{k: v[k] for k in keep} for v in versions]
        assert s3.get_object(Bucket=bucket, Key="a.mp4")["Body"].read() == b"a second version of the key"
        again = client(restarted, "rekognition").get_face_detection(JobId=finished["JobId"])
        service_shape = [{"Timestamp": f["Timestamp"], "Face": f["Face"]} for f in finished["Faces"]]
        assert again["Faces"] == service_shape, "the results file adds only AppearanceIndex to each face"
        reattached = launch(
            restarted, tmp_path, str(clips["b"]), "--outputs", str(outputs), "--attach", interrupted, "--out", "b.json"
        )
        assert f"{samples(1.4)} face(s) found" in reattached.stdout
        resumed = json.loads((tmp_path / "b.json").read_text())
        assert resumed["JobId"] == interrupted and resumed["JobStatus"] == "SUCCEEDED"
        fresh = launch(
            restarted,
            tmp_path,
            str(clips["a"]),
            "--outputs",
            str(outputs),
            "--key",
            "again/a.mp4",
            "--out",
            "fresh.json",
        )
        assert f"{samples(2.0)} face(s) found" in fresh.stdout


def test_the_demo_command(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--output", str(tmp_path), "--seconds", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    faces = json.loads((tmp_path / "faces.json").read_text())
    assert faces["JobStatus"] == "SUCCEEDED" and len(faces["Faces"]) == samples(2.0)
    for picture in ("contact-sheet.png", "timeline.png"):
        assert (tmp_path / picture).read_bytes().startswith(b"\x89PNG")
    report = tmp_path / "sample.mp4.faces.html"
    assert report.read_text().count("data:image/jpeg;base64,") == len(faces["Appearances"]) == 1
    assert f"the report, to open in a browser: {report.resolve().as_uri()}" in result.stdout
    assert "local endpoint at http://127.0.0.1:" in result.stdout
    output = result.stdout + result.stderr
    assert "%|" not in output and "\r" not in output, "piped, as in CI: plain lines, no progress bar redraws"
