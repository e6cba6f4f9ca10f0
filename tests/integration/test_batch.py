"""The batch form of the launcher, and several launchers on one queue, against the local endpoint
with the project's stack deployed into it. The emulator's open-job limit is lowered to 3 (as
``--max-open-jobs 3`` does), so the batches meet LimitExceeded and must wait, not fail."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from launcher.batch.ledger import Ledger
from launcher.cli import main
from launcher.jobs.errors import ExitCode
from launcher.jobs.notifications import parse_completion
from synthetic import make_video
from tests.support.aws import ROOT, drain, read_json, unique, upload
from tests.support.ledger import ledger_job_ids

SLOW_WIDTH = 320  # the videos a SelectiveGate holds


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Very short videos, each its own bytes: with a face, without, slow ones (held by a SelectiveGate)."""
    folder = tmp_path_factory.mktemp("clips")
    return {
        "face": make_video(folder / "face.mp4", seconds=0.4).path,
        "face2": make_video(folder / "face2.mp4", seconds=0.6).path,
        "face3": make_video(folder / "face3.mp4", seconds=0.2).path,
        "empty2": make_video(folder / "empty2.mp4", seconds=0.4, with_face=False).path,
        "empty": make_video(folder / "empty.mp4", seconds=0.2, with_face=False).path,
        "slow": make_video(folder / "slow.mp4", seconds=0.2, width=SLOW_WIDTH, height=360, with_face=False).path,
        "slow2": make_video(folder / "slow2.mp4", seconds=0.4, width=SLOW_WIDTH, height=360, with_face=False).path,
    }


@pytest.fixture
def low_quota(endpoint, monkeypatch):
    """The emulator run as with ``--max-open-jobs 3``, once earlier tests' jobs are over."""
    backend = endpoint.rekognition
    wait_until(lambda: backend.store.count_open() == 0)
    monkeypatch.setattr(backend, "settings", dataclasses.replace(backend.settings, max_open_jobs=3))
    return backend


class SelectiveGate:
    """Holds only the narrow videos' jobs until the gate opens; detects faces in the others."""

    def __init__(self, detector) -> None:
        self.detector, self.gate = detector, threading.Event()

    def detect(self, rgb):
        if rgb.shape[1] == SLOW_WIDTH:
            self.gate.wait(timeout=60)
            return []
        return self.detector.detect(rgb)


@pytest.fixture
def selective_gate(endpoint, monkeypatch):
    backend = endpoint.rekognition
    gate = SelectiveGate(backend._face_detector())
    monkeypatch.setattr(backend, "_detector", gate)
    yield gate
    gate.gate.set()


def batch(stack, *args: str) -> int:
    return main([*args, "--outputs", str(stack["file"])])


def lines(out_dir: Path) -> dict[str, dict[str, Any]]:
    """batch.jsonl, by the video's file name."""
    entries = [json.loads(line) for line in (out_dir / "batch.jsonl").read_text().splitlines()]
    by_name = {entry["video"].rsplit("/", 1)[-1]: entry for entry in entries}
    assert len(by_name) == len(entries), "one line per video"
    return by_name


def jobs_of(endpoint, job_ids) -> list:
    return [endpoint.rekognition.store.get(job_id) for job_id in job_ids]


def most_open_at_once(jobs) -> int:
    """The largest number of these jobs open at the same moment, from their start and end times."""
    edges = sorted([(job.created_ms, 1) for job in jobs] + [(job.finished_ms, -1) for job in jobs])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def completions_left(aws, outputs: dict[str, str]) -> tuple[set[str], set[str]]:
    """The JobIds of the completions on the queue and on the dead-letter queue (both drained)."""

    def job_ids(messages: list[dict]) -> set[str]:
        return {completion.job_id for m in messages if (completion := parse_completion(m["Body"]))}

    return job_ids(drain(aws, outputs["queueUrl"])), job_ids(drain(aws, outputs["deadLetterQueueUrl"]))


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


# -- batches of a folder and of a prefix ------------------------------------------------------------


