"""The demo's pictures read at a glance: labels at least 14 px high on the contact sheet, whatever the
frame behind them, and a timeline with its axes, its legend and a caption that counts right."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from offline_demo.pictures import contact_sheet, timeline
from synthetic import make_video


@pytest.fixture(scope="module")
def result_and_clip(tmp_path_factory):
    clip = make_video(tmp_path_factory.mktemp("pictures") / "s.mp4", seconds=2.0)
    faces = []
    for step in range(10):
        box = clip.face_at(step * 200)
        detail = {
            "BoundingBox": {
                "Left": box.left / clip.width,
                "Top": box.top / clip.height,
                "Width": box.width / clip.width,
                "Height": box.height / clip.height,
            },
            "Confidence": 99.96,
        }
        faces.append({"Timestamp": step * 200, "Face": detail})
        if step in (3, 4):  # two faces in two of the frames
            faces.append({"Timestamp": step * 200, "Face": {**detail, "Confidence": 85.5}})
    return {"VideoMetadata": {"DurationMillis": 2000}, "Faces": faces}, clip


def text_rows(plate: np.ndarray, bright: int = 128) -> int:
    """How many rows of a label's plate hold its text (bright pixels on the black plate)."""
    return int((plate.max(axis=(1, 2)) > bright).sum())


def test_contact_sheet_labels_are_at_least_14_px_high(result_and_clip, tmp_path):
    result, clip = result_and_clip
    sheet = np.asarray(Image.open(contact_sheet(result, clip.path, tmp_path / "sheet.png")).convert("RGB"))
    # The first tile's time label sits on a black plate at its top left corner.
    black = (sheet[:60, :200] < 8).all(axis=2)
    rows, cols = np.flatnonzero(black.any(axis=1)), np.flatnonzero(black.any(axis=0))
    plate = sheet[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    assert text_rows(plate) >= 14, f"the label's text is {text_rows(plate)} px high"


def test_timeline_has_axes_a_legend_and_a_caption_that_counts_right(result_and_clip, tmp_path, monkeypatch):
    result, _ = result_and_clip
    drawn: list[str] = []
    real_text = __import__("PIL.ImageDraw", fromlist=["ImageDraw"]).ImageDraw.text

    def record(self, xy, text, *args, **kwargs):
        drawn.append(text)
        return real_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr("PIL.ImageDraw.ImageDraw.text", record)
    image = Image.open(timeline(result, tmp_path / "timeline.png"))
    assert image.size[1] >= 200
    assert "12 face detection(s) in 10 frame(s) with faces, over 2.0 s of video" in drawn
    assert {"0 s", "1 s", "2 s", "time in the video"} <= set(drawn), "the time axis"
    assert {"0", "2", "faces"} <= set(drawn), "the faces axis, up to the most faces in a frame"
    assert "best confidence:" in drawn and "100%" in drawn, "the legend"
