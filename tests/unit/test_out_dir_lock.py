"""One batch at a time in an --out-dir: a second one is refused in one line, before it touches the
folder; the lock is the kernel's (flock), so a batch killed with SIGKILL leaves nothing stuck."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.batch.scheduler import LOCK_NAME, OutDirLock
from launcher.cli import main
from launcher.jobs.errors import ExitCode, LauncherError

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from launcher.batch.scheduler import OutDirLock
with OutDirLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the folder's lock, as a running batch does."""
    folder = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    yield folder, process
    process.kill()
    process.wait()


def test_a_second_lock_on_a_busy_folder_is_refused_and_a_kill_9_frees_it(holder):
    folder, process = holder
    with pytest.raises(LauncherError, match="another batch is writing into") as refused:
        OutDirLock(folder).__enter__()
    assert refused.value.exit_code == ExitCode.BAD_INPUT
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with OutDirLock(folder):  # nothing left stuck
        assert (folder / LOCK_NAME).exists()


def test_a_second_batch_into_a_busy_folder_is_refused_in_one_line(holder, tmp_path, monkeypatch, capsys):
    folder, _ = holder
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"")
    (folder / "batch.jsonl").write_text('{"kept": true}\n')
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "bucketName": "b",
                "topicArn": "arn:aws:sns:us-east-1:123456789012:AmazonRekognition-t",
                "roleArn": "arn:aws:iam::123456789012:role/r",
                "queueUrl": "http://127.0.0.1:1/123456789012/q",
                "region": "us-east-1",
            }
        )
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code = main([str(videos), "--outputs", str(outputs), "--out-dir", str(folder)])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: another batch is writing into")
    assert (folder / "batch.jsonl").read_text() == '{"kept": true}\n', "the running batch's log untouched"


def test_the_lock_is_released_when_the_batch_ends(tmp_path):
    with OutDirLock(tmp_path / "out"):
        pass
    with OutDirLock(tmp_path / "out"):
        pass
