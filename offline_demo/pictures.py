"""Pictures of a face-detection result that people would rather look at than read: a contact sheet
of sampled frames with the detected boxes and landmarks drawn, and a timeline of faces over the video.

Input: the launcher's JSON result and the video it came from.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from localaws.vision.video import open_video, time_base, video_stream

THUMB_WIDTH = 320
COLUMNS = 4
LABEL_PX = 16  # text on the pictures: at least 14 px high, to read at a glance
SMALL_PX = 14
BOX_COLOUR = (255, 64, 64)
LANDMARK_COLOURS = {
    "eyeLeft": (255, 255, 0),
    "eyeRight": (255, 255, 0),
    "nose": (255, 0, 255),
    "mouthLeft": (0, 255, 0),
    "mouthRight": (0, 255, 0),
}


def font(size: int = LABEL_PX) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font of ``size`` px: Pillow's own (DejaVu Sans, Pillow >= 10.1), so no system font is needed."""
    return ImageFont.load_default(size=size)


def label(
    draw: ImageDraw.ImageDraw, at: tuple[float, float], text: str, colour: tuple[int, int, int], size: int = LABEL_PX
) -> None:
    """Text on a dark plate, readable on any frame: red on a bright face included."""
    face = font(size)
    left, top, right, bottom = draw.textbbox(at, text, font=face)
    draw.rectangle([left - 3, top - 2, right + 3, bottom + 2], fill=(0, 0, 0))
    draw.text(at, text, fill=colour, font=face)


def faces_by_timestamp(result: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for face in result["Faces"]:
        grouped[face["Timestamp"]].append(face["Face"])
    return dict(sorted(grouped.items()))


def _frames_at(video: Path, timestamps: list[int]) -> dict[int, Image.Image]:
    """The frame shown at each wanted timestamp, decoding the video once from the start."""
    wanted, frames = sorted(timestamps), {}
    with open_video(video) as container:
        stream = video_stream(container)
        start = stream.start_time or 0
        for frame in container.decode(stream):
            if not wanted:
                break
            if frame.pts is None:
                continue
            at_ms = float((frame.pts - start) * time_base(stream) * 1000)
            while wanted and wanted[0] <= at_ms + 0.5:
                frames[wanted.pop(0)] = frame.to_image()
    return frames


def _draw_faces(image: Image.Image, faces: list[dict[str, Any]], timestamp: int) -> Image.Image:
    """Boxes and landmarks on the frame, then the frame scaled to the sheet's width, then the labels
    (drawn after scaling, so that they keep their size in pixels)."""
    width, height = image.size
    scale = THUMB_WIDTH / width
    draw = ImageDraw.Draw(image)
    for face in faces:
        box = face["BoundingBox"]
        left, top = box["Left"] * width, box["Top"] * height
        draw.rectangle(
            [left, top, left + box["Width"] * width, top + box["Height"] * height], outline=BOX_COLOUR, width=3
        )
        for landmark in face.get("Landmarks", []):
            x, y = landmark["X"] * width, landmark["Y"] * height
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=LANDMARK_COLOURS.get(landmark["Type"], BOX_COLOUR))
    thumb = image.resize((THUMB_WIDTH, round(height * scale)))
    draw = ImageDraw.Draw(thumb)
    for face in faces:
        box = face["BoundingBox"]
        left, top = box["Left"] * THUMB_WIDTH, box["Top"] * thumb.height
        confidence = face.get("Confidence")
        text = f"{confidence}%" if confidence is not None else "face"
        label(draw, (left + 3, max(2, top - LABEL_PX - 6)), text, BOX_COLOUR)
    label(draw, (6, 6), f"{timestamp / 1000:.1f} s · {len(faces)} face(s)", (255, 255, 255))
    return thumb