def test_a_folder_with_a_corrupt_video_under_a_low_quota(
    stack, aws, aws_env, workdir, clips, low_quota, endpoint, capsys
):
    folder = workdir / "videos"
    for name, clip in {"a": "face", "b": "empty", "c": "face2", "d": "empty2", "e": "face3", "f": "face"}.items():
        copy(clips[clip], folder / f"{name}.mp4")
    (folder / "broken.mp4").write_bytes(clips["face"].read_bytes()[:1500])
    (folder / "notes.txt").write_text("not a video, and not looked at")
    jobs_before = endpoint.rekognition.store.count()
    code = batch(stack, str(folder), "--max-jobs", "2", "--retry-wait", "0.2")
    assert code == ExitCode.BATCH_INCOMPLETE
    out_dir = workdir / "faces-results"
    entries = lines(out_dir)
    assert set(entries) == {"a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4", "f.mp4", "broken.mp4"}
    broken = entries.pop("broken.mp4")
    assert broken["status"] == "ERROR" and broken["jobId"] is None
    assert "not a readable video container" in broken["error"]
    for name, entry in entries.items():
        assert entry["status"] == "SUCCEEDED" and entry["error"] is None, entry
        result = read_json(out_dir / f"{name}.faces.json")
        assert result["JobId"] == entry["jobId"] and len(result["Faces"]) == entry["faces"]
        assert entry["results"] == str(out_dir / f"{name}.faces.json")
    assert entries["a.mp4"]["faces"] > 0 and entries["b.mp4"]["faces"] == 0
    assert entries["f.mp4"]["jobId"] == entries["a.mp4"]["jobId"], "the same bytes: one upload, one job"
    jobs = jobs_of(endpoint, {entry["jobId"] for entry in entries.values()})
    assert endpoint.rekognition.store.count() == jobs_before + 5, "one job per distinct good video"
    assert most_open_at_once(jobs) <= 2, "--max-jobs 2"
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("7 video(s): 6 succeeded, 0 skipped, 0 failed, 1 error;")
    assert list(out_dir.glob(".*partial")) == []
    queued, dead = completions_left(aws, stack["outputs"])
    assert not {entry["jobId"] for entry in entries.values()} & (queued | dead), "every completion deleted"


