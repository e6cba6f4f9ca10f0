"""The report people look at: one self-contained HTML file (inline CSS, thumbnails as ``data:``
URIs, no script, nothing fetched from anywhere) saying who is on screen when.

For each video: its metadata, counts and durations, a timeline with one lane per appearance, and a
thumbnail of each appearance's best detection with its box and the face's attributes. Appearances
are shown numbered from 1 (the data keeps its index from 0); numbers as the service gave them.

Safe whatever the names: every text (a name, a key, a tag, a message) is escaped, and the only links
are the page's own anchors and the results files, as relative URLs percent-encoded from the file
system's bytes, so that no name can become markup, script or a link scheme. It takes a list of videos: one video
makes ``<video name>.faces.html``; several make one page with a section per video and links to them.
Readable on a phone (everything wraps and scales) and on a desktop.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape as _escape
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from ..jobs.appearances import Appearance
from ..jobs.formats import PERSONS_FILE, Person, Summary, partial_prefix, read_summary
from ..jobs.s3video import S3ObjectReader, S3Video
from .thumbnails import Thumbnail, UnreadableVideo, thumbnails

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_RUNS_PER_LANE = 500  # runs closer than 1/500 of the video are drawn as one
TICK_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)

STYLE = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6474; --line: #d9dde4; --lane: #eef0f4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: #f7f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5em; margin: 0.2em 0 0.6em; overflow-wrap: anywhere; }
h2 { font-size: 1.25em; margin: 0 0 0.5em; overflow-wrap: anywhere; }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
section.video { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px;
  margin-bottom: 20px; }
nav ul { padding-left: 1.2em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
ul.counts { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 12px 0 0; }
ul.counts li { background: var(--lane); border-radius: 8px; padding: 6px 10px; }
ul.counts b { font-size: 1.15em; }
.timeline { position: relative; }
.lane, .axis-row { display: grid; grid-template-columns: 3.6em 1fr; align-items: center; min-height: 18px; }
.axis { position: relative; height: 1.5em; border-bottom: 1px solid var(--muted); font-size: .8em;
  color: var(--muted); }
.axis span { position: absolute; bottom: 2px; transform: translateX(-50%); white-space: nowrap; }
.axis span.first { transform: none; }
.axis span.last { transform: translateX(-100%); }
.lane a { font-size: .8em; color: var(--muted); text-decoration: none; }
.track { position: relative; height: 12px; background: var(--lane); border-radius: 3px; }
.run { position: absolute; top: 0; bottom: 0; min-width: 3px; border-radius: 3px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
figure.appearance { margin: 0; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; background: #fff; }
figure.appearance svg, figure.appearance .none { display: block; width: 100%; height: auto; background: #222; }
figure.appearance .none { aspect-ratio: 4 / 5; color: #bbb; display: flex; align-items: center;
  justify-content: center; font-size: .8em; padding: 8px; text-align: center; }
figcaption { padding: 6px 8px; font-size: .85em; }
figcaption b { display: inline-block; min-width: 1.2em; }
p.note { color: #8a4b00; }
section.person { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 12px; }
.person-head { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
.person-head .face { width: 72px; flex: none; border-radius: 8px; overflow: hidden; }
.person-head .face svg, .person-head .face .none { display: block; width: 100%; height: auto; background: #222; }
.person-head .face .none { aspect-ratio: 4 / 5; color: #bbb; font-size: .7em; padding: 4px; }
ul.people { list-style: none; padding: 0; display: grid; gap: 8px; }
ul.people li { display: flex; gap: 10px; align-items: center; }
p.empty { color: var(--muted); }
section.failed li { margin-bottom: 6px; overflow-wrap: anywhere; }
.source { color: var(--muted); font-size: .85em; }
@media (max-width: 520px) { .axis span.tick:nth-child(even) { display: none; } }
"""


