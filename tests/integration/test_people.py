"""Cuts and --people through the local endpoint: a slideshow of a real photograph (scikit-image's
astronaut), with hard cuts between shots, run by the launcher against the stack deployed into it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from skimage import data

from launcher.cli import main
from launcher.jobs.errors import ExitCode
from synthetic import HEAD_CROP

WIDTH, HEIGHT, FPS = 640, 360, 25


def shot(backdrop: np.ndarray, head: np.ndarray | None, x: int) -> np.ndarray:
    frame = np.asarray(av.VideoFrame.from_ndarray(backdrop, format="rgb24").reformat(WIDTH, HEIGHT).to_ndarray())
    frame = frame.copy()
    if head is not None:
        y = (HEIGHT - head.shape[0]) // 2
        frame[y : y + head.shape[0], x : x + head.shape[1]] = head
    return frame


@pytest.fixture(scope="module")
def slideshow(tmp_path_factory) -> Path:
    """Four 2 s shots with hard cuts at 2, 4 and 6 s: the astronaut at the centre over the coffee
    photograph; the same, at the same place, over the cat; no face (the rocket); the astronaut
    mirrored at the left over the coffee."""
    head = data.astronaut()[HEAD_CROP[1] : HEAD_CROP[1] + HEAD_CROP[3], HEAD_CROP[0] : HEAD_CROP[0] + HEAD_CROP[2]]
    centre = (WIDTH - head.shape[1]) // 2
    shots = [
        shot(data.coffee(), head, centre),
        shot(data.chelsea(), head, centre),
        shot(data.rocket(), None, 0),
        shot(data.coffee(), head[:, ::-1], 40),
    ]
    path = tmp_path_factory.mktemp("slideshow") / "slideshow.mp4"
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in shots:
            for _ in range(2 * FPS):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def run(stack: dict[str, Any], folder: Path, slideshow: Path, *args: str) -> tuple[int, dict[str, Any]]:
    video = folder / "slideshow.mp4"
    shutil.copy(slideshow, video)
    code = main([str(video), "--outputs", str(stack["file"]), *args])
    return code, json.loads((folder / "slideshow.mp4.faces.json").read_text())


# Samples are the frames on screen every 500 ms (the service's cadence); at 25 fps the one at 1500 ms
# starts at 1480 ms, so a 2 s shot's faces span 0-1480 ms of it.


def spans(result: dict[str, Any]) -> list[tuple[int, int]]:
    return [(a["StartTimestamp"], a["EndTimestamp"]) for a in result["Appearances"]]


def test_without_people_a_cut_ends_the_appearance_even_at_the_same_place(
    stack, aws_env, slideshow, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    code, result = run(stack, tmp_path, slideshow)
    assert code == ExitCode.OK
    assert spans(result) == [(0, 1480), (2000, 3480), (6000, 7480)]
    assert "Persons" not in result
    assert all("PersonIndex" not in face for face in result["Faces"])


def test_people_join_the_same_face_across_a_cut_and_when_it_comes_back(
    stack, aws_env, slideshow, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    code, result = run(stack, tmp_path, slideshow, "--people", "--report")
    assert code == ExitCode.OK, capsys.readouterr()
    assert spans(result) == [(0, 3480), (6000, 7480)], "the same face on both sides of the cut: one appearance"
    assert [a["PersonIndex"] for a in result["Appearances"]] == [0, 0], "she comes back: the same person"
    (person,) = result["Persons"]
    assert person["AppearanceIndexes"] == [0, 1]
    assert (person["FirstTimestamp"], person["LastTimestamp"], person["DurationMillis"]) == (0, 7480, 3480 + 1480)
    assert {face["PersonIndex"] for face in result["Faces"]} == {0}
    assert "of 1 person(s)" in capsys.readouterr().out
    # No template anywhere: no list of 128 numbers in the results or the report.
    text = (tmp_path / "slideshow.mp4.faces.json").read_text()
    assert "Embedding" not in text
    assert not _has_long_number_list(json.loads(text))
    page = (tmp_path / "slideshow.mp4.faces.html").read_text()
    assert page.count('<section class="person"') == 1, "the cards grouped by person"
    assert "<b>person 0</b>: 5.0 s on screen in 2 appearances" in page
    assert page.count('<figure class="appearance"') == 2


def _has_long_number_list(value: Any) -> bool:
    if isinstance(value, list):
        if len(value) >= 64 and all(isinstance(item, float) for item in value):
            return True
        return any(_has_long_number_list(item) for item in value)
    if isinstance(value, dict):
        return any(_has_long_number_list(item) for item in value.values())
    return False


def test_people_when_the_model_cannot_load_says_so_in_one_line_and_writes_the_results(
    stack, aws_env, slideshow, tmp_path, monkeypatch, capsys
):
    import launcher.people.embedding as embedding

    monkeypatch.setattr(embedding, "_models_folder", lambda: tmp_path / "no-models")
    monkeypatch.chdir(tmp_path)
    code, result = run(stack, tmp_path, slideshow, "--people")
    assert code == ExitCode.OK
    output = capsys.readouterr()
    lines = [line for line in (output.out + output.err).splitlines() if "--people" in line]
    assert len(lines) == 1, lines
    assert "model" in lines[0] and "without people" in lines[0]
    assert "Traceback" not in output.err
    assert spans(result) == [(0, 1480), (2000, 3480), (6000, 7480)], "the cut rule still applies"
    assert "Persons" not in result


def test_a_batch_with_people_finds_the_same_person_in_both_videos(stack, aws_env, slideshow, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(slideshow, folder / "first.mp4")
    # The second video: the first one's last two shots only (she is mirrored, on the left).
    with av.open(str(slideshow)) as source, av.open(str(folder / "second.mp4"), mode="w") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for number, frame in enumerate(source.decode(video=0)):
            if number >= 4 * FPS:
                for packet in stream.encode(
                    av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
                ):
                    output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    out = tmp_path / "out"
    code = main([str(folder), "--outputs", str(stack["file"]), "--out-dir", str(out), "--people", "--report"])
    assert code == ExitCode.OK, capsys.readouterr()
    document = json.loads((out / "persons.json").read_text())
    (person,) = document["Persons"]
    assert person["VideoCount"] == 2
    assert [(seen["Video"].rsplit("/", 1)[-1], seen["PersonIndex"]) for seen in person["Videos"]] == [
        ("first.mp4", 0),
        ("second.mp4", 0),
    ]
    assert person["DurationMillis"] == (3480 + 1480) + 1480
    assert not _has_long_number_list(document)
    second = json.loads((out / "second.mp4.faces.json").read_text())
    assert [a["PersonIndex"] for a in second["Appearances"]] == [0]
    index = (out / "index.html").read_text()
    assert "People across the videos" in index
    assert "<b>person 0</b>: 2 videos, 6.4 s" in index
    # Again: both videos are skipped as written, and their people are found again from the files.
    code = main([str(folder), "--outputs", str(stack["file"]), "--out-dir", str(out), "--people"])
    assert code == ExitCode.OK
    assert json.loads((out / "persons.json").read_text()) == document
    # Without --people, no persons file is left behind to describe results it did not group.
    assert main([str(folder), "--outputs", str(stack["file"]), "--out-dir", str(out)]) == ExitCode.OK
    assert not (out / "persons.json").exists()


def test_the_cuts_of_an_s3_video_are_read_from_s3(stack, aws, aws_env, slideshow, tmp_path, monkeypatch):
    bucket = stack["outputs"]["bucketName"]
    aws("s3").upload_file(str(slideshow), bucket, "incoming/slideshow.mp4")
    monkeypatch.chdir(tmp_path)
    assert main([f"s3://{bucket}/incoming/slideshow.mp4", "--outputs", str(stack["file"])]) == ExitCode.OK
    result = json.loads((tmp_path / "slideshow.mp4.faces.json").read_text())
    assert spans(result) == [(0, 1480), (2000, 3480), (6000, 7480)]
