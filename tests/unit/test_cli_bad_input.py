"""Bad input a user could give the command lines, each refused in one line that says what to do, with
nothing half-written: a port where another kind of server answers, an output that is not a file, an
empty video."""

from __future__ import annotations

import fcntl
import functools
import http.server
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import botocore.parsers
import pytest
from botocore.exceptions import ClientError

import launcher.cli
import localaws.cli
import scripts.redactor_layer as redactor_layer
from launcher.jobs.errors import ExitCode, from_client_error
from synthetic import make_video
from tests.support.offline_launch import ENV, OUTPUTS

ROOT = Path(__file__).resolve().parents[2]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:  # the test reads the command's standard error alone
        pass


@pytest.fixture
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server that is not AWS (``python -m http.server``, of an empty folder) on 127.0.0.1: its URL."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path_factory.mktemp("web")))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("argv", [["deploy", "--engine", "in-process"], ["destroy", "--force"], ["redactor-layer"]])
def test_local_against_a_server_that_is_not_aws_is_one_line(web_server, tmp_path, capsys, argv):
    command, *options = argv
    extra = ["--data-dir", str(tmp_path)] if command != "redactor-layer" else []
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "local.json").write_text('{"resources": [], "outputs": {}}')  # for destroy
    assert localaws.cli.main([command, "--endpoint", web_server, *options, *extra]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: {web_server} answers, but not as an AWS endpoint (another program on that port?): start the "
        f"local endpoint with: {localaws.cli.python_command('serve')}, and pass the URL it prints to --endpoint\n"
    )
    assert not (tmp_path / "outputs-local.json").exists()


@pytest.fixture
def launch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a short video and stack outputs; nothing answers at the endpoint (port 1), so a
    launch that got as far as AWS would say so instead of the line a test expects."""
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    make_video(tmp_path / "clip.mp4", seconds=0.2)
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    return tmp_path


@pytest.mark.parametrize(
    "option, says",
    [
        (
            ["--out", "pipe"],
            "cannot write pipe: it is not a regular file (a device or a pipe); give --out - for "
            "standard output, or a file name",
        ),
        (["--redact=pipe"], "cannot write pipe: it is not a regular file (a device or a pipe); name a file"),
        (
            ["--report"],
            "cannot write clip.mp4.faces.html: it is not a regular file (a device or a pipe); --report writes its "
            "page there: move it away, or give --out a file in another folder",
        ),
    ],
)
def test_launch_refuses_to_replace_a_pipe_or_device_even_with_overwrite(launch_dir, capsys, option, says):
    """The results are written beside and renamed over the output: over a pipe or a device (--out
    /dev/null as root) that would replace the pipe or the device with a file."""
    pipe = launch_dir / ("clip.mp4.faces.html" if "--report" in option else "pipe")
    os.mkfifo(pipe)
    argv = ["clip.mp4", "--outputs", "outputs.json", "--overwrite", *option]
    assert launcher.cli.main(argv) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == f"error: {says}\n"
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_an_existing_report_page_is_not_told_to_take_another_out_file(launch_dir, capsys):
    """The page is named after the video, beside the results: another --out file in the same folder
    would meet the same page."""
    (launch_dir / "clip.mp4.faces.html").write_text("an earlier page")
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", "--report", "--out", "other.json"]) == 2
    assert capsys.readouterr().err == (
        "error: clip.mp4.faces.html exists: pass --overwrite to replace it, or give --out a file in another folder\n"
    )


@pytest.mark.parametrize(
    "content, says",
    [
        (b"", "the file is empty (0 bytes)"),
        (b"not a video\n", "not a readable video container (Invalid data found when processing input)"),
    ],
)
def test_launch_names_an_empty_file_or_one_that_is_no_video_and_what_to_use(launch_dir, capsys, content, says):
    """Not "cannot use: Invalid argument ... pick a file or folder you may write to" (PyAV's seek in an
    empty file), nor FFmpeg's error number."""
    (launch_dir / "bad.mp4").write_bytes(content)
    assert launcher.cli.main(["bad.mp4", "--outputs", "outputs.json"]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: video bad.mp4: {says}: use a whole MP4 or MOV (or AVI) file with H.264 video\n"
    )
    assert sorted(path.name for path in launch_dir.iterdir()) == ["bad.mp4", "clip.mp4", "outputs.json"]


