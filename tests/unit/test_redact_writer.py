"""The redacted copy (launcher/redact/writer.py, redaction.py), on synthetic scenes made from real
photographs (synthetic/scenes.py): faces moving fast, crossing, accelerating, entering and leaving
at the frame's edges, at a variable frame rate, with AAC audio and a rotation.

"Changed beyond recognition" is measured against the original's pixels: the structural similarity
(SSIM) of every face's visible pixels between the source and the copy. The same pipeline with
nothing to cover gives 0.98-0.99 there (encoding alone); covered faces must stay under 0.35
(measured: blur at most 0.23, pixelate 0.28, box 0.0)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from launcher.jobs.appearances import Appearance, Detection, group_appearances
from launcher.jobs.errors import BadInput, ExitCode
from launcher.redact.audit import Audit, AuditDetector, Found
from launcher.redact.boxes import Timeline
from launcher.redact.options import STYLES, RedactOptions, parse_keep
from launcher.redact.redaction import Redaction, add_to_results, redact
from launcher.redact.writer import UnreadableVideo, display_matrix, redact_video
from synthetic.scenes import (
    RECOGNISABLE_SSIM,
    Scene,
    crossing_movers,
    face_similarities,
    make_scene,
    rgb_frames,
    scene_faces,
)

SAMPLE_MS = 200  # the local emulator's sampling interval


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    folder = tmp_path_factory.mktemp("scene")
    return make_scene(folder / "crossing.mp4", crossing_movers(640, 360), width=640, height=360, rotation=90)


@pytest.fixture(scope="module")
def found(scene: Scene) -> list[Appearance]:
    """The appearances of the scene's results, as the launcher groups them."""
    return group_appearances(Detection.from_face(face) for face in scene_faces(scene, SAMPLE_MS)).appearances


@pytest.fixture(scope="module")
def odd_scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    """321x181, as a browser's recording of a window may be: VP9 in 4:2:0 (whose chroma rounds
    up), in Matroska, with AAC audio and a variable frame rate."""
    folder = tmp_path_factory.mktemp("odd")
    return make_scene(folder / "odd.mkv", crossing_movers(321, 181), width=321, height=181, codec="libvpx-vp9")


@pytest.mark.parametrize("style", STYLES)
def test_every_face_of_every_frame_is_changed_beyond_recognition(
    scene: Scene, found: list[Appearance], style: str, tmp_path: Path
) -> None:
    out = tmp_path / "copy.mp4"
    written = redact_video(scene.path, out, Timeline(found), style)
    measured = face_similarities(scene, out)
    assert len(measured) > 100, "the scene shows faces in most frames"
    recognisable = [item for item in measured if item[2] >= RECOGNISABLE_SSIM]
    assert not recognisable, f"faces still recognisable (frame, mover, SSIM): {recognisable}"
    assert {mover for _frame, mover, _ssim in measured} == {0, 1, 2}
    assert written.covered_frames >= len({frame for frame, _mover, _ssim in measured})


def test_the_control_nothing_to_cover_leaves_faces_recognisable(scene: Scene, tmp_path: Path) -> None:
    """The measure tells: the same pipeline with no boxes keeps every face."""
    out = tmp_path / "copy.mp4"
    written = redact_video(scene.path, out, Timeline([]))
    assert written.covered_frames == 0
    assert min(ssim for _frame, _mover, ssim in face_similarities(scene, out)) > 0.9