def escape(text: str) -> str:
    """HTML-escaped (quotes too); a name that is not UTF-8 (its undecodable bytes kept as surrogates)
    shown with \\x escapes, since a page is UTF-8."""
    return _escape(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def file_link(target: Path, folder: Path) -> str:
    """A relative URL from ``folder`` to ``target``: the file system's bytes percent-encoded, so that
    `#`, `?`, `:` and non-UTF-8 names link to the very file, and no name forms a scheme."""
    relative = Path(os.path.relpath(target, folder)).as_posix()
    return quote(os.fsencode(relative), safe="/")


@dataclass(frozen=True)
class Ended:
    """A video of a batch that has no results to show: its name, its status and why."""

    name: str
    source: str
    status: str
    error: str | None


@dataclass(frozen=True)
class VideoReport:
    """What the report shows of one video."""

    name: str  # the video's file name
    source: str  # where it was read from: a path or an s3:// URI
    summary: Summary  # the faces, the appearances and the response header
    thumbnails: dict[int, Thumbnail] = field(default_factory=dict)  # by appearance index
    results: Path | None = None  # the results file, linked from the report
    note: str | None = None  # why something is missing (e.g. no thumbnails)


def video_report(
    name: str, video: str, summary: Summary, results: Path | None, s3: Callable[[], S3Client]
) -> VideoReport:
    """One video's part of a report, with a thumbnail of each appearance's best detection: cut from
    ``video`` if it is a local file here, else read from the job's S3 object version (``s3()`` gives
    the client). Without pictures, the note says why; the report is written all the same."""
    local = None if video.lower().startswith("s3:") or not Path(video).is_file() else Path(video)
    s3_object = summary.header.get("Video", {}).get("S3Object", {})
    s3_video = S3Video(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version")) if s3_object else None
    source = video if local or s3_video is None else s3_video.uri
    wanted = {a.index: (a.best_timestamp, a.best_box) for a in summary.appearances}
    pictures: dict[int, Thumbnail] = {}
    note = None
    try:
        if wanted and local is not None:
            pictures = thumbnails(local, wanted)
        elif wanted and s3_video is not None:
            with S3ObjectReader(s3(), s3_video) as reader:
                pictures = thumbnails(reader, wanted)
        elif wanted:
            note = f"No thumbnails: {video} is not here and the results name no S3 object."
    except (UnreadableVideo, ClientError, BotoCoreError, OSError) as error:
        note = f"No thumbnails: the video could not be read ({error})."
    return VideoReport(name, source, summary, pictures, results, note)


def batch_report(ended: Iterable[Mapping[str, Any]], out_dir: Path, fmt: str, s3: Callable[[], S3Client]) -> Path:
    """``DIR/index.html`` for a batch: a section for each video whose results are in ``DIR`` (those
    of this run and those it skipped as already done), from the batch log's lines (``ended``), then
    the videos without results, each with its error; with ``DIR/persons.json`` (--people), each
    person across the videos at the top."""
    videos, others = [], []
    for line in ended:
        results = Path(line["results"]) if line.get("results") else None
        name = line.get("name") or line["video"].rsplit("/", 1)[-1]
        if results is None or not results.is_file():
            error = line.get("error") or ("its results file is gone" if results else None)
            others.append(Ended(name, line["video"], line.get("status") or "ERROR", error))
            continue
        summary = read_summary(results, fmt)
        if not summary.header:  # csv and jsonl hold the faces only: the batch log has the rest
            summary.header = {
                key: line[field]
                for key, field in (("JobId", "jobId"), ("VideoMetadata", "videoMetadata"))
                if line.get(field)
            }
        videos.append(video_report(name, line["video"], summary, results, s3))
    total = len(videos) + len(others)
    title = f"Faces in {total} video(s)" + (f", {len(others)} without results" if others else "")
    persons_file = out_dir / PERSONS_FILE
    persons = json.loads(persons_file.read_text())["Persons"] if persons_file.is_file() else None
    return write_report(videos, out_dir / "index.html", title, persons, others)


def clock(milliseconds: float) -> str:
    """0:07.4, 12:03.0, 1:02:03.0."""
    tenths = round(milliseconds / 100)
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    seconds = rest / 10
    return f"{hours}:{minutes:02d}:{seconds:04.1f}" if hours else f"{minutes}:{seconds:04.1f}"


def colour(index: int) -> str:
    """A distinct colour per appearance (golden-angle hues), the same in its lane and its box."""
    return f"hsl({(index * 137.508) % 360:.0f} 70% 42%)"


def _duration(video: VideoReport) -> float:
    metadata = video.summary.header.get("VideoMetadata") or {}
    ends = [appearance.end_ms for appearance in video.summary.appearances]
    return float(metadata.get("DurationMillis") or max(ends, default=0) or 1)


def _runs(appearance: Appearance, resolution_ms: float) -> list[tuple[int, int]]:
    """Spans of the appearance with a detection at every sample: a gap it bridged shows as a gap."""
    times = [timestamp for timestamp, _ in appearance.boxes()]
    steps = [later - earlier for earlier, later in pairwise(times) if later > earlier]
    allowed = max(1.5 * min(steps, default=0), resolution_ms)
    runs = [[times[0], times[0]]]
    for timestamp in times[1:]:
        if timestamp - runs[-1][1] > allowed:
            runs.append([timestamp, timestamp])
        else:
            runs[-1][1] = timestamp
    return [(start, end) for start, end in runs]


def _ticks(duration_ms: float) -> list[float]:
    step = next((s for s in TICK_SECONDS if duration_ms / 1000 / s <= 8), TICK_SECONDS[-1]) * 1000
    return [step * i for i in range(math.floor(duration_ms / step) + 1)]


def _percent(value: float, whole: float) -> str:
    return f"{min(100.0, max(0.0, 100 * value / whole)):.3f}%"


def _timeline(video: VideoReport, anchor: str) -> str:
    duration = _duration(video)
    times = _ticks(duration)
    placement = ["first" if i == 0 else "last" if t > 0.92 * duration else "tick" for i, t in enumerate(times)]
    ticks = "".join(
        f'<span class="{where}" style="left:{_percent(t, duration)}">{clock(t)}</span>'
        for where, t in zip(placement, times, strict=True)
    )
    lanes = []
    for appearance in video.summary.appearances:
        runs = "".join(
            f'<span class="run" style="left:{_percent(start, duration)};'
            f'width:{_percent(end - start, duration)};background:{colour(appearance.index)}"></span>'
            for start, end in _runs(appearance, duration / MAX_RUNS_PER_LANE)
        )
        label = f"face #{appearance.index + 1}: {clock(appearance.start_ms)} to {clock(appearance.end_ms)}"
        lanes.append(
            f'<div class="lane" data-appearance="{appearance.index}" title="{escape(label)}">'
            f'<a href="#{anchor}-a{appearance.index}">#{appearance.index + 1}</a><div class="track">{runs}</div></div>'
        )
    description = f"timeline of {len(lanes)} appearance(s) over {clock(duration)}"
    return (
        f'<div class="timeline" role="img" aria-label="{description}">'
        f'<div class="axis-row"><span></span><div class="axis">{ticks}</div></div>' + "".join(lanes) + "</div>"
    )


def _thumbnail(appearance: Appearance, picture: Thumbnail | None) -> str:
    if picture is None:
        return '<div class="none">no picture</div>'
    left, top, width, height = picture.box
    return (
        f'<svg viewBox="0 0 {picture.width} {picture.height}" width="{picture.width}" height="{picture.height}" '
        f'role="img" aria-label="face #{appearance.index + 1} at {clock(appearance.best_timestamp)}">'
        f'<image href="{picture.data_uri()}" width="{picture.width}" height="{picture.height}"/>'
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" fill="none" '
        f'stroke="{colour(appearance.index)}" stroke-width="3"/></svg>'
    )


def number(value: object) -> str:
    """A number as the service gave it (99.96 stays 99.96, not a rounded 100.0)."""
    return escape(repr(value)) if isinstance(value, float) else escape(str(value))


def attributes(face: Mapping[str, Any]) -> list[str]:
    """Every attribute of a FaceDetail beyond the box, pose, quality and landmarks, as text: with
    FaceAttributes ALL, the age range, gender, emotions, smile, glasses, beard... as they were returned."""
    shown = []
    for name, value in face.items():
        if name in ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"):
            continue
        if name == "AgeRange" and isinstance(value, Mapping):
            shown.append(f"age {number(value.get('Low'))} to {number(value.get('High'))}")
        elif name == "Emotions" and isinstance(value, list):
            ranked = sorted(value, key=lambda emotion: -float(emotion.get("Confidence") or 0))
            emotions = ", ".join(f"{escape(str(e.get('Type')))} {number(e.get('Confidence'))}%" for e in ranked[:3])
            shown.append(f"emotions: {emotions}")
        elif isinstance(value, Mapping) and "Value" in value:
            confidence = f" ({number(value['Confidence'])}%)" if "Confidence" in value else ""
            shown.append(f"{escape(name)}: {escape(str(value['Value']))}{confidence}")
        elif isinstance(value, Mapping):
            parts = ", ".join(f"{escape(str(key))} {number(item)}" for key, item in value.items())
            shown.append(f"{escape(name)}: {parts}")
        else:
            shown.append(f"{escape(name)}: {number(value)}")
    return shown


def _card(appearance: Appearance, picture: Thumbnail | None, anchor: str) -> str:
    face = appearance.best_face or {}
    confidence = face.get("Confidence")
    best = f"best at {clock(appearance.best_timestamp)}" + (
        f", {number(confidence)}% confidence" if isinstance(confidence, int | float) else ""
    )
    details = "".join(f"<br>{item}" for item in attributes(face))
    return (
        f'<figure class="appearance" id="{anchor}-a{appearance.index}" data-appearance="{appearance.index}">'
        + _thumbnail(appearance, picture)
        + f'<figcaption><b style="color:{colour(appearance.index)}">#{appearance.index + 1}</b> '
        f"{clock(appearance.start_ms)} to {clock(appearance.end_ms)}<br>"
        f"{appearance.duration_ms / 1000:.1f} s · {appearance.detections} detection(s)<br>{best}{details}"
        "</figcaption></figure>"
    )


def _most_at_once(appearances: Sequence[Appearance]) -> int:
    per_frame = Counter(timestamp for appearance in appearances for timestamp, _ in appearance.boxes())
    return max(per_frame.values(), default=0)


def _metadata(video: VideoReport, folder: Path) -> str:
    header: dict[str, Any] = video.summary.header
    metadata = header.get("VideoMetadata") or {}
    rows = [("Video", video.source)]
    if header.get("JobId"):
        rows.append(("Job", header["JobId"]))
    if metadata:
        rows += [
            ("Length", clock(metadata.get("DurationMillis") or 0)),
            ("Frame", f"{metadata.get('FrameWidth')} × {metadata.get('FrameHeight')} px"),
            ("Frame rate", f"{metadata.get('FrameRate', 0):.3g} fps"),
            ("Codec", f"{metadata.get('Codec')} in {metadata.get('Format')}"),
        ]
    cells = "".join(f"<dt>{escape(name)}</dt><dd>{escape(str(value))}</dd>" for name, value in rows)
    if video.results is not None:
        link = file_link(video.results, folder)
        cells += f'<dt>Results</dt><dd><a href="{escape(link)}">{escape(video.results.name)}</a></dd>'
    return f'<dl class="meta">{cells}</dl>'


def _counts(video: VideoReport) -> str:
    appearances = video.summary.appearances
    on_screen = sum(appearance.duration_ms for appearance in appearances)
    items = [(str(len(video.summary.persons)), "person(s)")] if video.summary.person_of_appearance is not None else []
    items += [
        (str(len(appearances)), "appearance(s)"),
        (str(video.summary.faces), "face detection(s)"),
        (str(_most_at_once(appearances)), "at most at once"),
        (f"{on_screen / 1000:.1f} s", "of faces on screen, added up"),
    ]
    if appearances:
        longest = max(appearances, key=lambda a: (a.duration_ms, -a.index))
        items.append((f"{longest.duration_ms / 1000:.1f} s", f"longest (#{longest.index + 1})"))
    return '<ul class="counts">' + "".join(f"<li><b>{value}</b> {label}</li>" for value, label in items) + "</ul>"


def _section(video: VideoReport, anchor: str, folder: Path) -> str:
    parts = [f'<section class="video" id="{anchor}"><h2>{escape(video.name)}</h2>', _metadata(video, folder)]
    parts.append(_counts(video))
    if video.note:
        parts.append(f'<p class="note">{escape(video.note)}</p>')
    if not video.summary.appearances:
        parts.append('<p class="empty">No faces were found in this video.</p></section>')
        return "".join(parts)
    parts.append("<h3>Timeline</h3>" + _timeline(video, anchor))
    if video.summary.person_of_appearance is not None:
        parts.append("<h3>People</h3>" + "".join(_person(video, person, anchor) for person in video.summary.persons))
        parts.append("</section>")
        return "".join(parts)
    cards = "".join(
        _card(appearance, video.thumbnails.get(appearance.index), anchor) for appearance in video.summary.appearances
    )
    parts.append(f'<h3>Appearances</h3><div class="cards">{cards}</div></section>')
    return "".join(parts)


def _without_results(others: Sequence[Ended]) -> str:
    """The batch's videos that have nothing to show, each with its status and its error."""
    if not others:
        return ""
    rows = "".join(
        f"<li><b>{escape(other.name)}</b> ({escape(other.status)}): {escape(other.error or 'no error recorded')}"
        f'<br><span class="source">{escape(other.source)}</span></li>'
        for other in others
    )
    return f'<section class="video failed" id="without-results"><h2>Without results</h2><ul>{rows}</ul></section>'


def _person(video: VideoReport, person: Person, anchor: str) -> str:
    """One person: their best face and time on screen, then the cards of their appearances."""
    by_index = {appearance.index: appearance for appearance in video.summary.appearances}
    best = by_index[person.best_appearance]
    count = len(person.appearances)
    head = (
        f'<div class="person-head"><div class="face">{_thumbnail(best, video.thumbnails.get(best.index))}</div>'
        f"<div><b>person {person.index}</b>: {person.on_screen_ms / 1000:.1f} s on screen in {count} "
        f"appearance{'s' if count != 1 else ''}, first seen at {clock(person.first_ms)}, "
        f"last at {clock(person.last_ms)}</div></div>"
    )
    cards = "".join(_card(by_index[i], video.thumbnails.get(i), anchor) for i in person.appearances)
    return (
        f'<section class="person" id="{anchor}-p{person.index}" data-person="{person.index}">'
        f'{head}<div class="cards">{cards}</div></section>'
    )


def _duration_text(milliseconds: float) -> str:
    """2 min 10 s, 45.2 s, 1 h 3 min."""
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _batch_people(persons: Sequence[Mapping[str, Any]], videos: Sequence[VideoReport], anchors: Sequence[str]) -> str:
    """Each person across the batch's videos, with a face from their first video."""
    by_results = {str(video.results): (video, anchor) for video, anchor in zip(videos, anchors, strict=True)}
    items = []
    for person in persons:
        seen = [entry for entry in person["Videos"] if entry["Results"] in by_results]
        if not seen:
            continue
        first_video, _anchor = by_results[seen[0]["Results"]]
        local = {p.index: p for p in first_video.summary.persons}.get(seen[0]["PersonIndex"])
        face = '<div class="none">no picture</div>'
        if local is not None:
            best = {a.index: a for a in first_video.summary.appearances}[local.best_appearance]
            face = _thumbnail(best, first_video.thumbnails.get(best.index))
        links = ", ".join(
            f'<a href="#{by_results[entry["Results"]][1]}-p{entry["PersonIndex"]}">'
            f"{escape(by_results[entry['Results']][0].name)}</a>"
            for entry in seen
        )
        total = sum(entry["DurationMillis"] for entry in seen)
        items.append(
            f'<li data-person="{person["Index"]}"><div class="person-head"><div class="face">{face}</div>'
            f"<div><b>person {person['Index']}</b>: {len(seen)} video{'s' if len(seen) != 1 else ''}, "
            f"{_duration_text(total)} ({links})</div></div></li>"
        )
    return f'<h2>People across the videos</h2><ul class="people">{"".join(items)}</ul>' if items else ""


def render(
    videos: Sequence[VideoReport],
    folder: Path,
    title: str | None = None,
    persons: Sequence[Mapping[str, Any]] | None = None,
    others: Sequence[Ended] = (),
) -> str:
    """The whole page, for a report written into ``folder`` (links are relative to it); ``persons``
    (a batch's ``persons.json``) adds each person across the videos at the top; ``others`` are a
    batch's videos without results (failed, in error), listed with their error."""
    if title is None:
        title = f"Faces in {videos[0].name}" if len(videos) == 1 else f"Faces in {len(videos)} videos"
    anchors = [f"video-{index}" for index in range(1, len(videos) + 1)]
    contents = ""
    if len(videos) > 1 or others:
        entries = "".join(
            f'<li><a href="#{anchor}">{escape(video.name)}</a>: {len(video.summary.appearances)} appearance(s)</li>'
            for anchor, video in zip(anchors, videos, strict=True)
        )
        if others:
            entries += f'<li><a href="#without-results">{len(others)} video(s) without results</a></li>'
        contents = f"<nav><ul>{entries}</ul></nav>"
    if persons:
        contents += _batch_people(persons, videos, anchors)
    sections = "".join(_section(video, anchor, folder) for anchor, video in zip(anchors, videos, strict=True))
    sections += _without_results(others)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{contents}{sections}</main></body></html>\n"
    )


def write_report(
    videos: Sequence[VideoReport],
    out: Path,
    title: str | None = None,
    persons: Sequence[Mapping[str, Any]] | None = None,
    others: Sequence[Ended] = (),
) -> Path:
    """Write the page to ``out``; like the results, it appears only once it is whole."""
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=partial_prefix(out), suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(render(videos, out.parent, title, persons, others))
        os.chmod(partial, 0o644)
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return out
