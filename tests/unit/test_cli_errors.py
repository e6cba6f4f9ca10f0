"""What the command lines report: expected failures in one line (with --debug, also the traceback and
AWS's request id); a bug is not caught, so its traceback shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import launcher.cli
import localaws.cli
from launcher.aws import Clients
from launcher.jobs.errors import BadInput, ExitCode, from_client_error
from localaws.deploy.errors import DeployError, StateFileError
from localaws.vision import emotions, face_mesh
from localaws.vision.installation import REINSTALL_MODELS

REQUEST_ID = "0f1e2d3c-request-id"


def refusal(code: str = "AccessDeniedException") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"RequestId": REQUEST_ID}}, "StartFaceDetection"
    )


def failing(error: BaseException) -> Any:
    def command(*_: Any, **__: Any) -> Any:
        raise error

    return command


@pytest.mark.parametrize("error", [StateFileError("the state is damaged: delete it"), refusal()])
def test_local_reports_deploy_and_aws_errors_in_one_line(monkeypatch, capsys, error):
    monkeypatch.setattr(localaws.cli, "deploy", failing(error))
    assert localaws.cli.main(["deploy"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: {error}"]


@pytest.mark.parametrize("argv", [["--debug", "deploy"], ["deploy", "--debug"]])
def test_local_debug_prints_the_traceback_and_request_id(monkeypatch, capsys, argv):
    monkeypatch.setattr(localaws.cli, "deploy", failing(refusal()))
    assert localaws.cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert f"AWS request id: {REQUEST_ID}" in err
    assert err.strip().splitlines()[-1].startswith("error: ")


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:4566", "http://"])
@pytest.mark.parametrize("command", ["deploy", "destroy"])
def test_local_refuses_an_endpoint_that_is_not_a_url(capsys, command, url):
    with pytest.raises(SystemExit) as exited:
        localaws.cli.main([command, "--endpoint", url])
    assert exited.value.code == 2
    assert f"--endpoint: must be a URL such as http://127.0.0.1:4566, got {url!r}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["deploy", "destroy"])
@pytest.mark.parametrize(
    "option, message",
    [
        ("--data-dir", "--data-dir {file} is a file, not a folder; choose another --data-dir, or move the file away"),
        ("--outputs-file", "--outputs-file {folder} is a folder; give a file name"),
        (
            "--outputs-file",
            "--outputs-file {file}/out.json: {file} is a file, not a folder; choose another --outputs-file, or move "
            "the file away",
        ),
    ],
)
def test_local_refuses_a_path_it_cannot_write_before_reaching_the_endpoint(tmp_path, capsys, command, option, message):
    file = tmp_path / "a-file"
    file.write_text("")
    value = {"--data-dir": file, "--outputs-file": file / "out.json" if "{file}" in message else tmp_path}[option]
    # Nothing answers at this endpoint: the path is refused first, so nothing is made that could not be recorded.
    argv = [command, "--endpoint", "http://127.0.0.1:1", "--engine", "in-process", option, str(value)]
    if option == "--outputs-file":
        argv += ["--data-dir", str(tmp_path / "data")]
    assert localaws.cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: " + message.format(file=file, folder=tmp_path)]


@pytest.mark.parametrize("bug", [ValueError("a bug"), RuntimeError("another bug"), KeyError("x")])
def test_local_lets_a_bug_through(monkeypatch, bug):
    monkeypatch.setattr(localaws.cli, "deploy", failing(bug))
    with pytest.raises(type(bug)):
        localaws.cli.main(["deploy"])


def test_every_deployer_error_is_a_deploy_error():
    from localaws.deploy import errors

    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    assert len(classes) > 1
    for cls in classes:
        assert issubclass(cls, DeployError)
        assert not issubclass(cls, (ValueError, RuntimeError)), f"{cls.__name__} would hide bugs"


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    outputs = {
        "bucketName": "b",
        "topicArn": "arn:aws:sns:us-east-1:123456789012:AmazonRekognition-t",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "queueUrl": "http://127.0.0.1:1/123456789012/q",
        "region": "us-east-1",
    }
    path.write_text(json.dumps(outputs))
    return path


def test_launch_reports_an_aws_refusal_in_one_line_with_its_exit_code(monkeypatch, capsys, outputs_file):
    monkeypatch.setattr(launcher.cli, "Launch", failing(refusal()))
    code = launcher.cli.main(["s3://b/v.mp4", "--outputs", str(outputs_file)])
    assert code == ExitCode.ACCESS_DENIED
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "AccessDeniedException" in err
    assert "Traceback" not in err and REQUEST_ID not in err


@pytest.mark.parametrize(
    "error",
    [refusal("ThrottlingException"), from_client_error(refusal("ThrottlingException"), "starting face detection")],
    ids=["unwrapped", "wrapped"],
)
def test_launch_debug_prints_the_traceback_and_request_id(monkeypatch, capsys, outputs_file, error):
    monkeypatch.setattr(launcher.cli, "Launch", failing(error))
    code = launcher.cli.main(["s3://b/v.mp4", "--outputs", str(outputs_file), "--debug"])
    assert code == ExitCode.THROTTLED
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert f"AWS request id: {REQUEST_ID}" in err


def test_launch_lets_a_bug_through(monkeypatch, outputs_file):
    monkeypatch.setattr(launcher.cli, "Launch", failing(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        launcher.cli.main(["s3://b/v.mp4", "--outputs", str(outputs_file)])


@pytest.mark.parametrize(
    "url, says",
    [
        ("notaurl", "Invalid endpoint: notaurl"),
        ("http://127.0.0.1:99999", "Port out of range 0-65535"),  # botocore takes it; the call then fails
    ],
)
def test_launch_names_a_malformed_endpoint_url_instead_of_a_traceback(monkeypatch, url, says):
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    with pytest.raises(BadInput, match=f"{says}: give --endpoint-url or AWS_ENDPOINT_URL a URL such as http://"):
        Clients("eu-west-1")("s3")


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", "60001"])
def test_local_refuses_a_bad_sample_interval_in_one_line(capsys, value):
    with pytest.raises(SystemExit) as exited:
        localaws.cli.main(["serve", "--sample-interval-ms", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith(f"--sample-interval-ms: must be a whole number of milliseconds from 1 to 60000, got {value!r}")
    )


def test_serve_help_explains_the_sample_interval(capsys):
    with pytest.raises(SystemExit):
        localaws.cli.main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--sample-interval-ms" in help_text and "default 500" in help_text and "rounded down" in help_text


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_a_port_out_of_range_naming_it(capsys, port):
    with pytest.raises(SystemExit) as exit_info:
        localaws.cli.main(["serve", "--port", port])
    assert exit_info.value.code == 2
    assert "argument --port: must be " in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("detector", "says"),
    [
        ("nosuch.module:factory", "No module named 'nosuch'"),
        ("localaws.vision.detector:no_such_factory", "no_such_factory"),
        ("localaws.vision.detector:DEFAULT_DETECTOR", "is not a factory"),
        ("justaname", "expected 'retinaface' or 'package.module:factory'"),
    ],
)
def test_serve_says_in_one_line_that_the_detector_cannot_be_loaded(capsys, tmp_path, detector, says):
    assert localaws.cli.main(["serve", "--detector", detector, "--data-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --detector: ") and says in lines[0], lines


@pytest.mark.parametrize("under", [False, True])
def test_serve_with_a_file_as_its_data_folder_names_the_file_and_the_fix(tmp_path, capsys, under):
    """It said "cannot write to the folder FILE (File exists)", (Not a directory) under it."""
    file = tmp_path / "a-file"
    file.write_text("kept")
    data_dir = file / "data" if under else file
    assert localaws.cli.main(["serve", "--port", "0", "--data-dir", str(data_dir)]) == 2
    where = f"{data_dir}: {file} is" if under else f"{file} is"
    assert capsys.readouterr().err == (
        f"error: --data-dir {where} a file, not a folder; choose another --data-dir, or move the file away\n"
    )
    assert file.read_text() == "kept"


def test_serve_refuses_an_allowed_origin_that_is_not_an_origin(capsys):
    with pytest.raises(SystemExit):
        localaws.cli.main(["serve", "--allow-origin", "http://localhost:3000/app"])
    assert "argument --allow-origin: must be an origin" in capsys.readouterr().err


@pytest.mark.parametrize("model_installed", [False, True])
def test_serve_warns_in_one_line_at_start_when_the_emotion_model_cannot_be_loaded(
    capsys, tmp_path, monkeypatch, model_installed
):
    """A warning, not a refusal (only FaceAttributes=ALL needs the model): serve goes on to make its
    endpoint, which here stops it."""

    class Reached(Exception):
        pass

    def endpoint(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(localaws.cli, "LocalEndpoint", endpoint)
    if not model_installed:
        monkeypatch.setattr(emotions, "weights_path", lambda: tmp_path / "gone" / "emotion_model.hdf5")
    with pytest.raises(Reached):
        localaws.cli.main(["serve", "--ephemeral", "--data-dir", str(tmp_path)])
    lines = capsys.readouterr().err.strip().splitlines()
    if model_installed:
        assert lines == []
    else:
        assert len(lines) == 1 and lines[0].startswith("warning: FaceAttributes=ALL jobs will fail: "), lines
        assert str(tmp_path / "gone") in lines[0] and REINSTALL_MODELS in lines[0]


def test_serve_with_mesh_landmarks_refuses_in_one_line_to_start_without_the_model(capsys, tmp_path, monkeypatch):
    """With --landmarks mesh every face's Pose needs it: without it every job would fail, so serve
    does not start."""
    missing = tmp_path / "gone" / "face_landmark.tflite"
    monkeypatch.setattr(face_mesh, "model_path", lambda: missing)
    assert localaws.cli.main(["serve", "--landmarks", "mesh", "--ephemeral", "--data-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --landmarks mesh: "), lines
    assert str(missing) in lines[0] and REINSTALL_MODELS in lines[0]


def test_serve_on_a_port_another_program_holds_is_one_line(capsys, tmp_path):
    """werkzeug alone printed two lines of its own and exited the process with status 1."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = localaws.cli.main(["serve", "--port", str(port), "--data-dir", str(tmp_path)])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and line.endswith("choose another --port")


