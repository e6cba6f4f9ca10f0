"""A batch always ends: faults injected through a local TCP proxy that drops connections (tests/support/
proxy.py), names no service takes, and bugs in the workers. Each video ends SUCCEEDED or in ERROR with
its message; none is left waiting until --timeout."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import launcher.batch.scheduler
import launcher.people.launch
from launcher.batch.scheduler import Batch
from launcher.cli import main
from launcher.jobs.errors import ExitCode
from synthetic import make_video
from tests.support.ledger import ledger_job_ids
from tests.support.proxy import DroppingProxy, stand_in_for_the_endpoint

START = b"RekognitionService.StartFaceDetection"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("fault-clips")
    return [make_video(folder / f"fault{index}.mp4", seconds=0.2 + index / 10).path for index in range(3)]


@pytest.fixture
def proxy(endpoint, aws_env, monkeypatch):
    """The endpoint behind a dropping proxy: AWS_ENDPOINT_URL names the proxy."""
    port = int(endpoint.url.rsplit(":", 1)[1])
    with DroppingProxy(port) as running:
        stand_in_for_the_endpoint(running, monkeypatch)
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
        yield running


def run(stack, out_dir: Path, *videos: str, extra: tuple[str, ...] = ()) -> int:
    # A short --timeout: a batch that hangs fails the test instead of holding it for 6 hours.
    return main([*videos, "--outputs", str(stack["file"]), "--out-dir", str(out_dir), "--timeout", "120", *extra])


def ended(out_dir: Path) -> dict[str, dict[str, Any]]:
    return {line["name"]: line for line in map(json.loads, (out_dir / "batch.jsonl").read_text().splitlines())}


def job_count(endpoint) -> int:
    return endpoint.rekognition.store.count()


def test_two_dropped_start_connections_in_a_row_are_tried_again(stack, proxy, workdir, clips, endpoint, capsys):
    proxy.drop(START, 2)  # one video: its start's first two attempts are dropped
    before = job_count(endpoint)
    assert run(stack, workdir / "out", str(clips[0])) == ExitCode.OK
    assert proxy.dropped[START] == 2 and proxy.seen[START] == 3
    assert [line["status"] for line in ended(workdir / "out").values()] == ["SUCCEEDED"]
    assert job_count(endpoint) == before + 1


def test_dropped_starts_among_many_videos(stack, proxy, workdir, clips, endpoint):
    proxy.drop(START, 4)
    before = job_count(endpoint)
    assert run(stack, workdir / "out", *map(str, clips)) == ExitCode.OK
    assert proxy.dropped[START] == 4
    assert {line["status"] for line in ended(workdir / "out").values()} == {"SUCCEEDED"}
    assert job_count(endpoint) - before <= len(clips), "no second job for a video (a clip may have run before)"


def test_a_start_whose_answer_is_lost_is_tried_again_with_its_token_no_second_job(
    stack, proxy, workdir, clips, endpoint
):
    proxy.drop(START, 1, after_request=True)  # the endpoint starts the job; the launcher never hears so
    before = job_count(endpoint)
    video = workdir / "lost-answer.mp4"
    video.write_bytes(clips[0].read_bytes() + b"\0")  # its own bytes: a new job, not one already known
    assert run(stack, workdir / "out", str(video), str(clips[1])) == ExitCode.OK
    assert proxy.dropped[START] == 1
    assert job_count(endpoint) - before <= 2, "the retry with the same token returned the job already started"
    assert ended(workdir / "out")["lost-answer.mp4"]["status"] == "SUCCEEDED"


def test_starts_that_never_get_through_end_their_videos_in_error_and_the_batch_ends(
    stack, proxy, workdir, clips, monkeypatch, capsys
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    proxy.drop(START, 1000)
    assert run(stack, workdir / "out", *map(str, clips)) == ExitCode.BATCH_INCOMPLETE
    assert proxy.dropped[START] == 3 * len(clips), "each start tried AWS_MAX_ATTEMPTS times"
    lines = ended(workdir / "out")
    assert {line["status"] for line in lines.values()} == {"ERROR"}
    assert all("Connection was closed" in line["error"] for line in lines.values())
    out = capsys.readouterr().out
    # Not on a terminal: one plain line per video as it ends, with its name.
    for clip in clips:
        assert any(row.startswith(f"{clip.name}: ERROR, ") for row in out.splitlines())


def test_a_key_with_a_nul_byte_ends_in_error_and_the_others_go_on(stack, aws_env, workdir, clips, capsys):
    bucket = stack["outputs"]["bucketName"]
    videos = (f"s3://{bucket}/bad%00name.mp4", str(clips[0]))
    assert run(stack, workdir / "out", *videos, extra=("--quiet",)) == ExitCode.BATCH_INCOMPLETE
    out, err = capsys.readouterr()
    assert out == "", "--quiet: errors only"
    assert err.splitlines() == [
        "bad\\x00name.mp4: ERROR, video 'bad\\x00name.mp4' contains a NUL byte, which no file name or S3 key the "
        "launcher writes may hold"
    ]
    lines = ended(workdir / "out")
    assert lines["bad\0name.mp4"]["status"] == "ERROR" and "NUL" in lines["bad\0name.mp4"]["error"]
    assert lines[clips[0].name]["status"] == "SUCCEEDED"


def test_a_bug_in_a_worker_ends_that_video_in_error_and_the_batch_goes_on(stack, aws_env, workdir, clips, monkeypatch):
    real = launcher.people.launch.write_results

    def buggy(pages, out, fmt, *args, **kwargs):
        if out.name.startswith(clips[1].name):
            raise RuntimeError("a bug in the writer")
        return real(pages, out, fmt, *args, **kwargs)

    monkeypatch.setattr(launcher.people.launch, "write_results", buggy)
    assert run(stack, workdir / "out", *map(str, clips)) == ExitCode.BATCH_INCOMPLETE
    lines = ended(workdir / "out")
    assert lines[clips[1].name] == {
        **lines[clips[1].name],
        "status": "ERROR",
        "error": "RuntimeError: a bug in the writer",
    }
    assert [lines[clip.name]["status"] for clip in (clips[0], clips[2])] == ["SUCCEEDED", "SUCCEEDED"]


def test_the_watchdog_ends_a_video_nothing_can_move(stack, aws_env, workdir, clips, monkeypatch):
    real = Batch._fetch

    def lost(self, video, job_id, status):  # a bug: returns without a word about the video
        if video.entry.name != clips[0].name:
            real(self, video, job_id, status)

    monkeypatch.setattr(Batch, "_fetch", lost)
    assert run(stack, workdir / "out", *map(str, clips[:2])) == ExitCode.BATCH_INCOMPLETE
    lines = ended(workdir / "out")
    assert lines[clips[0].name]["status"] == "ERROR" and "nothing could move it" in lines[clips[0].name]["error"]
    assert lines[clips[1].name]["status"] == "SUCCEEDED"


def test_a_batch_whose_endpoint_disappears_ends_in_one_line(
    stack, proxy, workdir, clips, endpoint, gate, monkeypatch, capsys
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setattr(launcher.batch.scheduler, "UNREACHABLE_SECONDS", 3.0)
    before = job_count(endpoint)
    video = workdir / "held.mp4"
    video.write_bytes(clips[2].read_bytes() + b"\0\0")  # its own bytes: a new job, held open by the gate

    def close_once_started() -> None:
        # Once the launcher has the job's ID: closed between the job's start and its answer, the start
        # would end the video in error instead (test_starts_that_never_get_through_...).
        deadline = time.monotonic() + 60
        while not ledger_job_ids(workdir / "out") and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.close()  # nothing answers at AWS_ENDPOINT_URL any more

    closer = threading.Thread(target=close_once_started, daemon=True)
    closer.start()
    code = run(stack, workdir / "out", str(video), extra=("--grace", "0"))
    closer.join()
    assert code == ExitCode.AWS_ERROR
    assert job_count(endpoint) == before + 1, "one job, the one left running"
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: AWS has not answered for 3 s (") and "1 job(s) keep running" in err[-1]
    assert "Traceback" not in "\n".join(err)