def test_a_prefix_with_a_corrupt_object_and_a_missing_key(stack, aws, aws_env, workdir, clips, low_quota, endpoint):
    bucket = stack["outputs"]["bucketName"]
    prefix = unique("incoming")
    for name in ("one", "two", "three", "four"):
        upload(aws, bucket, clips["face" if name == "one" else "empty"], key=f"{prefix}/{name}.MP4")  # 4 keys: 4 jobs
    upload(aws, bucket, clips["face"], key=f"{prefix}/deeper/five.mov")
    corrupt = copy(clips["face"], workdir / "corrupt.mp4")
    corrupt.write_bytes(corrupt.read_bytes()[:1500])
    upload(aws, bucket, corrupt, key=f"{prefix}/corrupt.mp4")
    upload(aws, bucket, workdir / "corrupt.mp4", key=f"{prefix}/readme.txt")
    missing = f"s3://{bucket}/{prefix}-elsewhere/missing.mp4"
    # --max-jobs above the account's quota of 3: LimitExceeded delays videos, never fails them; so
    # does throttling.
    endpoint.rekognition.faults.inject("StartFaceDetection", "ThrottlingException", 2)
    code = batch(stack, f"s3://{bucket}/{prefix}/", missing, "--out-dir", "out", "--retry-wait", "0.1")
    assert endpoint.rekognition.faults.pending() == {}, "the batch met the throttling"
    assert code == ExitCode.BATCH_INCOMPLETE
    entries = lines(workdir / "out")
    assert set(entries) == {"one.MP4", "two.MP4", "three.MP4", "four.MP4", "five.mov", "corrupt.mp4", "missing.mp4"}
    assert entries["missing.mp4"]["status"] == "ERROR" and "does not exist" in entries["missing.mp4"]["error"]
    assert entries["corrupt.mp4"]["status"] == "FAILED" and "Unsupported video" in entries["corrupt.mp4"]["error"]
    assert entries["corrupt.mp4"]["jobId"]
    for name in ("one.MP4", "two.MP4", "three.MP4", "four.MP4", "five.mov"):
        assert entries[name]["status"] == "SUCCEEDED", entries[name]
        result = read_json(workdir / "out" / f"{name}.faces.json")
        assert result["Video"]["S3Object"]["Version"], "the version current at the start is pinned"
    assert entries["one.MP4"]["faces"] > 0 and entries["five.mov"]["faces"] > 0
    jobs = jobs_of(endpoint, [entry["jobId"] for entry in entries.values() if entry["jobId"]])
    assert len(jobs) == 6 and most_open_at_once(jobs) <= 3


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_every_format_and_distinct_names_for_the_same_file_name(stack, aws_env, workdir, clips, fmt):
    first = copy(clips["face"], workdir / "day1" / "clip.mp4")
    second = copy(clips["face2"], workdir / "day2" / "clip.mp4")
    copy(clips["empty"], workdir / "day2" / "deeper" / "other.mov")
    code = batch(stack, str(workdir / "day1"), str(workdir / "day2"), "--recursive", "--format", fmt, "--report")
    assert code == ExitCode.OK
    out_dir = workdir / "faces-results"
    # --report: DIR/index.html, a section per video, a lane and a thumbnail per appearance.
    page = (out_dir / "index.html").read_text()
    lanes = page.count('<div class="lane"')
    assert page.count('<section class="video"') == 3 and len(re.findall(r'href="#video-\d+"', page)) == 3
    assert lanes >= 2 and page.count("data:image/jpeg;base64,") == lanes
    if fmt == "json":
        results = [Path(json.loads(line)["results"]) for line in (out_dir / "batch.jsonl").read_text().splitlines()]
        assert lanes == sum(len(read_json(path)["Appearances"]) for path in results)
    entries = [json.loads(line) for line in (out_dir / "batch.jsonl").read_text().splitlines()]
    assert len(entries) == 3 and {entry["status"] for entry in entries} == {"SUCCEEDED"}
    by_video = {entry["video"]: entry for entry in entries}
    names = {Path(by_video[str(path)]["results"]).name for path in (first, second)}
    assert len(names) == 2 and all(name.startswith("clip-") and name.endswith(f".mp4.faces.{fmt}") for name in names)
    for entry in entries:
        results = Path(entry["results"])
        if fmt == "json":
            assert len(read_json(results)["Faces"]) == entry["faces"]
        elif fmt == "jsonl":
            assert len(results.read_text().splitlines()) == entry["faces"]
        else:
            assert len(list(csv.DictReader(results.open()))) == entry["faces"]
    assert by_video[str(workdir / "day2" / "deeper" / "other.mov")]["faces"] == 0
    assert by_video[str(first)]["faces"] > 0


# -- stopped and resumed ----------------------------------------------------------------------------


