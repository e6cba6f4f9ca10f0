"""``--plan`` and ``--max-cost`` against the local endpoint: every video read (local and S3), the
table, the JSON, the refusals, and not one request that uploads or starts anything (every AWS call the
launcher makes is recorded at botocore's boundary)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from botocore.client import BaseClient

from launcher import plan as plan_module
from launcher.cli import main
from launcher.jobs.errors import ExitCode
from launcher.probe import VideoFacts
from tests.support.aws import upload

SPENDING = {"StartFaceDetection", "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The name of every AWS operation the launcher calls, in order."""
    made: list[str] = []
    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        made.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return made


@pytest.fixture
def folder(workdir: Path, videos) -> Path:
    mixed = workdir / "mixed"
    mixed.mkdir()
    shutil.copy(videos["face"].path, mixed / "good.mp4")
    shutil.copy(videos["face"].path, mixed / "long.mp4")  # its probe is made to say 7 hours
    shutil.copy(videos["mpeg4"].path, mixed / "mpeg4.mp4")
    (mixed / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return mixed


@pytest.fixture
def seven_hours(monkeypatch):
    real = plan_module.describe

    def describe(source):
        found = real(source)
        if isinstance(source, Path) and source.name == "long.mp4":
            return VideoFacts(7 * 3600 * 1000, found.container, found.codec, found.width, found.height)
        return found

    monkeypatch.setattr(plan_module, "describe", describe)


def test_a_plan_reads_every_video_and_spends_nothing(stack, aws, aws_env, folder, seven_hours, calls, capsys):
    s3_object = upload(aws, stack["outputs"]["bucketName"], folder / "good.mp4", key="incoming/remote.mp4")
    calls.clear()
    uri = f"s3://{s3_object['Bucket']}/incoming/remote.mp4"
    code = main([str(folder), uri, "--plan", "--outputs", str(stack["file"]), "--price-per-minute", "0.5"])
    assert code == ExitCode.OK
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.endswith(".mp4") or ".mp4 " in line}
    assert "accepted" in rows["good.mp4"] and "h264" in rows["good.mp4"]
    assert "accepted" in rows[uri], "an S3 object is read with ranged reads"
    assert "refused: not a readable video container" in rows["corrupt.mp4"]
    assert "refused: unsupported codec 'mpeg4'" in rows["mpeg4.mp4"]
    assert "refused: lasts 7.0 hours: the service takes at most 6" in rows["long.mp4"]
    assert "5 video(s): 2 accepted, 3 refused" in out and "at $0.5 per minute (--price-per-minute)" in out
    assert not SPENDING & set(calls), calls
    assert {"HeadObject", "GetObject"} <= set(calls), "the S3 video was read, not downloaded whole"


def test_the_plan_as_json(stack, aws_env, folder, seven_hours, calls, capsys):
    assert main([str(folder), "--plan", "--json", "--outputs", str(stack["file"])]) == ExitCode.OK
    plan = json.loads(capsys.readouterr().out)
    verdicts = {Path(video["Video"]).name: video for video in plan["Videos"]}
    assert verdicts["good.mp4"]["Accepted"] and verdicts["good.mp4"]["Facts"]["codec"] == "h264"
    assert not verdicts["long.mp4"]["Accepted"] and "7.0 hours" in verdicts["long.mp4"]["Refusal"]
    assert plan["Accepted"] == 1 and plan["Refused"] == 3 and plan["PricePerMinuteUSD"] == 0.10
    assert plan["Minutes"] == pytest.approx(2.0 / 60, abs=0.01) and plan["EstimatedSeconds"] >= 30
    assert calls == [], "a local folder needs no AWS call at all"


def test_max_cost_refuses_before_anything_is_uploaded_or_started(stack, aws_env, folder, calls, capsys, endpoint):
    jobs = endpoint.rekognition.store.count()
    code = main([str(folder / "good.mp4"), "--max-cost", "0", "--outputs", str(stack["file"])])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the estimated cost $0.00") and "is above --max-cost $0" in err
    assert len(err.splitlines()) == 1
    assert not SPENDING & set(calls) and endpoint.rekognition.store.count() == jobs


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-cost", "-1"], "error: --max-cost must be zero or more US dollars, got -1"),
        (["--price-per-minute", "abc"], "error: --price-per-minute 'abc': give an amount in US dollars, e.g. 0.10"),
    ],
)
def test_bad_plan_options_are_one_line(stack, aws_env, folder, calls, capsys, args, message):
    assert main([str(folder / "good.mp4"), *args, "--outputs", str(stack["file"])]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err.strip() == message
    assert calls == []