@pytest.mark.parametrize(
    "extra, doing",
    [
        (["--attach", "job1"], "reading the job's status (job job1)"),
        ([], "uploading clip.mp4 to s3://b/videos/"),
    ],
)
def test_launch_against_a_server_that_is_not_aws_says_so_in_one_line(
    launch_dir, web_server, monkeypatch, capsys, extra, doing
):
    """Not the server's whole HTML page as the error's message."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", web_server)
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", "--quiet", *extra]) == ExitCode.AWS_ERROR
    first, *rest = capsys.readouterr().err.splitlines()
    assert first.startswith(f"error: {doing}") and "<" not in first
    assert first.endswith(
        "failed: 501: Not Implemented. What to do: the endpoint answered HTTP 501 with no AWS error in it: check "
        "that AWS_ENDPOINT_URL (or --endpoint-url) is an AWS endpoint, such as the URL the local one prints when "
        "it starts."
    )
    if extra:
        assert rest[0] == "job job1 may keep running. Re-attach with:" and rest[1].endswith("--attach job1")
        assert len(rest) == 2
    else:
        assert rest == []


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda path: path.write_text("not a zip"), "is not a zip file"),
        (lambda path: path.mkdir(), "is a folder"),
        (lambda path: None, "does not exist"),
    ],
)
def test_redactor_layer_refuses_a_zip_that_is_not_one_before_sending_anything(tmp_path, capsys, make, says):
    """Not published as a layer (the local endpoint took a text file), nor 'does not exist' for a folder."""
    zipped = tmp_path / "layer.zip"
    make(zipped)
    argv = ["publish", "--bucket", "b", "--zip", str(zipped), "--endpoint-url", "http://127.0.0.1:1"]
    assert redactor_layer.main(argv) == 2
    assert capsys.readouterr().err == (
        f"error: {zipped} {says}: run `make redactor-layer` (or this script's build) first, or give the zip it "
        "wrote to --zip\n"
    )


def test_redactor_layer_help_documents_its_exit_codes():
    assert (
        "exit codes: 0 done, 1 failed (the line says why and what to do), 2 bad arguments, zip or --out, "
        "130 interrupted" in redactor_layer.build_parser().format_help()
    )


def test_ctrl_c_during_a_layer_upload_is_one_line(tmp_path):
    """A real process, interrupted while its upload waits on an endpoint that accepted the connection
    and never answers."""
    with zipfile.ZipFile(tmp_path / "layer.zip", "w") as archive:
        archive.writestr("python/x.py", "")
    with socket.create_server(("127.0.0.1", 0)) as silent:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        command = [sys.executable, str(ROOT / "scripts" / "redactor_layer.py"), "publish", "--bucket", "b"]
        process = subprocess.Popen(
            [*command, "--zip", str(tmp_path / "layer.zip"), "--endpoint-url", url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            silent.settimeout(60)
            connection, _ = silent.accept()  # the upload has started
            with connection:
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert (out, err) == (
        "",
        "\ninterrupted: no layer ARN printed (the zip may be uploaded, a layer version published); run the same "
        "command again\n",
    )


def test_ctrl_c_during_a_layer_build_says_no_zip_is_half_written(tmp_path, capsys, monkeypatch):
    """Not 'no ARN printed': build prints none anyway."""

    def pip(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(redactor_layer.subprocess, "run", pip)
    assert redactor_layer.main(["build", "--out", str(tmp_path / "layer.zip")]) == 130
    assert capsys.readouterr().err == "\ninterrupted: no zip half-written; run the same command again\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make, says",
    [
        (
            lambda path: path.write_text(""),
            "is not readable JSON (Expecting value: line 1 column 1 (char 0)): write it again with "
            "`pulumi stack output --json > outputs.json`",
        ),
        (
            lambda path: path.write_bytes(b"\xff\xfe"),
            "is not readable JSON ('utf-8' codec can't decode byte 0xff in position 0: invalid start byte): "
            "write it again with `pulumi stack output --json > outputs.json`",
        ),
        (
            lambda path: path.mkdir(),
            "is a folder: give the file `pulumi stack output --json > FILE` wrote",
        ),
    ],
)
def test_launch_says_how_to_remake_an_outputs_file_it_cannot_read(launch_dir, capsys, make, says):
    (launch_dir / "outputs.json").unlink()
    make(launch_dir / "outputs.json")
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json"]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == f"error: outputs file outputs.json {says}\n"


def test_an_outputs_file_that_fails_to_read_is_not_told_to_be_written_again(launch_dir, monkeypatch, capsys):
    """A disk's read error (EIO) said "is not readable JSON (...): write it again with `pulumi stack
    output ...`": the file is not the problem, reading it is."""
    import errno

    def broken(*_: object, **__: object) -> str:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(Path, "read_text", broken)
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json"]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == (
        "error: outputs file outputs.json cannot be read (Input/output error): check the disk, or copy the outputs "
        "file elsewhere\n"
    )


@pytest.mark.parametrize(
    "option, advice",
    [("--out", "give a shorter --out"), ("--redact", "name a shorter output")],
)
def test_an_output_name_longer_than_the_file_system_takes_is_said_so(launch_dir, capsys, option, advice):
    """It was "cannot use NAME: File name too long. What to do: pick a file or folder you may write to":
    the length was looked at only after a stat of the name, which raises ENAMETOOLONG."""
    long = "n" * 256 + ".mp4"
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", f"{option}={long}"]) == ExitCode.BAD_INPUT
    assert (
        capsys.readouterr().err
        == f"error: cannot write {long}: the name is longer than the file system takes; {advice}\n"
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_out_that_leaves_no_room_for_the_redaction_record_is_refused_before_the_job(launch_dir, capsys, fmt):
    """--redact writes its record beside a jsonl or csv results file, as OUT.redaction.json: an --out
    that fits without it passed every check, the job ran, the results and the copy were written, then
    'cannot use .OUT.xxxx.partial: File name too long' (reproduced against the local endpoint)."""
    out = "r" * (255 - len(f".{fmt}") - 10) + f".{fmt}"  # fits; with .redaction.json (15 bytes) it does not
    argv = ["clip.mp4", "--outputs", "outputs.json", "--out", out, "--format", fmt, "--redact", "copy.mp4"]
    assert launcher.cli.main(argv) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: cannot write {out}.redaction.json: the name is longer than the file system takes; "
        "give a shorter --out\n"
    )


@pytest.mark.parametrize(
    "option, says",
    [
        (["--out", "clip.mp4"], "--out clip.mp4: that is the video itself; give --out another file"),
        (["--out", "./clip.mp4"], "--out clip.mp4: that is the video itself; give --out another file"),
        (
            ["--out", "clip.mp4.faces.html", "--report"],
            "--out clip.mp4.faces.html: --report writes its page there; give --out another file",
        ),
    ],
)
def test_launch_refuses_results_that_would_replace_the_video_or_the_report(launch_dir, capsys, option, says):
    """With --overwrite the results file replaced the video itself, or the report replaced the results."""
    video = (launch_dir / "clip.mp4").read_bytes()
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", "--overwrite", *option]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == f"error: {says}\n"
    assert (launch_dir / "clip.mp4").read_bytes() == video
    assert sorted(path.name for path in launch_dir.iterdir()) == ["clip.mp4", "outputs.json"]


def test_serve_with_a_damaged_job_store_is_one_line_and_leaves_it_as_it_was(tmp_path, capsys):
    store = tmp_path / "rekognition.sqlite3"
    store.write_bytes(b"garbage\n")
    assert localaws.cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot read the job store {store} (file is not a database); move it away, or choose another "
        "--data-dir\n"
    )
    assert store.read_bytes() == b"garbage\n"
    # Refused, it holds the folder no more: a second try says the same, not "another endpoint is serving".
    assert localaws.cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert "(file is not a database)" in capsys.readouterr().err


def test_serve_with_a_job_store_it_cannot_open_does_not_say_to_move_it_away(tmp_path, capsys):
    """sqlite's OperationalError ("database is locked", "unable to open database file") is no damage:
    a healthy store is not to be moved away. A folder of the store's name makes sqlite say so."""
    store = tmp_path / "rekognition.sqlite3"
    store.mkdir()
    assert localaws.cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: cannot read the job store {store} (unable to open database file); check that it is a file you "
        "may write to and that no other program holds it, or choose another --data-dir\n"
    )


def test_a_video_or_folder_that_fails_to_read_for_another_reason_is_not_about_permissions(
    launch_dir, monkeypatch, capsys
):
    """Every OSError said "check its permissions": a disk's read error (EIO) is not about them."""
    import errno

    import launcher.batch.discovery
    import launcher.upload

    def broken(*_: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(launcher.upload, "duration_ms", broken)
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json"]) == ExitCode.BAD_INPUT
    assert (
        capsys.readouterr().err
        == "error: video clip.mp4 cannot be read (Input/output error): check the disk, or copy the video elsewhere\n"
    )
    (launch_dir / "videos").mkdir()
    only_here = types.SimpleNamespace(listdir=broken, path=os.path, fsencode=os.fsencode)  # not botocore's listdir
    monkeypatch.setattr(launcher.batch.discovery, "os", only_here)
    assert launcher.cli.main(["videos", "--outputs", "outputs.json"]) == ExitCode.BAD_INPUT
    assert (
        capsys.readouterr().err
        == "error: folder videos cannot be read (Input/output error): check the disk, or copy the videos elsewhere\n"
    )


def test_launch_names_a_credential_process_that_cannot_run(launch_dir, monkeypatch, capsys):
    """Not 'cannot use /no/such/tool ... pick a file or folder you may write to'."""
    config = launch_dir / "aws-config"
    config.write_text("[profile broken]\nregion = us-east-1\ncredential_process = /no/such/tool\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(launch_dir / "no-credentials"))
    argv = ["clip.mp4", "--outputs", "outputs.json", "--profile", "broken"]
    assert launcher.cli.main(argv) == ExitCode.AWS_ERROR
    assert capsys.readouterr().err == (
        "error: cannot get AWS credentials: cannot run or read /no/such/tool: No such file or directory. What to "
        "do: check the profile's credential_process and the AWS config files (--profile, AWS_PROFILE, "
        "AWS_CONFIG_FILE)\n"
    )


@pytest.mark.parametrize("command", ["deploy", "destroy", "status", "redactor-layer"])
@pytest.mark.parametrize("stack", ["../x", "", ".hidden", "a/b"])
def test_local_refuses_a_stack_name_that_would_name_files_elsewhere(tmp_path, capsys, command, stack):
    """'--stack ../x' deployed, with its state and outputs written outside --data-dir (and a folder
    'outputs-..' made); '--stack ""' read Pulumi..yaml."""
    with pytest.raises(SystemExit) as refused:
        localaws.cli.main([command, "--endpoint", "http://127.0.0.1:1", "--stack", stack])
    assert refused.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"scripts/local.py {command}: error: argument --stack: a stack name has only letters, digits, '-', '_' "
        f"and '.' (not first), as Pulumi's, got {stack!r}"
    )


def test_destroy_with_no_deploy_state_says_where_it_looked(tmp_path, capsys):
    """A mistyped --stack or --data-dir said '0 resource(s) deleted', as if the stack were gone."""
    argv = ["destroy", "--endpoint", "http://127.0.0.1:1", "--engine", "in-process", "--data-dir", str(tmp_path)]
    assert localaws.cli.main([*argv, "--stack", "typo"]) == 0
    assert capsys.readouterr().out == (
        f"nothing to destroy: no deploy state at {tmp_path / 'deploy' / 'typo.json'} (deploy writes it there): "
        "check --stack and --data-dir\n"
    )


def test_destroy_with_no_deploy_state_keeps_the_outputs_file_named(tmp_path, capsys):
    """`destroy --data-dir typo --outputs-file real.json` said "nothing to destroy", then deleted real.json."""
    real = tmp_path / "real.json"
    real.write_text("{}")
    argv = ["destroy", "--endpoint", "http://127.0.0.1:1", "--engine", "in-process", "--outputs-file", str(real)]
    assert localaws.cli.main([*argv, "--data-dir", str(tmp_path / "typo")]) == 0
    assert capsys.readouterr().out.startswith("nothing to destroy: ")
    assert real.read_text() == "{}" and not (tmp_path / "typo").exists()


def test_a_destroy_during_a_first_deploy_is_refused_and_keeps_its_outputs(tmp_path, capsys):
    """A first deploy holds the lock before its state exists: a destroy then said "nothing to destroy"
    (exit 0) and deleted the outputs file the deploy was about to write."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "outputs-local.json").write_text("{}")
    argv = ["destroy", "--engine", "in-process", "--endpoint", "http://127.0.0.1:1", "--data-dir", str(tmp_path)]
    with (tmp_path / "deploy" / "local.lock").open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert localaws.cli.main(argv) == 1
    assert capsys.readouterr().err.startswith("error: another deploy or destroy of stack local is running")
    assert (tmp_path / "outputs-local.json").read_text() == "{}"


def test_a_deploy_writes_its_outputs_under_its_lock(tmp_path, monkeypatch, capsys):
    """The outputs were written after the lock was let go: a destroy in between left an outputs file
    naming a stack that no longer exists. Here the write tries the lock from another descriptor."""
    from localaws.deploy import engine

    held: list[bool] = []

    def write_atomically(path: Path, text: str) -> None:
        with (tmp_path / "deploy" / "local.lock").open("ab") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
        path.write_text(text)

    monkeypatch.setattr(localaws.cli, "_in_process_context", lambda args: None)
    monkeypatch.setattr(engine, "deploy", lambda *args: ({"bucketName": "b"}, []))
    monkeypatch.setattr(engine, "write_atomically", write_atomically)
    argv = ["deploy", "--engine", "in-process", "--endpoint", "http://127.0.0.1:1", "--data-dir", str(tmp_path)]
    assert localaws.cli.main(argv) == 0
    assert held == [True] and json.loads((tmp_path / "outputs-local.json").read_text()) == {"bucketName": "b"}


def test_redactor_layer_build_refuses_an_out_it_cannot_write_before_pip_runs(tmp_path, capsys, monkeypatch):
    """A folder as --out failed with a traceback (os.replace) after minutes of pip."""

    def pip(*_: object, **__: object) -> None:
        raise AssertionError("pip ran")

    monkeypatch.setattr(redactor_layer.subprocess, "run", pip)
    assert redactor_layer.main(["build", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: --out {tmp_path} is a folder: name the zip to write\n"
    os.mkfifo(tmp_path / "pipe")
    assert redactor_layer.main(["build", "--out", str(tmp_path / "pipe")]) == 2  # os.replace would replace it
    assert capsys.readouterr().err == (
        f"error: --out {tmp_path / 'pipe'} is not a regular file (a device or a pipe): name the zip to write\n"
    )
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    (tmp_path / "a-file").write_text("")
    assert redactor_layer.main(["build", "--out", str(tmp_path / "a-file" / "layer.zip")]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot write {tmp_path / 'a-file' / 'layer.zip'}: ")


@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_a_second_deploy_or_destroy_of_a_stack_at_once_is_refused(tmp_path, capsys, command):
    """Two deploys of a stack at once each created its 23 resources; the state kept one set, the other
    was left in the endpoint, never to be destroyed. The first holds the lock here (flock, as a
    running deploy does); nothing answers at the endpoint, so the refusal comes before any call."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "local.json").write_text('{"resources": [], "outputs": {}}')
    argv = [command, "--engine", "in-process", "--endpoint", "http://127.0.0.1:1", "--data-dir", str(tmp_path)]
    with (tmp_path / "deploy" / "local.lock").open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert localaws.cli.main(argv) == 1
    assert capsys.readouterr().err == (
        f"error: another deploy or destroy of stack local is running (it holds {tmp_path / 'deploy' / 'local.lock'}): "
        "wait for it to end, then run this again\n"
    )


def test_an_upload_holds_the_machine_wide_lock_while_it_looks_and_uploads(tmp_path):
    """Two launches of one new 400 MB video at once each uploaded it (two versions) and started a job
    on each. The check-then-upload now runs under an flock that a second launch waits for: here S3's
    HEAD (a stand-in client) tries that lock from another file descriptor, as another process would."""
    from launcher.upload import DIGEST_METADATA, sha256_of, upload, upload_lock_path

    video = make_video(tmp_path / "clip.mp4", seconds=0.2).path
    digest = sha256_of(video, progress_bar=False)
    key = f"videos/{digest}.mp4"
    seen: list[bool] = []

    class S3:
        def head_object(self, **_: object) -> dict[str, object]:
            with upload_lock_path("b", key, digest).open("rb") as other:
                try:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    seen.append(False)
                except BlockingIOError:
                    seen.append(True)
            return {"VersionId": "v1", "Metadata": {DIGEST_METADATA: digest}}

    pinned, uploaded = upload(S3(), video, "b", progress_bars=False)  # type: ignore[arg-type]
    assert (pinned.version, uploaded, seen) == ("v1", False, [True])


def test_a_second_endpoint_on_the_same_data_folder_is_refused(tmp_path, capsys):
    """It started, and would have run the first one's cut-off jobs again and saved its own state over
    the first one's. The first holds the lock here (flock, as a serving endpoint does)."""
    with (tmp_path / ".serve.lock").open("ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert localaws.cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: another endpoint is serving from {tmp_path} (it holds {tmp_path / '.serve.lock'}): use that one, "
        "stop it first, or choose another --data-dir\n"
    )


def _parsed_refusal(status: int, body: bytes, headers: dict[str, str]) -> ClientError:
    """The ClientError botocore's own S3 parser makes of a reply (as a HEAD of an object would get it)."""
    response = {"status_code": status, "headers": headers, "body": body}
    return ClientError(botocore.parsers.RestXMLParser().parse(response, None), "HeadObject")


@pytest.mark.parametrize(
    "status, body",
    [(400, b""), (412, b""), (503, b"<html><body>Service Unavailable</body></html>")],
)
def test_a_bare_status_from_aws_itself_is_not_called_a_foreign_server(status, body):
    """AWS answers some requests with a status alone (an S3 HEAD with an expired token is a bare 400; a
    web page in a 5xx becomes code "503"), but always with its request id: the advice is then the
    usual one, and only a reply without an id (python -m http.server) says to check the endpoint."""
    from_aws = from_client_error(_parsed_refusal(status, body, {"x-amz-request-id": "R1"}), "reading a.mp4")
    assert "check your AWS credentials, region and endpoint" in str(from_aws) and from_aws.request_id == "R1"
    foreign = from_client_error(_parsed_refusal(status, body, {"Server": "SimpleHTTP/0.6"}), "reading a.mp4")
    assert "is an AWS endpoint" in str(foreign) and foreign.request_id is None


def test_launch_json_error_to_a_reader_that_has_gone_is_its_one_line(tmp_path):
    """`launch.py nope.mp4 --json --outputs nope.json | head -c0`: the error's JSON object met a closed
    pipe and the command ended with a BrokenPipeError traceback, exit 1. The reader (a real pipe) is
    closed before the command starts."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "launch.py"), "nope.mp4", "--json", "--outputs", "nope.json"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr


LAUNCH_JSON = ["nope.mp4", "--json", "--outputs", "nope.json"]


def test_launch_json_error_with_standard_output_closed_is_its_one_line(tmp_path):
    """`launch.py ... --json >&-`: Python's sys.stdout is then None, which print() skipped and the
    stream that stops with its reader once called .write on (an AttributeError traceback, exit 1)."""
    # The shell closes it, as `>&-` does (a preexec_fn would run Python between fork and exec, which
    # can deadlock in a process with threads: it hung the suite once).
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', sys.executable, str(ROOT / "scripts" / "launch.py"), *LAUNCH_JSON],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr


@pytest.mark.parametrize("wait", ["inf", "61"])
def test_a_retry_wait_above_the_doublings_ceiling_is_refused_before_a_job_starts(launch_dir, capsys, wait):
    """With --timeout inf, a LimitExceeded would have slept min(inf, inf): OverflowError's traceback; and a
    first wait above the minute the waits double up to contradicts it."""
    argv = ["clip.mp4", "--outputs", "outputs.json", "--timeout", "inf", "--retry-wait", wait]
    assert launcher.cli.main(argv) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == f"error: --retry-wait must be at most 60 seconds, got {wait}\n"


@pytest.mark.parametrize("key", ["", "/"])
def test_an_empty_key_is_refused_not_ignored(launch_dir, capsys, key):
    assert launcher.cli.main(["clip.mp4", "--outputs", "outputs.json", "--key", key]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == (
        f"error: --key {key!r} names no object: give a key such as videos/clip.mp4, or leave it out\n"
    )


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_ctrl_c_in_a_batchs_report_says_the_jobs_ended(launch_dir, monkeypatch, capsys, json_flag):
    """The report (and the redacted copies) come after every job has ended: Ctrl-C there said
    "interrupted before any job was started", and --json said so too."""
    import launcher.report.html
    from launcher.batch.log import BATCH_LOG
    from launcher.batch.scheduler import Tally

    class Ended:
        open_jobs = 0

        def __init__(self, options, on_end=None, on_warning=None):
            options.out_dir.mkdir(exist_ok=True)
            (options.out_dir / BATCH_LOG).write_text("")

        def run(self) -> Tally:
            return Tally()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(launcher.cli, "Batch", Ended)
    monkeypatch.setattr(launcher.report.html, "batch_report", interrupted)
    argv = [".", "--outputs", "outputs.json", "--out-dir", "out", "--report", *json_flag]
    assert launcher.cli.main(argv) == ExitCode.INTERRUPTED
    out, err = capsys.readouterr()
    assert "interrupted after the batch's jobs ended (their results are written)" in err
    assert "before any job" not in err + out
    if json_flag:
        assert json.loads(out)["error"] == "interrupted after the batch's jobs ended (their results are written)"
