"""The launcher as people use it, against the local endpoint: --out -, --json, a results file that
exists, the region of the stack, the endpoint gone mid-wait, and names of any bytes and length."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import launcher.people.launch
from launcher.cli import main, python
from launcher.jobs.errors import ExitCode
from localaws.rekognition.models import DEFAULT_SAMPLE_INTERVAL_MS
from tests.support.aws import REGION, ROOT, own_copy, read_json, unique
from tests.support.proxy import DroppingProxy, stand_in_for_the_endpoint


def launch(stack, *args: str) -> int:
    return main([*args, "--outputs", str(stack["file"])])


def job_count(endpoint) -> int:
    return endpoint.rekognition.store.count()


FACE_CLIP_SAMPLES = math.ceil(2000 / DEFAULT_SAMPLE_INTERVAL_MS)  # the 2 s face clip: one face per sample


@pytest.fixture
def clip(workdir, videos) -> Path:
    return own_copy(videos["face"].path, workdir / "clip.mp4")


def test_out_dash_writes_the_results_to_standard_output_and_the_notes_elsewhere(stack, aws_env, clip, capsys):
    assert launch(stack, clip.name, "--out", "-") == ExitCode.OK
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["JobStatus"] == "SUCCEEDED" and len(document["Faces"]) == FACE_CLIP_SAMPLES
    assert "results written to standard output" in err and not Path("-").exists()


def test_json_prints_one_machine_readable_summary(stack, aws_env, clip, capsys):
    assert launch(stack, clip.name, "--json", "--quiet") == ExitCode.OK
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["exitCode"] == 0 and summary["faces"] == FACE_CLIP_SAMPLES
    assert summary["results"] == "clip.mp4.faces.json"
    assert read_json(Path(summary["results"]))["JobId"] == summary["jobId"]
    assert err == ""


def test_an_existing_results_file_is_refused_before_any_job_unless_overwrite(stack, aws_env, clip, endpoint, capsys):
    Path("clip.mp4.faces.json").write_text("mine")
    before = job_count(endpoint)
    assert launch(stack, clip.name) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err.strip() == (
        "error: clip.mp4.faces.json exists: pass --overwrite to replace it, or --out another file"
    )
    assert job_count(endpoint) == before and Path("clip.mp4.faces.json").read_text() == "mine"
    assert launch(stack, clip.name, "--overwrite") == ExitCode.OK
    assert read_json(Path("clip.mp4.faces.json"))["JobStatus"] == "SUCCEEDED"


def test_a_client_region_other_than_the_stacks_is_refused_before_any_job(
    stack, aws_env, clip, endpoint, monkeypatch, capsys
):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    before = job_count(endpoint)
    assert launch(stack, clip.name) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err.strip() == (
        f"error: the stack is in {REGION} but the AWS region here is eu-west-3 (from --region, AWS_DEFAULT_REGION "
        f"or the profile): pass --region {REGION}, or unset AWS_DEFAULT_REGION"
    )
    assert job_count(endpoint) == before
    assert launch(stack, clip.name, "--region", REGION) == ExitCode.OK, "--region wins, as in the AWS CLI"


def test_the_endpoint_gone_mid_wait_prints_the_reattach_command(
    stack, endpoint, aws_env, clip, gate, monkeypatch, capsys
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    port = int(endpoint.url.rsplit(":", 1)[1])
    before = job_count(endpoint)
    with DroppingProxy(port) as proxy:
        stand_in_for_the_endpoint(proxy, monkeypatch)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        closer = threading.Thread(target=lambda: wait_then_close(endpoint, before, proxy), daemon=True)
        closer.start()
        code = launch(stack, clip.name, "--grace", "0", "--job-tag", unique("gone"))  # a new job, held open
        closer.join()
    assert code == ExitCode.AWS_ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err
    reattach = err.strip().splitlines()[-1].strip()
    assert reattach.startswith(f"{python()} ") and "scripts/launch.py clip.mp4 " in reattach
    assert " --attach " in reattach


def wait_then_close(endpoint, before: int, proxy: DroppingProxy) -> None:
    deadline = time.monotonic() + 60
    while job_count(endpoint) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proxy.close()  # the endpoint disappears: nothing answers at the launcher's URL any more


def test_results_that_cannot_be_written_after_the_job_are_one_line_and_the_reattach_command(
    stack, aws_env, clip, monkeypatch, capsys
):
    def read_only(*_, **__):
        raise PermissionError(13, "Permission denied", "clip.mp4.faces.json")

    monkeypatch.setattr(launcher.people.launch, "write_results", read_only)
    assert launch(stack, clip.name) == ExitCode.BAD_INPUT
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == (
        "error: cannot use clip.mp4.faces.json: Permission denied. What to do: pick a file or folder you may write to"
    )
    assert "--attach" in lines[-1] and "Traceback" not in "".join(lines)


NAMES = [
    os.fsdecode(b"caf\xe9-latin1.mp4"),  # not UTF-8
    "n" * 246 + ".mp4",  # 250 characters: with .faces.json, longer than a file name may be
    "clip:1.mp4",  # not a protocol
    "clip #1.mp4",
]


def test_a_batch_of_names_of_any_bytes_and_length(stack, aws_env, workdir, videos, capsys):
    folder = workdir / "names"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(videos["no-face"].path, folder / name)
    assert main([str(folder), "--outputs", str(stack["file"]), "--out-dir", "out", "--report"]) == ExitCode.OK
    written = os.listdir(b"out")
    assert b"caf\xe9-latin1.mp4.faces.json" in written, "named with the file system's own bytes"
    assert b"clip:1.mp4.faces.json" in written and b"clip #1.mp4.faces.json" in written
    long = [name for name in written if name.startswith(b"nnnn")]
    assert len(long) == 1 and len(long[0]) <= 255 and long[0].endswith(b".faces.json")
    assert b"index.html" in written
    out = capsys.readouterr().out
    assert "caf\\xe9-latin1.mp4: SUCCEEDED, 0 face(s), " in out, "shown with an escape, not a crash"


@pytest.mark.parametrize("name", NAMES, ids=["non-utf-8", "250-chars", "colon", "hash"])
def test_one_launch_of_a_relative_name(stack, aws_env, workdir, videos, name):
    own_copy(videos["no-face"].path, workdir / name)
    assert launch(stack, name, "--report") == ExitCode.OK
    assert len([entry for entry in os.listdir(b".") if entry.endswith(b".faces.json")]) == 1
    assert len([entry for entry in os.listdir(b".") if entry.endswith(b".faces.html")]) == 1


HOSTILE = "a\nb\x1b[31mred\u202e.mp4"  # a newline, a colour escape, a right-to-left override


def test_a_name_with_control_characters_is_shown_on_one_line_and_exact_in_json(
    stack, aws_env, workdir, videos, monkeypatch, capsys
):
    """A newline in a video's name split "results written to ..." in two, and its ESC coloured the
    terminal: each line is now one line, with the characters escaped as repr writes them, while
    --json keeps the name exact and the re-attach command names the very file (bash's $'...')."""
    own_copy(videos["no-face"].path, workdir / HOSTILE)
    shown = "a\\nb\\x1b[31mred\\u202e.mp4"
    assert launch(stack, HOSTILE, "--report") == ExitCode.OK
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[-2:] == [f"results written to {shown}.faces.json", f"report written to {shown}.faces.html"]
    assert all(line.isprintable() for line in out.splitlines() + err.splitlines())
    assert launch(stack, HOSTILE) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: {shown}.faces.json exists: pass --overwrite to replace it, or --out another file\n"
    )
    assert launch(stack, HOSTILE, "--json", "--quiet", "--overwrite") == ExitCode.OK
    summary = json.loads(capsys.readouterr().out)
    assert (summary["video"], summary["results"]) == (HOSTILE, f"{HOSTILE}.faces.json")

    def read_only(*_, **__):
        raise PermissionError(13, "Permission denied", f"{HOSTILE}.faces.json")

    monkeypatch.setattr(launcher.people.launch, "write_results", read_only)
    assert launch(stack, HOSTILE, "--overwrite") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot use {shown}.faces.json: Permission denied. ")
    assert all(line.isprintable() for line in err.splitlines())
    reattach = err.splitlines()[-1].strip()
    words = subprocess.run(["bash", "-c", f"printf '%s\\0' {reattach}"], capture_output=True, check=True).stdout
    assert os.fsencode(HOSTILE) in words.split(b"\0"), "the command names the very file"