def contact_sheet(result: dict[str, Any], video: Path, out: Path, tiles: int = 12) -> Path:
    """Up to ``tiles`` sampled frames, evenly spread over those with faces, boxes and landmarks drawn."""
    grouped = faces_by_timestamp(result)
    timestamps = list(grouped)
    if len(timestamps) > tiles:
        step = (len(timestamps) - 1) / (tiles - 1)
        timestamps = [timestamps[round(i * step)] for i in range(tiles)]
    frames = _frames_at(video, timestamps)
    thumbs = [_draw_faces(frames[t], grouped[t], t) for t in timestamps if t in frames]
    if not thumbs:
        thumbs = [Image.new("RGB", (THUMB_WIDTH, THUMB_WIDTH * 9 // 16), (40, 40, 40))]
    thumb_height = thumbs[0].height
    rows = -(-len(thumbs) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * THUMB_WIDTH, rows * thumb_height), (20, 20, 20))
    for index, thumb in enumerate(thumbs):
        sheet.paste(thumb, ((index % COLUMNS) * THUMB_WIDTH, (index // COLUMNS) * thumb_height))
    sheet.save(out)
    return out


def timeline(result: dict[str, Any], out: Path, width: int = 1000, height: int = 260) -> Path:
    """Faces over the video: one bar per frame with faces, as tall as its number of faces, shaded by
    the best confidence; a time axis in seconds, a faces axis, and a legend of the shading."""
    duration = result.get("VideoMetadata", {}).get("DurationMillis") or 1
    grouped = faces_by_timestamp(result)
    most = max((len(faces) for faces in grouped.values()), default=1)
    left_margin, right_margin, top, axis = 70, 30, 76, height - 50
    image = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    span = width - left_margin - right_margin
    ink, small = (0, 0, 0), font(SMALL_PX)
    # The time axis: a tick per second (every few seconds on a long video), labelled.
    draw.line([left_margin, axis, width - right_margin, axis], fill=ink, width=2)
    seconds = duration / 1000
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if seconds / s <= 12)
    for second in range(0, int(seconds) + 1, step):
        x = left_margin + span * second * 1000 / duration
        draw.line([x, axis, x, axis + 6], fill=ink, width=2)
        draw.text((x, axis + 8), f"{second} s", fill=ink, font=small, anchor="mt")
    draw.text((left_margin + span / 2, height - 4), "time in the video", fill=ink, font=small, anchor="mb")
    # The faces axis: 0 to the most faces in a frame.
    draw.line([left_margin, top, left_margin, axis], fill=ink, width=2)
    for count in sorted({0, most}):
        y = axis - (axis - top) * count / most
        draw.line([left_margin - 6, y, left_margin, y], fill=ink, width=2)
        draw.text((left_margin - 10, y), str(count), fill=ink, font=small, anchor="rm")
    draw.text((left_margin - 10, top - 10), "faces", fill=ink, font=small, anchor="rb")
    for timestamp, faces in grouped.items():
        x = left_margin + span * timestamp / duration
        bar = (axis - top) * len(faces) / most
        draw.rectangle([x - 2, axis - bar, x + 2, axis], fill=_shade(max(face.get("Confidence", 0) for face in faces)))
    # The legend: what the bars' shades mean.
    legend_x = width - right_margin - 330
    for index, confidence in enumerate((100, 90, 80)):
        x = legend_x + index * 110
        draw.rectangle([x, 12, x + 14, 26], fill=_shade(confidence))
        draw.text((x + 20, 19), f"{confidence}%", fill=ink, font=small, anchor="lm")
    draw.text((legend_x - 8, 19), "best confidence:", fill=ink, font=small, anchor="rm")
    detections = sum(len(faces) for faces in grouped.values())
    draw.text(
        (left_margin, 48),
        f"{detections} face detection(s) in {len(grouped)} frame(s) with faces, over {duration / 1000:.1f} s of video",
        fill=ink,
        font=font(LABEL_PX),
        anchor="lb",
    )
    image.save(out)
    return out


def _shade(confidence: float) -> tuple[int, int, int]:
    """Darker blue for a higher confidence."""
    shade = int(255 * (1 - confidence / 100))
    return (min(255, shade * 3), 80, 200)


def render(result_file: Path, video: Path, folder: Path) -> list[Path]:
    result = json.loads(result_file.read_text())
    return [contact_sheet(result, video, folder / "contact-sheet.png"), timeline(result, folder / "timeline.png")]
