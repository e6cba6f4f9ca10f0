"""Many launchers on one stack's completion queue, each a process of its own (as people run them),
and a batch among them: each single launcher finishes within seconds of its job's end, the batch's
own consumer takes its completions, and the dead-letter queue receives only what nobody can consume
(a malformed message, a completion whose owner is gone), never a finished job's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher.batch.log import read_batch_log
from launcher.jobs.notifications import FIRST_QUEUED, HANDOVER_SECONDS, parse_completion
from synthetic import make_video
from tests.support.aws import ROOT, drain, read_json, unique, upload

LAUNCHERS = 12
ROUNDS = 2
BATCH_VIDEOS = 3  # in the second round, a batch of its own videos (distinct bytes: a job each)
SOON_SECONDS = 20.0  # "within seconds", with 12 processes starting at once on two cores; the grace is 60 s


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("shared") / "empty.mp4", seconds=0.2, with_face=False).path


def run_round(stack, uri: str, folder: Path, tag: str, logs: dict[str, str]) -> list[tuple[str, float]]:
    """LAUNCHERS launchers at once, one job each; their job ids and when each process ended (each
    one's --verbose log into ``logs``, by job id, for the assertion messages)."""
    command = [sys.executable, str(ROOT / "scripts" / "launch.py"), uri, "--outputs", str(stack["file"])]
    processes = [
        subprocess.Popen(
            [*command, "--verbose", "--job-tag", f"{tag}-{index}", "--out", str(folder / f"{tag}-{index}.json")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(LAUNCHERS)
    ]
    ended: dict[int, float] = {}
    deadline = time.monotonic() + 180
    while len(ended) < LAUNCHERS:
        assert time.monotonic() < deadline, "launchers still running after 3 minutes"
        for index, process in enumerate(processes):
            if index not in ended and process.poll() is not None:
                ended[index] = time.time()
        time.sleep(0.05)
    errors = [process.stderr.read() if process.stderr else "" for process in processes]
    for process, error in zip(processes, errors, strict=True):
        assert process.returncode == 0, error
    job_ids = [read_json(folder / f"{tag}-{index}.json")["JobId"] for index in range(LAUNCHERS)]
    logs.update(zip(job_ids, errors, strict=True))
    return [(job_id, ended[index]) for index, job_id in enumerate(job_ids)]


def queued(sqs, url: str) -> int:
    """Messages on the queue, visible or held."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def bodies(messages: list[dict]) -> list[str]:
    return [message["Body"] for message in messages]


def test_concurrent_launchers_leave_nothing_in_the_dead_letter_queue(stack, aws, aws_env, workdir, clip, endpoint):
    outputs = stack["outputs"]
    drain(aws, outputs["queueUrl"])
    drain(aws, outputs["deadLetterQueueUrl"])
    s3_object = upload(aws, outputs["bucketName"], clip)
    uri = f"s3://{s3_object['Bucket']}/{s3_object['Name']}"
    sqs = aws("sqs")
    # What nobody can consume: a malformed message, and a completion for a job nobody waits for that
    # has been handed round for longer than the handover window (its owner is gone).
    malformed = "this is not a completion"
    orphan = json.dumps({"JobId": "0" * 64, "Status": "SUCCEEDED", "API": "StartFaceDetection", "Timestamp": 1})
    long_ago = int((time.time() - 2 * HANDOVER_SECONDS) * 1000)
    sqs.send_message(QueueUrl=outputs["queueUrl"], MessageBody=malformed)
    sqs.send_message(
        QueueUrl=outputs["queueUrl"],
        MessageBody=orphan,
        MessageAttributes={FIRST_QUEUED: {"DataType": "Number", "StringValue": str(long_ago)}},
    )
    prefix = unique("batch")
    for index in range(BATCH_VIDEOS):
        video = make_video(workdir / f"batch-{index}.mp4", seconds=0.2 + 0.1 * index, with_face=False).path
        upload(aws, outputs["bucketName"], video, key=f"{prefix}/{index}.mp4")
    late, logs = [], {}
    for round_ in range(ROUNDS):
        batch = None
        if round_ == 1:
            command = [sys.executable, str(ROOT / "scripts" / "launch.py"), f"s3://{outputs['bucketName']}/{prefix}/"]
            command += ["--outputs", str(stack["file"]), "--out-dir", str(workdir / "batch"), "--quiet"]
            batch = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for job_id, ended in run_round(stack, uri, workdir, unique(f"round{round_}"), logs):
            late.append(ended - endpoint.rekognition.store.get(job_id).finished_ms / 1000)
        if batch is not None:
            _, error = batch.communicate(timeout=120)
            assert batch.returncode == 0, error
    batch_jobs = {entry["jobId"] for entry in read_batch_log(workdir / "batch")}
    assert len(batch_jobs) == BATCH_VIDEOS
    print(f"launchers ended {min(late):.1f}-{max(late):.1f} s after their jobs")
    assert max(late) < SOON_SECONDS, f"a launcher ended {max(late):.1f} s after its job (all: {sorted(late)})"

    # The launchers received the two unconsumable messages as they waited; finish their receives
    # (as any other consumer of the queue would) until SQS has moved everything it will, then look at
    # both queues. (1 s polls: the queue's own wait is 20 s.)
    deadline = time.monotonic() + 60
    while queued(sqs, outputs["queueUrl"]) and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=outputs["queueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            sqs.change_message_visibility(
                QueueUrl=outputs["queueUrl"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    dead = bodies(drain(aws, outputs["deadLetterQueueUrl"]))
    left = bodies(drain(aws, outputs["queueUrl"]))
    stale = [c.job_id for body in dead + left if (c := parse_completion(body)) and c.job_id in {*logs, *batch_jobs}]
    assert stale == [], f"finished jobs' completions left behind: {stale}; the launchers said:\n" + "\n".join(
        f"--- {job_id}\n{log}" for job_id, log in logs.items() if log.strip()
    )
    assert sorted(dead) == sorted([malformed, orphan]), "only what nobody could consume"
