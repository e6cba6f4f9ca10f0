"""Pictures of a face-detection result that people would rather look at than read: a contact sheet
of sampled frames with the detected boxes and landmarks drawn, and a timeline of faces over the video.

Input: the launcher's JSON result and the video it came from.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from localaws.vision.video import open_video, time_base, video_stream

THUMB_WIDTH = 320
COLUMNS = 4
BOX_COLOUR = (255, 64, 64)
LANDMARK_COLOURS = {
    "eyeLeft": (255, 255, 0),
    "eyeRight": (255, 255, 0),
    "nose": (255, 0, 255),
    "mouthLeft": (0, 255, 0),
    "mouthRight": (0, 255, 0),
}


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
    width, height = image.size
    draw = ImageDraw.Draw(image)
    for face in faces:
        box = face["BoundingBox"]
        left, top = box["Left"] * width, box["Top"] * height
        draw.rectangle(
            [left, top, left + box["Width"] * width, top + box["Height"] * height], outline=BOX_COLOUR, width=3
        )
        draw.text((left + 3, max(0, top - 12)), f"{face.get('Confidence', 0):.1f}%", fill=BOX_COLOUR)
        for landmark in face.get("Landmarks", []):
            x, y = landmark["X"] * width, landmark["Y"] * height
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=LANDMARK_COLOURS.get(landmark["Type"], BOX_COLOUR))
    draw.text((6, 6), f"{timestamp / 1000:.1f} s  {len(faces)} face(s)", fill=(255, 255, 255))
    scale = THUMB_WIDTH / width
    return image.resize((THUMB_WIDTH, round(height * scale)))


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


def timeline(result: dict[str, Any], out: Path, width: int = 1000, height: int = 160) -> Path:
    """Faces over the video: one bar per sampled frame with faces, as tall as its number of faces,
    shaded by the best confidence."""
    duration = result.get("VideoMetadata", {}).get("DurationMillis") or 1
    grouped = faces_by_timestamp(result)
    most = max((len(faces) for faces in grouped.values()), default=1)
    margin, axis = 40, height - 30
    image = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.line([margin, axis, width - margin, axis], fill=(0, 0, 0))
    span = width - 2 * margin
    for second in range(0, int(duration / 1000) + 1):
        x = margin + span * second * 1000 / duration
        draw.line([x, axis, x, axis + 5], fill=(0, 0, 0))
        draw.text((x - 6, axis + 8), f"{second}s", fill=(0, 0, 0))
    for timestamp, faces in grouped.items():
        x = margin + span * timestamp / duration
        bar = (axis - 20) * len(faces) / most
        shade = int(255 * (1 - max(face.get("Confidence", 0) for face in faces) / 100))
        draw.rectangle([x - 2, axis - bar, x + 2, axis], fill=(shade, 80, 200))
    draw.text(
        (margin, 6),
        f"faces over time: {sum(len(f) for f in grouped.values())} detections in "
        f"{len(grouped)} sampled frames, {duration / 1000:.1f} s of video",
        fill=(0, 0, 0),
    )
    image.save(out)
    return out


def render(result_file: Path, video: Path, folder: Path) -> list[Path]:
    result = json.loads(result_file.read_text())
    return [contact_sheet(result, video, folder / "contact-sheet.png"), timeline(result, folder / "timeline.png")]
