"""``--redact`` end to end: the launcher against the local endpoint (its emulator really detects the
faces, every 500 ms as the service does), a redacted copy written from the job's results, and its
leak audit.

The videos are synthetic scenes made from real photographs (synthetic/scenes.py): faces moving fast,
crossing, entering and leaving at the frame's edges, at a variable frame rate, with AAC audio. Each
face's place in every frame is known, so "covered" is measured against the original's pixels."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from launcher.cli import main, python_command
from launcher.jobs.errors import ExitCode
from launcher.jobs.s3video import S3ObjectReader
from synthetic.scenes import RECOGNISABLE_SSIM, Scene, crossing_movers, face_similarities, make_scene
from tests.support.aws import read_json, upload


def launch(stack, *args: str) -> int:
    return main([*args, "--outputs", str(stack["file"])])


def job_count(endpoint) -> int:
    return endpoint.rekognition.store.count()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scene]:
    folder = tmp_path_factory.mktemp("scenes")
    movers = crossing_movers(640, 360)
    times = [round(t) for t in np.cumsum([0] + [33.3, 33.3, 50.0, 16.7, 33.3, 66.7] * 15)][:78]
    # A face pasted, far from the others, into three frames between the emulator's samples (it
    # samples the first frame at or after each multiple of 500 ms): no result covers it.
    between = [index for index, t in enumerate(times) if 1020 < t < 1180][:3]
    return {
        "crossing": make_scene(folder / "crossing.mp4", movers),
        "planted": make_scene(
            folder / "planted.mp4", movers, timestamps_ms=times, planted=between, planted_at=(20, 215)
        ),
    }


def recognisable_faces(scene: Scene, copy: Path) -> tuple[int, list[tuple[int, int, float]]]:
    """How many faces were measured, and those whose visible pixels (at least a fifth of the face)
    are still similar to the original's: (frame, mover, SSIM)."""
    measured = face_similarities(scene, copy)
    return len(measured), [
        (frame, mover, round(ssim, 2)) for frame, mover, ssim in measured if ssim >= RECOGNISABLE_SSIM
    ]


def audio_packets(path: Path) -> list[tuple[int | None, bytes]]:
    with av.open(str(path)) as container:
        return [(packet.pts, bytes(packet)) for packet in container.demux(audio=0) if packet.size]


def test_a_local_video_redacted_and_audited(stack, aws_env, workdir, scenes, capsys):
    scene = scenes["crossing"]
    video = workdir / "crossing.mp4"
    shutil.copy(scene.path, video)
    assert launch(stack, str(video), "--redact", "--report") == ExitCode.OK
    copy = workdir / "crossing.mp4.redacted.mp4"
    measured, similar = recognisable_faces(scene, copy)
    assert measured > 100 and similar == [], f"faces left recognisable (frame, mover, SSIM): {similar}"
    assert audio_packets(copy) == audio_packets(video)
    # The frame count: recognisable_faces zips the two files' frames strictly; the duration:
    with av.open(str(video)) as source, av.open(str(copy)) as written:
        assert written.duration == pytest.approx(source.duration, abs=2000)  # microseconds
    redaction = read_json(workdir / "crossing.mp4.faces.json")["Redaction"]
    assert redaction["frames"] == scene.frame_count == redaction["framesAudited"]
    assert redaction["leaks"] == [] and redaction["style"] == "blur"
    assert redaction["detector"].startswith("retinaface"), "the local endpoint's detector is installed here"
    out = capsys.readouterr().out
    assert f"redacted copy written to {Path('crossing.mp4.redacted.mp4')}" in out and "no face found" in out
    page = (workdir / "crossing.mp4.faces.html").read_text()
    assert 'href="crossing.mp4.redacted.mp4"' in page and "data-leak-frame" not in page
    assert list(workdir.glob(".*partial")) == []


