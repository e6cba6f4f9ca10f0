"""The HTML report: parsed (every appearance has its lane and its thumbnail; nothing external), and
rendered in a real headless browser (Debian's ``chromium``) whose screenshot is checked."""

from __future__ import annotations

import base64
import colorsys
import io
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from launcher.jobs.formats import write_document
from launcher.report.html import VideoReport, clock, colour, render, write_report
from launcher.report.html import video_report as video_report_for
from launcher.report.thumbnails import thumbnails
from synthetic import make_video
from tests.support.browser import CHROMIUM, NO_CHROMIUM, chromium_command, chromium_environment


class ReportParser(HTMLParser):
    """Collects what the checks need: lanes, cards, pictures, ids, links, and anything external."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[int] = []
        self.cards: list[int] = []
        self.pictures: list[tuple[int, str, int, int]] = []  # (card, data URI, width, height)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.forbidden: list[str] = []
        self._card: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in ("script", "link", "iframe", "object", "embed") or (tag == "img" and "src" in values):
            self.forbidden.append(tag)
        for name, value in values.items():
            if name in ("src", "href") and re.match(r"(https?:)?//", value):
                self.forbidden.append(value)
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "div" and "lane" in values.get("class", "").split():
            self.lanes.append(int(values["data-appearance"]))
        if tag == "figure":
            self._card = int(values["data-appearance"])
            self.cards.append(self._card)
        if tag == "image":
            assert self._card is not None, "a picture outside a card"
            self.pictures.append((self._card, values["href"], int(values["width"]), int(values["height"])))
        if tag == "a":
            self.links.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._card = None


def parse(page: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(page)
    parser.close()
    return parser


def entry(timestamp, left, top, width=0.16, height=0.32):
    box = {"Width": width, "Height": height, "Left": left, "Top": top}
    return {"Timestamp": timestamp, "Face": {"BoundingBox": box, "Confidence": 99.0}}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("report") / "clip.mp4", seconds=3.0)


@pytest.fixture(scope="module")
def video_report(clip, tmp_path_factory) -> VideoReport:
    """Three appearances over a 3 s clip: one all along (the real face), one with a bridged gap, a
    short one; grouped by the launcher's own writer."""
    faces = []
    for step in range(15):
        at = step * 200
        frame = [entry(at, *_face_box(clip, at))]
        if 2 <= step <= 10 and step not in (6, 7):
            frame.append(entry(at, 0.05, 0.05, 0.1, 0.2))
        if 12 <= step <= 13:
            frame.append(entry(at, 0.8, 0.6, 0.12, 0.24))
        faces.extend(frame)
    page = {
        "JobStatus": "SUCCEEDED",
        "JobId": "job-1",
        "VideoMetadata": {
            "Codec": "h264",
            "DurationMillis": 3000,
            "Format": "QuickTime / MOV",
            "FrameRate": 30.0,
            "FrameHeight": 360,
            "FrameWidth": 640,
            "ColorRange": "LIMITED",
        },
        "Faces": faces,
    }
    summary = write_document(io.StringIO(), iter([page]))
    wanted = {a.index: (a.best_timestamp, a.best_box) for a in summary.appearances}
    folder = tmp_path_factory.mktemp("out")
    return VideoReport("clip.mp4", str(clip.path), summary, thumbnails(clip.path, wanted), folder / "faces.json")


def _face_box(clip, at):
    box = clip.face_at(at)
    return box.left / clip.width, box.top / clip.height, box.width / clip.width, box.height / clip.height


def test_every_appearance_has_its_lane_and_its_thumbnail(video_report, tmp_path):
    assert [a.index for a in video_report.summary.appearances] == [0, 1, 2]
    page = parse(render([video_report], tmp_path))
    assert page.lanes == [0, 1, 2]
    assert page.cards == [0, 1, 2]
    assert [card for card, *_ in page.pictures] == [0, 1, 2]
    for _, uri, width, height in page.pictures:
        assert uri.startswith("data:image/jpeg;base64,")
        picture = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert picture.format == "JPEG" and picture.size == (width, height)
    assert page.forbidden == [], "self-contained: nothing fetched, no script"
    for link in page.links:  # anchors in the page, and the results file relative to the report
        assert link.lstrip("#") in page.ids or (tmp_path / link).resolve() == video_report.results.resolve(), link


def test_counts_durations_and_metadata_are_shown(video_report, tmp_path):
    text = render([video_report], tmp_path)
    first, gapped, short = video_report.summary.appearances
    assert (first.start_ms, first.end_ms, gapped.start_ms, gapped.end_ms, short.start_ms, short.end_ms) == (
        0,
        2800,
        400,
        2000,
        2400,
        2600,
    )
    for expected in (
        "<b>3</b> appearance(s)",
        f"<b>{video_report.summary.faces}</b> face detection(s)",
        "<b>2</b> at most at once",
        "<b>4.6 s</b> of faces on screen",
        "0:00.4 to 0:02.0",
        "1.6 s · 7 detection(s)",
        "640 × 360 px",
        "job-1",
        "Faces in clip.mp4",
    ):
        assert expected in text, expected
    # The bridged gap (1.2 s and 1.4 s missed) shows as a gap in its lane: two runs.
    lane = re.search(r'data-appearance="1"[^>]*>.*?</div></div>', text).group(0)
    assert lane.count('class="run"') == 2