def _parsed_refusal(protocol: str, operation: str, status: int, headers: dict[str, str], body: bytes) -> ClientError:
    """A refusal as botocore's own parser reads it off the wire."""
    from botocore.parsers import create_parser

    parsed = create_parser(protocol).parse({"status_code": status, "headers": headers, "body": body}, None)
    return ClientError(parsed, operation)


@pytest.mark.parametrize(
    "error, line",
    [
        (  # AWS's S3: a HEAD's error has no body; botocore reads its ids from S3's headers
            _parsed_refusal("rest-xml", "HeadObject", 404, {"x-amz-request-id": "R1", "x-amz-id-2": "H1"}, b""),
            "AWS request id: R1, host id: H1",
        ),
        (  # the local endpoint's S3 sends x-amzn-requestid, which botocore's S3 parser does not read
            _parsed_refusal("rest-xml", "HeadBucket", 404, {"x-amzn-requestid": "R2"}, b""),
            "AWS request id: R2",
        ),
        (  # a query-protocol service: the id in the error body
            _parsed_refusal(
                "query",
                "GetRole",
                404,
                {"x-amzn-requestid": "R3"},
                b"<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>no</Message></Error>"
                b"<RequestId>R3</RequestId></ErrorResponse>",
            ),
            "AWS request id: R3",
        ),
        (
            _parsed_refusal("json", "GetFaceDetection", 502, {}, b"<html>Bad gateway</html>"),
            "AWS request id: none in the response",
        ),
    ],
)
def test_local_debug_finds_the_request_id_where_aws_puts_it(monkeypatch, capsys, error, line):
    monkeypatch.setattr(localaws.cli, "deploy", failing(error))
    assert localaws.cli.main(["--debug", "deploy"]) == 1
    printed = [text for text in capsys.readouterr().err.splitlines() if text.startswith("AWS request id")]
    assert printed == [line]