def test_a_planted_face_is_found_by_the_audit_with_its_own_exit_code(stack, aws_env, workdir, scenes, capsys):
    scene = scenes["planted"]
    video = workdir / "planted.mp4"
    shutil.copy(scene.path, video)
    code = launch(stack, str(video), "--redact", "out.mp4", "--report", "--redact-style", "pixelate")
    assert code == ExitCode.REDACTION_LEAKS
    redaction = read_json(workdir / "planted.mp4.faces.json")["Redaction"]
    assert sorted(leak["frame"] for leak in redaction["leaks"]) == sorted(scene.planted)
    box = redaction["leaks"][0]["faces"][0]["boundingBox"]
    assert abs(box["Left"] * 640 - scene.planted_box.left) < 15 and abs(box["Top"] * 360 - scene.planted_box.top) < 15
    err = capsys.readouterr().err
    assert re.search(r"faces were still found in 3 frame\(s\) of the copy", err)
    page = (workdir / "planted.mp4.faces.html").read_text()
    assert page.count("data-leak-frame") == 3 and page.count('href="data:image/jpeg;base64,') >= 3
    assert (workdir / "out.mp4").stat().st_size > 10_000


def test_an_s3_video_is_redacted_from_ranged_reads(stack, aws, aws_env, workdir, scenes, monkeypatch):
    scene = scenes["crossing"]
    s3_object = upload(aws, stack["outputs"]["bucketName"], scene.path, key="incoming/remote-crossing.mp4")
    fetched: list[int] = []
    held: list[int] = []
    original_init, original_block = S3ObjectReader.__init__, S3ObjectReader._block

    def small_blocks(reader, s3, video, block_size=0, cached_blocks=0):
        original_init(reader, s3, video, block_size=64 * 1024, cached_blocks=4)

    def counting(reader, number):
        fetched.append(number)
        data = original_block(reader, number)
        held.append(len(reader._blocks))
        return data

    monkeypatch.setattr(S3ObjectReader, "__init__", small_blocks)
    monkeypatch.setattr(S3ObjectReader, "_block", counting)
    uri = f"s3://{s3_object['Bucket']}/incoming/remote-crossing.mp4"
    assert launch(stack, uri, "--redact", "--audit-every", "3") == ExitCode.OK
    # Streamed: ranged reads of 64 KB blocks covering the object, at most 4 blocks held at once.
    size = scene.path.stat().st_size
    assert set(fetched) == set(range(-(-size // (64 * 1024)))) and max(held) <= 4, (fetched, held)
    copy = workdir / "remote-crossing.mp4.redacted.mp4"
    assert recognisable_faces(scene, copy)[1] == []
    redaction = read_json(workdir / "remote-crossing.mp4.faces.json")["Redaction"]
    assert redaction["framesAudited"] == len(range(0, scene.frame_count, 3))


def test_an_existing_copy_is_refused_before_the_job(stack, endpoint, aws_env, workdir, scenes, capsys):
    video = workdir / "again.mp4"
    shutil.copy(scenes["crossing"].path, video)
    (workdir / "again.mp4.redacted.mp4").write_bytes(b"an earlier copy")
    before = job_count(endpoint)
    assert launch(stack, str(video), "--redact") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: again.mp4.redacted.mp4 exists: pass --overwrite to replace it, or name another output"]
    assert job_count(endpoint) == before and not (workdir / "again.mp4.faces.json").exists()
    assert (workdir / "again.mp4.redacted.mp4").read_bytes() == b"an earlier copy"
    assert launch(stack, str(video), "--redact", "--overwrite", "--audit-every", "0") == ExitCode.OK
    assert (workdir / "again.mp4.redacted.mp4").stat().st_size > 10_000
    assert read_json(workdir / "again.mp4.faces.json")["Redaction"]["framesAudited"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redact", "/sys/copy.mp4"], r"^error: cannot write /sys/copy\.mp4: Permission denied in /sys$"),
        (["--redact", "missing/copy.mp4"], r"^error: cannot write missing/copy\.mp4: the folder missing does not"),
        (["--redact", "VIDEO"], r"^error: --redact .*: that is the video itself; name another output$"),
        (["--redact-style", "box"], r"^error: --redact-style apply with --redact$"),
        (["--redact", "--redact-keep", "x"], r"^error: --redact-keep 'x': expected appearance numbers"),
        (["--redact", "--audit-every", "-1"], r"^error: --audit-every must be 0 \(no audit\) or more, got -1$"),
    ],
)
def test_bad_redaction_options_are_refused_before_the_job(
    stack, endpoint, aws_env, workdir, scenes, capsys, args, message
):
    video = workdir / "bad.mp4"
    shutil.copy(scenes["crossing"].path, video)
    before = job_count(endpoint)
    args = [str(video) if arg == "VIDEO" else arg for arg in args]
    assert launch(stack, str(video), *args) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert job_count(endpoint) == before
    assert sorted(path.name for path in workdir.iterdir()) == ["bad.mp4"]


def test_a_failed_job_writes_no_copy(stack, aws, aws_env, workdir, scenes, capsys):
    corrupt = workdir / "corrupt.mp4"
    corrupt.write_bytes(scenes["crossing"].path.read_bytes()[:2000])
    s3_object = upload(aws, stack["outputs"]["bucketName"], corrupt, key="broken/redact-corrupt.mp4")
    code = launch(stack, f"s3://{s3_object['Bucket']}/broken/redact-corrupt.mp4", "--redact")
    assert code == ExitCode.JOB_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ended FAILED: Unsupported video" in err[0]
    assert sorted(path.name for path in workdir.iterdir()) == ["corrupt.mp4"]


def test_a_batch_writes_one_copy_per_video(stack, aws_env, workdir, scenes, capsys):
    folder = workdir / "in"
    folder.mkdir()
    shutil.copy(scenes["crossing"].path, folder / "one.mp4")
    shutil.copy(scenes["crossing"].path, folder / "two.mp4")
    assert launch(stack, str(folder), "--out-dir", "done", "--redact", "--audit-every", "2") == ExitCode.OK
    for name in ("one.mp4", "two.mp4"):
        copy = workdir / "done" / f"{name}.redacted.mp4"
        assert recognisable_faces(scenes["crossing"], copy)[1] == []
        assert json.loads((workdir / "done" / f"{name}.faces.json").read_text())["Redaction"]["leaks"] == []
    assert launch(stack, str(folder), "--out-dir", "kept", "--redact", "--redact-keep", "0") == ExitCode.BAD_INPUT
    assert "--redact-keep names one video's appearances" in capsys.readouterr().err
    # Resumed: the copies are there, not redone.
    assert launch(stack, str(folder), "--out-dir", "done", "--redact") == ExitCode.OK
    assert "exists, not redacted again" in capsys.readouterr().out
    assert list((workdir / "done").glob(".*partial")) == []


def test_keeping_a_person_with_people(stack, aws_env, workdir, scenes):
    """--people groups the scene's faces (copies of one photograph: one person, whichever way it
    faces); --redact-keep p<N> leaves every appearance of that person uncovered, and the audit does
    not count them."""
    video = workdir / "people.mp4"
    shutil.copy(scenes["crossing"].path, video)
    assert launch(stack, str(video), "--people", "--redact", "--redact-keep", "p0") == ExitCode.OK
    result = read_json(workdir / "people.mp4.faces.json")
    of_person_0 = sorted(entry["Index"] for entry in result["Appearances"] if entry.get("PersonIndex") == 0)
    assert of_person_0 and result["Redaction"]["kept"] == of_person_0
    assert result["Redaction"]["keptPersons"] == [0] and result["Redaction"]["leaks"] == []


def test_keeping_a_person_needs_people(stack, endpoint, aws_env, workdir, scenes, capsys):
    video = workdir / "nopeople.mp4"
    shutil.copy(scenes["crossing"].path, video)
    before = job_count(endpoint)
    assert launch(stack, str(video), "--redact", "--redact-keep", "p0") == ExitCode.BAD_INPUT
    assert capsys.readouterr().err.strip() == "error: --redact-keep p<N> names people: add --people"
    assert job_count(endpoint) == before


def test_an_appearance_the_video_has_not_is_refused_with_a_command_that_uses_the_same_job(
    stack, endpoint, aws_env, workdir, scenes, capsys
):
    """Known only once the job has ended: its results are written, and the lines say so, not that the
    job "may keep running" with a command to re-attach to it; the command printed replaces them."""
    video = workdir / "unknown-keep.mp4"
    shutil.copy(scenes["crossing"].path, video)
    assert launch(stack, str(video), "--quiet", "--redact", "--redact-keep", "99") == ExitCode.BAD_INPUT
    jobs = job_count(endpoint)
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(
        r"error: --redact-keep 99: no such appearance \(this video has \d+, numbered 0 to \d+\)\n"
        r"job (\S+) ended and its results were written; to finish, correct what the line above names and run:"
        r"\n  .* --redact-keep 99 --outputs \S+ "
        r"--overwrite --attach \1",
        err,
    ), err
    assert read_json(workdir / "unknown-keep.mp4.faces.json")["JobStatus"] == "SUCCEEDED"
    assert not (workdir / "unknown-keep.mp4.redacted.mp4").exists()
    assert list(workdir.glob(".*partial")) == []
    assert launch(stack, str(video), "--quiet", "--redact", "--redact-keep", "0", "--overwrite") == ExitCode.OK
    assert job_count(endpoint) == jobs


def _ctrl_c(*_: object, **__: object) -> None:
    raise KeyboardInterrupt


def _launch_stopped_in_the_audit(stack, scenes, monkeypatch, video: Path, stop, *options: str) -> int:
    """A launch of a copy of the crossing scene whose audit ``stop`` stands in for: its exit code."""
    import launcher.redact.redaction

    shutil.copy(scenes["crossing"].path, video)
    with monkeypatch.context() as patched:
        patched.setattr(launcher.redact.redaction, "audit_video", stop)
        return launch(stack, str(video), *options, "--redact")


def test_ctrl_c_in_the_audit_leaves_the_results_no_copy_and_a_command_that_finishes(
    stack, endpoint, aws_env, workdir, scenes, capsys, monkeypatch
):
    """The job has ended and its results are written: the command printed is not "keeps running ...
    --attach" alone (which the results file would then refuse), but one that replaces them."""
    stopped = _launch_stopped_in_the_audit(stack, scenes, monkeypatch, workdir / "stopped.mp4", _ctrl_c, "--quiet")
    assert stopped == ExitCode.INTERRUPTED
    jobs = job_count(endpoint)
    *_, said, command = capsys.readouterr().err.strip().splitlines()
    ended = re.fullmatch(r"interrupted after job (\w+) ended and its results were written; to finish, run:", said)
    assert ended, said
    assert (workdir / "stopped.mp4.faces.json").exists() and not (workdir / "stopped.mp4.redacted.mp4").exists()
    argv, prefix = shlex.split(command), shlex.split(python_command())
    assert argv[: len(prefix)] == prefix and "--overwrite" in argv
    assert main(argv[len(prefix) :]) == ExitCode.OK
    result = read_json(workdir / "stopped.mp4.faces.json")
    assert result["Redaction"]["leaks"] == [] and result["JobId"] == ended[1]
    assert job_count(endpoint) == jobs


def test_ctrl_c_in_the_audit_with_json_does_not_say_the_ended_job_keeps_running(
    stack, endpoint, aws_env, workdir, scenes, capsys, monkeypatch
):
    """--json's object said "interrupted; job ... keeps running" of a job that had ended."""
    video = workdir / "stopped-json.mp4"
    assert _launch_stopped_in_the_audit(stack, scenes, monkeypatch, video, _ctrl_c, "--json") == ExitCode.INTERRUPTED
    said = json.loads(capsys.readouterr().out)
    assert said["exitCode"] == 130 and said["error"].startswith(
        f"interrupted after job {said['jobId']} ended and its results were written; to finish, run: "
    )
    assert said["error"].endswith(f"--json --redact --outputs {stack['file']} --overwrite --attach {said['jobId']}")


def test_sigterm_in_the_redaction_is_taken_as_ctrl_c_and_leaves_no_temporary_file(
    stack, aws_env, workdir, scenes, capsys, monkeypatch
):
    """kill (or timeout) ended the process at once, leaving .NAME.XXXX.partial files beside the
    results. A real SIGTERM, sent to this process while the copy is being audited."""
    import os
    import signal

    def terminate(*_: object, **__: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    video = workdir / "terminated.mp4"
    assert _launch_stopped_in_the_audit(stack, scenes, monkeypatch, video, terminate, "--quiet") == ExitCode.INTERRUPTED
    assert signal.getsignal(signal.SIGTERM) is before  # the launcher's handler is gone with it
    said = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(r"interrupted after job \w+ ended and its results were written; to finish, run:", said[-2])
    assert sorted(path.name for path in workdir.iterdir()) == ["terminated.mp4", "terminated.mp4.faces.json"]