def test_a_video_without_faces_and_a_missing_thumbnail(video_report, tmp_path):
    empty = write_document(io.StringIO(), iter([{"JobStatus": "SUCCEEDED", "Faces": []}]))
    no_pictures = VideoReport("b.mp4", "s3://bucket/b.mp4", video_report.summary, {}, note="No thumbnails: gone.")
    page_text = render([VideoReport("a.mp4", "a.mp4", empty), no_pictures], tmp_path)
    page = parse(page_text)
    assert "No faces were found in this video." in page_text and "No thumbnails: gone." in page_text
    assert page.pictures == [] and page_text.count('class="none"') == 3


def test_several_videos_make_one_page_with_a_section_each_and_links_to_them(video_report, tmp_path):
    second = VideoReport("other.mp4", "other.mp4", video_report.summary, video_report.thumbnails)
    out = write_report([video_report, second], tmp_path / "index.html")
    text = out.read_text()
    page = parse(text)
    assert "<title>Faces in 2 videos</title>" in text
    assert {"video-1", "video-2"} <= page.ids
    assert page.links[:2] == ["#video-1", "#video-2"]
    assert len(page.lanes) == 6 and len(page.pictures) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_a_video_that_cannot_be_read_gives_a_report_without_pictures_and_says_why(video_report, tmp_path):
    def no_s3():
        raise AssertionError("S3 is not needed here")

    missing = video_report_for("gone.mp4", "gone.mp4", video_report.summary, None, no_s3)
    assert missing.thumbnails == {} and "gone.mp4 is not here and the results name no S3 object" in missing.note
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    unreadable = video_report_for("broken.mp4", str(broken), video_report.summary, None, no_s3)
    assert unreadable.thumbnails == {} and unreadable.note.startswith("No thumbnails: the video could not be read")
    assert "No thumbnails" in render([unreadable], tmp_path)


def test_names_are_escaped(video_report, tmp_path):
    hostile = VideoReport('<script>alert("x")</script>.mp4', "x", video_report.summary)
    page = parse(render([hostile], tmp_path))
    assert "script" not in page.forbidden


def test_clock():
    assert [clock(ms) for ms in (0, 7440, 723_000, 3_723_000)] == ["0:00.0", "0:07.4", "12:03.0", "1:02:03.0"]


# -- in a real browser --------------------------------------------------------------------------------


def screenshot(page: Path, out: Path, width: int, height: int, profile: Path) -> Image.Image:
    command = chromium_command(
        profile,
        "--disable-quic",
        "--hide-scrollbars",
        f"--screenshot={out}",
        f"--window-size={width},{height}",
        page.resolve().as_uri(),
    )
    subprocess.run(command, check=True, capture_output=True, timeout=120, env=chromium_environment(profile))
    return Image.open(out).convert("RGB")


def bar_width(image: Image.Image, rgb: tuple[int, int, int], rows: int = 8, tolerance: int = 12) -> int:
    """The width of the widest filled bar of about that colour, at least ``rows`` pixels tall: a
    timeline lane's run (the thumbnails' box outlines are thinner)."""
    mask = (np.abs(np.asarray(image, dtype=int) - rgb) <= tolerance).all(axis=2)
    longest = []
    for row in mask:  # the longest run of True in each row
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(int), [0]))))
        longest.append(int((edges[1::2] - edges[::2]).max()) if len(edges) else 0)
    return max((min(longest[y : y + rows]) for y in range(len(longest) - rows + 1)), default=0)


def hsl(css: str) -> tuple[int, int, int]:
    hue, saturation, lightness = (float(v) for v in re.findall(r"[\d.]+", css))
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness / 100, saturation / 100)
    return round(red * 255), round(green * 255), round(blue * 255)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("width, height", [(1280, 1000), (390, 1600)], ids=["desktop", "phone"])
def test_the_report_renders_in_a_headless_browser(video_report, tmp_path, width, height):
    page = write_report([video_report], tmp_path / "clip.mp4.faces.html")
    image = screenshot(page, tmp_path / "shot.png", width, height, tmp_path / "profile")
    assert image.size == (width, height)
    colours = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).getcolors()
    assert colours is not None and len(colours) > 16, "not a blank page"
    # Lane 0 spans 0 to 2.8 s of a 3 s video: most of the timeline's width, in its colour.
    track = bar_width(image, hsl(colour(0)))
    assert track > width * 0.5, f"lane 0 is {track} px wide"
    # The short lane (#2, 0.2 s) is drawn too, in proportion.
    assert track / 20 < bar_width(image, hsl(colour(2))) < track / 6
    # The photograph made it into the page: the astronaut's skin tones are in the thumbnails.
    assert any(r > 150 and 90 < g < 180 and b < 150 and r > g > b for _count, (r, g, b) in image.getcolors(1 << 20))