@pytest.mark.parametrize(
    "extra, note",
    [
        (
            ["--out", "-"],
            "standard output's reader stopped before the results ended (as head does): --out FILE has all",
        ),
        ([], None),  # the notes on standard output: the results file is written all the same
    ],
)
def test_a_reader_of_standard_output_that_stops_early_is_no_error(stack, aws_env, clip, extra, note):
    """`launch.py clip.mp4 --out - | head -1` said 'cannot use: Broken pipe. What to do: pick a file
    or folder you may write to' and that the ended job 'may keep running' (exit 2). Here the reader
    (a real pipe) has gone before the first byte."""
    command = [sys.executable, str(ROOT / "scripts" / "launch.py"), clip.name, "--outputs", str(stack["file"])]
    process = subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == ExitCode.OK, err
    assert "Traceback" not in err and "error" not in err
    if note:
        assert note in err.splitlines()
    else:
        assert read_json(Path("clip.mp4.faces.json"))["JobStatus"] == "SUCCEEDED"


def test_local_status_to_a_reader_that_stops_early_is_no_error(endpoint, workdir):
    """`local.py status | head -1` said 'no local endpoint answers at URL ([Errno 32] Broken pipe)'."""
    command = [sys.executable, str(ROOT / "scripts" / "local.py"), "status", "--endpoint", endpoint.url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (0, "")