def start_cli(stack, workdir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "launch.py"), *args, "--outputs", str(stack["file"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=workdir,
    )


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stopped_batch(stack, workdir, clips, tag: str, stop: signal.Signals) -> tuple[Path, dict, int, str]:
    """A batch, one job at a time, of 2 quick videos and 2 slow ones (jobs of their own: ``tag``),
    stopped by ``stop`` once the quick ones are written and the first slow one has started."""
    folder = workdir / "videos"
    copy(clips["face"], folder / "a-quick.mp4")
    copy(clips["empty"], folder / "b-quick.mp4")
    copy(clips["slow"], folder / "c-slow.mp4")
    copy(clips["slow2"], folder / "d-slow.mp4")
    out_dir = workdir / "faces-results"
    process = start_cli(stack, workdir, str(folder), "--max-jobs", "1", "--job-tag", tag)
    try:
        wait_until(lambda: len(ledger_job_ids(out_dir)) == 3)
        wait_until(
            lambda: (out_dir / "a-quick.mp4.faces.json").exists() and (out_dir / "b-quick.mp4.faces.json").exists()
        )
        wait_until(lambda: len((out_dir / "batch.jsonl").read_text().splitlines()) == 2)
        written = {name: (out_dir / name).stat() for name in ("a-quick.mp4.faces.json", "b-quick.mp4.faces.json")}
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    finally:  # a launcher left running would start jobs in the next tests on this endpoint
        if process.poll() is None:
            process.kill()
            process.communicate()
    return out_dir, written, process.returncode, err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_stopped_batch_resumes_without_a_second_job_or_fetch(
    stack, aws_env, workdir, clips, endpoint, selective_gate, stop
):
    jobs_before, tag = endpoint.rekognition.store.count(), unique("stopped")
    out_dir, written, returncode, _ = stopped_batch(stack, workdir, clips, tag, stop)
    assert returncode == (ExitCode.INTERRUPTED if stop == signal.SIGINT else -signal.SIGKILL)
    started = set(ledger_job_ids(out_dir))
    assert len(started) == 3 and endpoint.rekognition.store.count() == jobs_before + 3
    selective_gate.gate.set()
    assert batch(stack, "videos", "--max-jobs", "1", "--job-tag", tag) == ExitCode.OK
    entries = lines(out_dir)
    assert {name: entry["status"] for name, entry in entries.items()} == {
        "a-quick.mp4": "SKIPPED",
        "b-quick.mp4": "SKIPPED",
        "c-slow.mp4": "SUCCEEDED",
        "d-slow.mp4": "SUCCEEDED",
    }
    assert entries["c-slow.mp4"]["jobId"] in started, "the started job was re-attached"
    assert entries["d-slow.mp4"]["jobId"] not in started
    assert endpoint.rekognition.store.count() == jobs_before + 4, "no second job"
    for name, stat in written.items():
        now = (out_dir / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns), "not fetched again"
    assert entries["a-quick.mp4"]["faces"] > 0 and entries["a-quick.mp4"]["results"]
    assert list(out_dir.glob(".*partial")) == []
    # Once everything is written, a run calls Rekognition not once.
    endpoint.rekognition.faults.inject("StartFaceDetection", "AccessDeniedException", 1)
    endpoint.rekognition.faults.inject("GetFaceDetection", "AccessDeniedException", 1)
    try:
        assert batch(stack, "videos", "--job-tag", tag) == ExitCode.OK
        assert endpoint.rekognition.faults.pending() == {"StartFaceDetection": 1, "GetFaceDetection": 1}
    finally:
        endpoint.rekognition.faults.clear()
    assert {entry["status"] for entry in lines(out_dir).values()} == {"SKIPPED"}


def test_a_stop_between_a_start_and_its_record_starts_no_second_job(
    stack, aws_env, workdir, clips, endpoint, monkeypatch
):
    """Stopped after StartFaceDetection answered but before the ledger had the JobId (``kill -9`` at
    the worst moment): the next run starts the video again with the token saved before the start,
    and the service answers with the job already started."""
    copy(clips["face"], workdir / "videos" / "a.mp4")
    copy(clips["empty"], workdir / "videos" / "b.mp4")
    tag, jobs_before = unique("unrecorded"), endpoint.rekognition.store.count()
    save, lost = Ledger.save, []

    def stop_before_the_job_id(ledger: Ledger, entry) -> None:
        if entry.job_id:
            lost.append((entry.video, entry.job_id))
            raise KeyboardInterrupt
        save(ledger, entry)

    monkeypatch.setattr(Ledger, "save", stop_before_the_job_id)
    assert batch(stack, "videos", "--max-jobs", "1", "--job-tag", tag) == ExitCode.INTERRUPTED
    assert ledger_job_ids(workdir / "faces-results") == [] and len(lost) == 1
    assert endpoint.rekognition.store.count() == jobs_before + 1
    monkeypatch.setattr(Ledger, "save", save)
    assert batch(stack, "videos", "--max-jobs", "1", "--job-tag", tag) == ExitCode.OK
    entries = lines(workdir / "faces-results")
    ((video, job_id),) = lost
    assert entries[Path(video).name]["jobId"] == job_id, "the same job, re-attached"
    assert endpoint.rekognition.store.count() == jobs_before + 2, "one job per video"


def test_ctrl_c_says_how_many_jobs_keep_running(stack, aws_env, workdir, clips, endpoint, selective_gate):
    _, _, _, err = stopped_batch(stack, workdir, clips, unique("interrupted"), signal.SIGINT)
    assert "interrupted: 1 job(s) keep running" in err and "Run the same command again" in err
    assert "Traceback" not in err


# -- jobs outside the batch -------------------------------------------------------------------------


def test_limit_exceeded_from_jobs_outside_the_batch_delays_it(
    stack, aws, aws_env, workdir, clips, low_quota, gate, caplog
):
    outputs = stack["outputs"]
    s3_object = upload(aws, outputs["bucketName"], clips["empty"])
    outside = [
        aws("rekognition").start_face_detection(
            Video={"S3Object": s3_object},
            NotificationChannel={"SNSTopicArn": outputs["topicArn"], "RoleArn": outputs["roleArn"]},
            JobTag=f"outside-{index}",
        )["JobId"]
        for index in range(3)
    ]
    copy(clips["face"], workdir / "videos" / "x.mp4")
    copy(clips["face2"], workdir / "videos" / "y.mp4")
    result: dict[str, int] = {}
    tag = unique("limited")  # jobs of their own, not earlier tests' jobs on the same bytes
    runner = threading.Thread(
        target=lambda: result.update(code=batch(stack, "videos", "--retry-wait", "0.2", "--job-tag", tag))
    )
    runner.start()
    wait_until(lambda: "Rekognition is busy" in caplog.text)
    time.sleep(1.0)
    assert runner.is_alive() and ledger_job_ids(workdir / "faces-results") == [], "nothing started while full"
    gate.gate.set()
    runner.join(timeout=60)
    assert result == {"code": ExitCode.OK}
    assert "LIMIT_EXCEEDED" in caplog.text
    entries = lines(workdir / "faces-results")
    assert {entry["status"] for entry in entries.values()} == {"SUCCEEDED"}
    assert not set(outside) & {entry["jobId"] for entry in entries.values()}
    queued, dead = completions_left(aws, outputs)
    assert set(outside) <= queued, "the other jobs' completions are left for their owners"
    assert not {entry["jobId"] for entry in entries.values()} & (queued | dead)


# -- bad input: one line, nothing started ----------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["empty-folder"], "folder empty-folder has no .mp4/.mov/.avi videos"),
        (["videos", "--max-jobs", "0"], "--max-jobs must be at least 1"),
        (["videos", "--out-dir", "a-file/results"], "cannot use --out-dir a-file/results"),
        (["videos", "--out", "x.json"], "--out applies to one video"),
        (["videos", "s3:/bucket/key.mp4"], "is not an S3 video URI"),
        # the user's bucket, not the stack's: not "run local.py deploy again" (exit 21)
        (
            ["s3://no-such-bucket/in/"],
            "s3://no-such-bucket/in/: the bucket no-such-bucket does not exist: check its name",
        ),
    ],
)
def test_bad_batch_input_is_one_line_and_starts_nothing(
    stack, aws_env, workdir, clips, endpoint, capsys, args, message
):
    copy(clips["face"], workdir / "videos" / "clip.mp4")
    (workdir / "empty-folder").mkdir()
    (workdir / "a-file").write_text("")
    jobs = endpoint.rekognition.store.count()
    assert batch(stack, *args) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert endpoint.rekognition.store.count() == jobs
    assert not (workdir / "faces-results").exists()


def test_a_prefix_with_no_videos_starts_nothing(stack, aws, aws_env, workdir, clips, endpoint, capsys):
    bucket = stack["outputs"]["bucketName"]
    prefix = unique("nothing-here")
    aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/notes.txt", Body=b"no videos")
    jobs = endpoint.rekognition.store.count()
    assert batch(stack, f"s3://{bucket}/{prefix}/") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err == f"error: s3://{bucket}/{prefix}/ holds no .mp4/.mov/.avi videos: check the bucket and the prefix"
    assert endpoint.rekognition.store.count() == jobs
    assert not (workdir / "faces-results").exists()
