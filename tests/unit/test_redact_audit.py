"""The leak audit (launcher/redact/audit.py): each detector finds a face pasted into a few frames and
nothing else, every k-th frame only, kept appearances are no leak, and the choice of detector."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.jobs.appearances import Box, Detection, group_appearances
from launcher.jobs.errors import BadInput
from launcher.redact import audit
from launcher.redact.audit import audit_video, default_every, load_detector
from launcher.redact.boxes import Timeline
from launcher.redact.writer import redact_video
from synthetic.scenes import Mover, Scene, crossing_movers, make_scene, panning_photographs, scene_faces

PLANTED = [5, 6, 7, 20]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """No face but a pasted one, in four frames (constant 30 fps, 1 s)."""
    path = tmp_path_factory.mktemp("audit") / "planted.mp4"
    times = [index * 1000 / 30 for index in range(30)]
    return make_scene(path, [], timestamps_ms=times, planted=PLANTED, planted_at=(300, 120), audio=False)


def installed(name: str) -> audit.AuditDetector:
    try:
        return load_detector(name)
    except BadInput as error:
        pytest.skip(f"{name} is not installed here: {error}")


@pytest.mark.parametrize("name", ["retinaface", "yuface", "opencv"])
def test_each_detector_finds_the_planted_face_and_nothing_else(planted: Scene, name: str) -> None:
    detector = installed(name)
    found = audit_video(planted.path, detector, every=1)
    assert (found.frames, found.audited) == (30, 30)
    assert [leak.frame for leak in found.leaks] == PLANTED
    assert planted.planted_box is not None
    (box, score), *others = found.leaks[0].faces
    assert not others and 0 < score <= 1
    assert abs(box.left * 640 - planted.planted_box.left) < 20 and abs(box.top * 360 - planted.planted_box.top) < 20
    assert found.leaks[0].thumbnail is not None and found.leaks[0].thumbnail.jpeg[:2] == b"\xff\xd8"
    assert found.leaks[0].to_api()["timestamp"] == round(PLANTED[0] * 1000 / 30)


def test_every_k_th_frame_only(planted: Scene) -> None:
    found = audit_video(planted.path, installed("yuface"), every=5)
    assert found.audited == 6 and [leak.frame for leak in found.leaks] == [5, 20]


def test_a_kept_appearance_is_no_leak(planted: Scene) -> None:
    """The planted face as an appearance left uncovered on purpose (--redact-keep)."""
    assert planted.planted_box is not None
    face = planted.planted_box
    box = Box(face.left / 640, face.top / 360, face.width / 640, face.height / 360)
    appearances = group_appearances([Detection(at, box) for at in (167, 233, 667)]).appearances
    kept = Timeline(appearances, keep=[appearance.index for appearance in appearances])
    found = audit_video(planted.path, installed("yuface"), every=1, timeline=kept)
    assert [leak.frame for leak in found.leaks] == []
    covered_elsewhere = Timeline(appearances)  # not kept: its faces are leaks like any other
    again = audit_video(planted.path, installed("yuface"), 1, covered_elsewhere)
    assert [leak.frame for leak in again.leaks] == PLANTED


def test_auto_takes_the_first_installed_and_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> audit.AuditDetector:
        raise ImportError("not here")

    monkeypatch.setitem(audit._FACTORIES, "retinaface", missing)
    assert load_detector("auto").name.startswith("yuface")
    monkeypatch.setitem(audit._FACTORIES, "yuface", missing)
    monkeypatch.setitem(audit._FACTORIES, "opencv", missing)
    with pytest.raises(BadInput, match=r"no face detector for the leak audit is installed .*--audit-every 0$"):
        load_detector("auto")


def test_the_default_k_follows_the_frame_size() -> None:
    assert [default_every(*size) for size in ((640, 360), (1280, 720), (720, 1280), (1920, 1080), (3840, 2160))] == [
        1,
        1,
        1,
        2,
        4,
    ]


def test_an_audit_of_no_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every must be 1 or more"):
        audit_video(tmp_path / "x.mp4", installed("yuface"), every=0)


def test_a_mover_scene_has_faces_for_the_audit(tmp_path: Path) -> None:
    """The scenes' faces are faces to the detectors: the audit has something to find."""
    times = [index * 1000 / 30 for index in range(10)]
    scene = make_scene(
        tmp_path / "one.mp4", [Mover(0, 1000, (200, 40), (260, 40), 0.8)], timestamps_ms=times, audio=False
    )
    assert len(audit_video(scene.path, installed("yuface"), every=1).leaks) == 10


@pytest.mark.parametrize(("name", "size"), [("retinaface", (1280, 720)), ("yuface", (640, 360))])
def test_a_photographic_background_is_no_leak(tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    """bench/redaction.py's clip, redacted: faces crossing a panning background (a coffee cup, a
    rocket, a cat) where RetinaFace's candidates (0.53-0.58) and libfacedetection (66) saw a face
    beside the blurred boxes, under the audit's scores."""
    detector = installed(name)
    width, height = size
    times = [index * 1000 / 30 for index in range(16 if width == 640 else 84)]  # to where the false faces were
    scene = make_scene(
        tmp_path / "background.mp4",
        crossing_movers(width, height, seconds=4.0),
        width=width,
        height=height,
        timestamps_ms=times,
        backdrop=panning_photographs(width, height),
        crf=20,
        audio=False,
    )
    faces = scene_faces(scene, 200)
    appearances = group_appearances(Detection.from_face(face) for face in faces).appearances
    copy = tmp_path / "copy.mp4"
    redact_video(scene.path, copy, Timeline(appearances))
    assert audit_video(copy, detector, every=1).leaks == []