def test_the_background_away_from_faces_is_kept(scene: Scene, found: list[Appearance], tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"
    redact_video(scene.path, out, Timeline(found))
    for original, redacted in zip(rgb_frames(scene.path), rgb_frames(out), strict=True):
        corner = (slice(300, 360), slice(0, 120))  # bottom left: no face passes there
        assert structural_similarity(original[corner].mean(2), redacted[corner].mean(2), data_range=255) > 0.9


def packets(path: Path, kind: str) -> list[tuple[Fraction | None, Fraction | None, bytes]]:
    """Each packet's presentation and decoding time (in seconds, exactly: containers count in their
    own time bases) and bytes."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0] if kind == "audio" else container.streams.video[0]
        base = stream.time_base
        assert base is not None
        return [
            (
                None if packet.pts is None else packet.pts * base,
                None if packet.dts is None else packet.dts * base,
                bytes(packet),
            )
            for packet in container.demux(stream)
            if packet.size
        ]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0) if frame.time is not None]


def test_the_copy_keeps_audio_packets_timestamps_size_rotation_and_duration(
    scene: Scene, found: list[Appearance], tmp_path: Path
) -> None:
    out = tmp_path / "copy.mp4"
    written = redact_video(scene.path, out, Timeline(found))
    assert packets(out, "audio") == packets(scene.path, "audio")
    assert written.audio_packets == len(packets(scene.path, "audio")) > 100
    source_times = frame_times(scene.path)
    assert frame_times(out) == pytest.approx(source_times, abs=1e-4)
    assert written.frames == scene.frame_count == len(source_times)
    steps = np.round(np.diff(source_times) * 1000)
    assert len(set(steps)) > 3, "the scene's frame rate is variable"
    with av.open(str(scene.path)) as source, av.open(str(out)) as copy:
        assert (copy.streams.video[0].width, copy.streams.video[0].height) == (640, 360)
        assert copy.streams.video[0].codec_context.name == "h264"
        assert copy.duration == pytest.approx(source.duration, abs=2000)  # microseconds
        first_source, first_copy = next(source.decode(video=0)), next(copy.decode(video=0))
        assert display_matrix(first_copy) == display_matrix(first_source) is not None
        assert first_copy.rotation == 90


def test_an_existing_output_is_refused_unless_overwrite(scene: Scene, tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(BadInput, match=r"exists: pass --overwrite"):
        redact_video(scene.path, out, Timeline([]))
    assert out.read_bytes() == b"keep me"
    redact_video(scene.path, out, Timeline([]), overwrite=True)
    assert out.stat().st_size > 10_000
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.mp4"]


def test_an_unwritable_folder_is_refused_in_one_line(scene: Scene, tmp_path: Path) -> None:
    """A folder without write permission (for root, who may write anywhere else, /sys)."""
    folder = Path("/sys") if os.geteuid() == 0 else tmp_path / "locked"
    if folder != Path("/sys"):
        folder.mkdir()
        folder.chmod(0o500)
    before = sorted(folder.iterdir())
    try:
        with pytest.raises(BadInput, match=rf"^cannot write {folder}/copy\.mp4: Permission denied in {folder}$"):
            redact_video(scene.path, folder / "copy.mp4", Timeline([]))
        assert sorted(folder.iterdir()) == before
    finally:
        if folder != Path("/sys"):
            folder.chmod(0o700)


def test_a_missing_folder_is_refused(scene: Scene, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"the folder .*nowhere does not exist"):
        redact_video(scene.path, tmp_path / "nowhere" / "copy.mp4", Timeline([]))


def test_a_video_that_breaks_midway_leaves_nothing_behind(scene: Scene, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    data = scene.path.read_bytes()
    broken.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: unreadable
    out = tmp_path / "copy.mp4"
    with pytest.raises(UnreadableVideo, match=r"^cannot read the video: "):
        redact_video(broken, out, Timeline([]))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.mp4"]


def test_an_interrupted_redaction_leaves_nothing_behind(scene: Scene, found: list[Appearance], tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"

    def interrupt(covered: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        redact_video(scene.path, out, Timeline(found), on_frame=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_audit_leaves_no_copy_behind(scene: Scene, found: list[Appearance], tmp_path: Path) -> None:
    """The copy is whole before the audit starts; Ctrl-C in the audit must not leave it under its
    name with no audit to vouch for it (docs/redaction.md: an interrupted redaction leaves nothing)."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        redact(scene.path, found, tmp_path / "copy.mp4", RedactOptions(), detector=NoFaces(), on_audited=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_the_copy_takes_its_name_only_once_audited(scene: Scene, found: list[Appearance], tmp_path: Path) -> None:
    """The audit reads the copy under its temporary name: a kill (SIGKILL, a crash) during the audit
    leaves no unaudited copy under the final name, nor is one seen there while the audit runs."""
    out = tmp_path / "copy.mp4"
    seen: list[list[str]] = []

    def look() -> None:
        seen.append(sorted(path.name for path in tmp_path.iterdir()))

    redaction = redact(scene.path, found, out, RedactOptions(audit_every=10), detector=NoFaces(), on_audited=look)
    assert seen and all(len(names) == 1 and names[0].endswith(".partial") for names in seen), seen[:1]
    assert redaction.written.path == out and [path.name for path in tmp_path.iterdir()] == ["copy.mp4"]


def test_a_copy_with_the_longest_name_the_file_system_takes_is_written(
    scene: Scene, found: list[Appearance], tmp_path: Path
) -> None:
    """The temporary file's name is the copy's name with a prefix and a suffix: at 255 bytes it was
    longer than the file system takes ("File name too long"); its prefix is cut as the results' is."""
    out = tmp_path / ("v" * (255 - len(".mp4")) + ".mp4")
    redaction = redact(scene.path, found, out, RedactOptions(audit_every=0), detector=NoFaces())
    assert redaction.written.path == out and [path.name for path in tmp_path.iterdir()] == [out.name]


class NoFaces(AuditDetector):
    name = "none-found"

    def find(self, rgb: np.ndarray) -> list[Found]:
        return []


def test_an_unknown_style_is_refused(scene: Scene, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--redact-style 'smudge': choose one of blur, pixelate, box"):
        redact_video(scene.path, tmp_path / "copy.mp4", Timeline([]), "smudge")


def test_keep_parses_appearance_numbers() -> None:
    assert parse_keep("3,0, 3") == ((0, 3), ())
    assert parse_keep("p2,1,P0") == ((1,), (0, 2))
    assert parse_keep(None) == ((), ())
    with pytest.raises(BadInput, match=r"--redact-keep 'a,1': expected appearance numbers"):
        parse_keep("a,1")


def test_a_kept_appearance_stays_recognisable_and_is_no_leak(
    scene: Scene, found: list[Appearance], tmp_path: Path
) -> None:
    """Keep the small face (mover 2): its frames keep it, the others are covered, the audit (yuface,
    which every install of the local endpoint has) finds no leak."""
    small = [appearance.index for appearance in found if appearance.best_box.width < 0.085]
    assert small
    out = tmp_path / "copy.mp4"
    options = RedactOptions(keep=tuple(small), audit_every=1, detector="yuface")
    redaction = redact(scene.path, found, out, options)
    measured = face_similarities(scene, out, min_visible=0.9)
    kept = [ssim for _frame, mover, ssim in measured if mover == 2]
    assert kept and min(kept) > 0.9
    assert max(ssim for _frame, mover, ssim in measured if mover != 2) < RECOGNISABLE_SSIM
    assert redaction.audit.leaks == [] and redaction.exit_code == ExitCode.OK
    assert redaction.to_api()["kept"] == small


def test_keeping_a_person_keeps_all_their_appearances(scene: Scene, found: list[Appearance], tmp_path: Path) -> None:
    """``p1`` with --people: every appearance grouped into person 1 (here: all but the small face's)."""
    small = {appearance.index for appearance in found if appearance.best_box.width < 0.085}
    persons = [0 if appearance.index in small else 1 for appearance in found]
    options = RedactOptions(keep_persons=(1,), audit_every=0)
    redaction = redact(scene.path, found, tmp_path / "copy.mp4", options, person_of_appearance=persons)
    assert set(redaction.kept) == {appearance.index for appearance in found} - small
    assert redaction.to_api()["keptPersons"] == [1]
    with pytest.raises(BadInput, match=r"--redact-keep p7: no such person in this video"):
        redact(scene.path, found, tmp_path / "x.mp4", RedactOptions(keep_persons=(7,)), person_of_appearance=persons)
    with pytest.raises(BadInput, match=r"--redact-keep p<N> names people: add --people"):
        redact(scene.path, found, tmp_path / "x.mp4", RedactOptions(keep_persons=(1,)))


def test_keeping_an_appearance_the_video_has_not_is_refused(
    scene: Scene, found: list[Appearance], tmp_path: Path
) -> None:
    with pytest.raises(BadInput, match=rf"--redact-keep 99: no such appearance \(this video has {len(found)}"):
        redact(scene.path, found, tmp_path / "copy.mp4", RedactOptions(keep=(99,), audit_every=0))
    assert list(tmp_path.iterdir()) == []


def test_the_redaction_goes_into_json_results_or_beside_other_formats(tmp_path: Path) -> None:
    results = tmp_path / "clip.mp4.faces.json"
    results.write_text('{"JobStatus": "SUCCEEDED", "Faces": [\n  {"Timestamp": 0}\n], "Appearances": [\n]}\n')
    member = {"frames": 10, "framesAudited": 10, "leaks": [{"frame": 3}], "output": "é.mp4"}
    assert add_to_results(results, "json", member) == results
    document = json.loads(results.read_text())
    assert document["Redaction"] == member and document["Faces"] == [{"Timestamp": 0}]
    again = {**member, "leaks": []}
    add_to_results(results, "json", again)  # --overwrite: replaced, not repeated
    assert results.read_text().count('"Redaction"') == 1 and json.loads(results.read_text())["Redaction"] == again
    csv_results = tmp_path / "clip.mp4.faces.csv"
    csv_results.write_text("timestamp_ms\n0\n")
    sidecar = add_to_results(csv_results, "csv", member)
    assert sidecar.name == "clip.mp4.faces.csv.redaction.json"
    assert json.loads(sidecar.read_text()) == {"Redaction": member}
    assert csv_results.read_text() == "timestamp_ms\n0\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([results.name, csv_results.name, sidecar.name])


def test_leaks_give_their_own_exit_code(tmp_path: Path) -> None:
    from launcher.redact.audit import Leak
    from launcher.redact.writer import Written

    written = Written(tmp_path / "x.mp4", 10, 5, 5, 0, 640, 360, 1.0)
    clean = Redaction(written, Audit("yuface", 1, frames=10, audited=10), "blur", ())
    leaky = Redaction(written, Audit("yuface", 1, 10, 10, [Leak(3, 100, ())]), "blur", ())
    assert (clean.exit_code, leaky.exit_code) == (ExitCode.OK, ExitCode.REDACTION_LEAKS)
    assert leaky.to_api()["leaks"] == [{"frame": 3, "timestamp": 100, "faces": []}]
    assert {"frames", "framesAudited", "leaks"} <= set(clean.to_api())


def test_an_odd_size_is_kept(odd_scene: Scene, tmp_path: Path) -> None:
    """H.264's 4:2:0 needs even sides: such a video is encoded in 4:4:4 at its own size, and the
    leak audit reads that copy."""
    found = group_appearances(Detection.from_face(face) for face in scene_faces(odd_scene, SAMPLE_MS)).appearances
    out = tmp_path / "copy.mp4"
    redaction = redact(odd_scene.path, found, out, RedactOptions(audit_every=3, detector="yuface"))
    written = redaction.written
    assert redaction.audit.audited == len(range(0, odd_scene.frame_count, 3)) and redaction.audit.leaks == []
    with av.open(str(odd_scene.path)) as source, av.open(str(out)) as copy:
        assert (source.streams.video[0].width, source.streams.video[0].height) == (321, 181)
        video = copy.streams.video[0]
        assert (video.width, video.height, written.width, written.height) == (321, 181, 321, 181)
        assert video.codec_context.name == "h264" and video.codec_context.profile == "High 4:4:4 Predictive"
        assert {frame.width for frame in copy.decode(video=0)} == {321}
    assert frame_times(out) == pytest.approx(frame_times(odd_scene.path), abs=1e-4)
    assert packets(out, "audio") == packets(odd_scene.path, "audio")
    measured = face_similarities(odd_scene, out)
    assert len(measured) > 100 and max(ssim for _frame, _mover, ssim in measured) < RECOGNISABLE_SSIM


class FailingSource(io.RawIOBase):
    """A video read as an S3 object is: a file object, which fails after ``reads`` reads (a
    connection reset midway)."""

    def __init__(self, data: bytes, reads: int) -> None:
        super().__init__()
        self.data, self.position, self.reads = data, 0, reads

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = (0, self.position, len(self.data))[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        self.reads -= 1
        if self.reads < 0:
            raise ConnectionResetError(104, "Connection reset by peer")
        chunk = self.data[self.position : self.position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_a_source_that_fails_midway_is_one_line_and_leaves_nothing(
    scene: Scene, found: list[Appearance], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The read error is raised as such (not taken for the video's end, not 'cannot write'), once,
    with no traceback printed by PyAV, after frames were already written."""
    data = scene.path.read_bytes()
    whole = FailingSource(data, reads=10**6)
    with av.open(whole) as container:  # the reads of a whole pass (demuxing reads as the redaction does)
        for _packet in container.demux():
            pass
    written_frames: list[int] = []
    source = FailingSource(data, reads=(10**6 - whole.reads) // 2)
    with pytest.raises(UnreadableVideo, match=r"^cannot read the video: Connection reset by peer$"):
        redact_video(source, tmp_path / "copy.mp4", Timeline(found), on_frame=written_frames.append)
    assert written_frames, "it failed midway, not at the start"
    assert list(tmp_path.iterdir()) == []
    assert "Traceback" not in capfd.readouterr().err


REDACT_IN_A_PROCESS = """
import pickle, sys
from pathlib import Path
from launcher.redact.boxes import Timeline
from launcher.redact.writer import redact_video
found = pickle.loads(Path(sys.argv[3]).read_bytes())
redact_video(Path(sys.argv[1]), Path(sys.argv[2]), Timeline(found))
"""


def test_redactions_at_once_in_threads_and_a_process_write_the_same_bytes(
    scene: Scene, found: list[Appearance], tmp_path: Path
) -> None:
    """Each redaction runs native threads of its own (FFmpeg's decoder threads, x264's frame
    threads); three redactions in one process and one in another, at once, neither crash nor hang,
    and each writes exactly what a redaction alone writes (x264 is deterministic)."""
    alone = tmp_path / "alone.mp4"
    redact_video(scene.path, alone, Timeline(found))
    errors: list[BaseException] = []

    def redact(number: int) -> None:
        try:
            redact_video(scene.path, tmp_path / f"thread-{number}.mp4", Timeline(found))
        except BaseException as error:
            errors.append(error)

    root = Path(__file__).resolve().parents[2]
    appearances = tmp_path / "appearances.pickle"
    appearances.write_bytes(pickle.dumps(found))
    process = subprocess.Popen(
        [sys.executable, "-c", REDACT_IN_A_PROCESS, str(scene.path), str(tmp_path / "process.mp4"), str(appearances)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    threads = [threading.Thread(target=redact, args=(number,), daemon=True) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a redaction hung"
    assert process.wait(timeout=300) == 0
    assert errors == []
    expected = alone.read_bytes()
    for name in ("thread-0.mp4", "thread-1.mp4", "thread-2.mp4", "process.mp4"):
        assert (tmp_path / name).read_bytes() == expected, name
