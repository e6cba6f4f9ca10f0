"""The report is safe whatever the names: in a real headless browser (Debian's ``chromium``), a page
around the report clicks every link in it; no name, key, tag or message runs script, becomes markup or
a link scheme, and every results link reaches its very file (``#``, ``:``, non-UTF-8 bytes)."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import pytest

from launcher.jobs.formats import write_document
from launcher.report.html import Ended, VideoReport, render, write_report
from tests.support.browser import CHROMIUM, NO_CHROMIUM, chromium_command, chromium_environment

# Each runs, if it ever becomes script, ``top.document.body.setAttribute('data-pwned', ...)``.
PAYLOAD = "top.document.body.setAttribute('data-pwned','1')"
HOSTILE_NAMES = [
    f"javascript:{PAYLOAD}",
    f"JaVaScRiPt:{PAYLOAD}.mp4",
    f"<script>{PAYLOAD}.mp4",  # a file name holds no "/": no closing tag, yet a script all the same
    f"<svg onload={PAYLOAD}>.mp4",
    f'"><img src=x onerror="{PAYLOAD}">.mp4',
    "clip #1.mp4",
    "clip:1.mp4",
    "a?b=c&d.mp4",
    os.fsdecode(b"caf\xe9-latin1.mp4"),  # not UTF-8: kept by Python as a surrogate
]


def summary(tag: str) -> object:
    face = {
        "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
        "Confidence": 99.96,
        "AgeRange": {"Low": 25, "High": 33},
        "Gender": {"Value": "Female", "Confidence": 99.12},
        "Emotions": [{"Type": "CALM", "Confidence": 80.5}, {"Type": "HAPPY", "Confidence": 12.25}],
    }
    page = {
        "JobStatus": "SUCCEEDED",
        "JobId": f"<b>{tag}</b>",
        "JobTag": f"javascript:{PAYLOAD}",
        "VideoMetadata": {"DurationMillis": 1000, "FrameRate": 30.0, "FrameWidth": 64, "FrameHeight": 64},
        "Faces": [{"Timestamp": 0, "Face": face}, {"Timestamp": 200, "Face": face}],
    }
    return write_document(io.StringIO(), iter([page]))


@pytest.fixture
def hostile_report(tmp_path: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "out"
    folder.mkdir()
    videos, results = [], []
    for name in HOSTILE_NAMES:
        result = folder / f"{name}.faces.json"
        result.write_text("{}")
        results.append(result)
        videos.append(VideoReport(name, f"s3://bucket/{name}", summary(name), {}, result, note=f"<i>{name}</i>"))
    failed = [
        Ended(f"<script>{PAYLOAD}</script>.mp4", f"javascript:{PAYLOAD}", "ERROR", f"<img src=x onerror={PAYLOAD}>")
    ]
    return write_report(videos, folder / "index.html", f"<script>{PAYLOAD}</script>", others=failed), results


def test_every_link_is_an_anchor_or_a_relative_percent_encoded_url(hostile_report):
    page, results = hostile_report
    text = page.read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]*)"', text)
    files = [href for href in hrefs if not href.startswith(("#", "data:"))]
    assert len(files) == len(results)
    for href in files:
        assert not urlsplit(href).scheme, href
        assert re.fullmatch(r"[A-Za-z0-9%/._~-]+", href), f"{href}: not percent-encoded"
    assert "<script" not in text and "<img" not in text and "<svg onload" not in text
    assert "99.96% confidence" in text and "age 25 to 33" in text and "Gender: Female (99.12%)" in text


def test_appearances_are_shown_from_1(tmp_path: Path):
    text = render([VideoReport("a.mp4", "a.mp4", summary("a"))], tmp_path)
    assert ">#1</a>" in text and ">#0<" not in text and 'data-appearance="0"' in text


HARNESS = """<!doctype html><html><body><iframe id="report" src="REPORT" width="800" height="600"></iframe>
<script>
var clicked = false;
document.getElementById("report").onload = function () {
  if (clicked) { return; }
  clicked = true;
  var doc = this.contentDocument;
  var links = Array.prototype.slice.call(doc.querySelectorAll("a[href]"));
  var seen = links.map(function (a) { return [a.protocol, a.href]; });
  var active = doc.querySelectorAll("script, img, iframe, object, embed, [onerror], [onclick], [onload]").length;
  // Every link is clicked; one that would navigate elsewhere is held back (its target is checked
  // below), so that no navigation away cuts short a script a later link would run.
  links.forEach(function (a) {
    a.addEventListener("click", function (e) { if (a.protocol !== "javascript:") { e.preventDefault(); } });
    try { a.click(); } catch (e) {}
  });
  setTimeout(function () {
    var out = document.createElement("pre");
    out.id = "verdict";
    out.textContent = JSON.stringify({
      links: seen, active: active, pwned: document.body.getAttribute("data-pwned"),
      reportPwned: doc.body && doc.body.getAttribute("data-pwned")
    });
    document.body.appendChild(out);
  }, 1500);
};
</script></body></html>
"""


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_no_script_runs_from_a_hostile_name_in_a_headless_browser(hostile_report, tmp_path):
    page, results = hostile_report
    harness = page.parent / "harness.html"
    harness.write_text(HARNESS.replace("REPORT", page.name))
    profile = tmp_path / "profile"
    command = chromium_command(
        profile,
        "--allow-file-access-from-files",  # the harness reads the report's links, as file: pages
        "--virtual-time-budget=5000",
        "--dump-dom",
        harness.resolve().as_uri(),
    )
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=120, env=chromium_environment(profile)
    )
    found = re.search(r'<pre id="verdict">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the harness did not finish: {done.stdout[-2000:]}"
    verdict = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<"))
    assert verdict["pwned"] is None and verdict["reportPwned"] is None, "a name ran as script"
    assert verdict["active"] == 0, "a name became markup"
    protocols = {protocol for protocol, _ in verdict["links"]}
    assert protocols == {"file:"}, protocols
    targets = {unquote_to_bytes(urlsplit(href).path) for _, href in verdict["links"] if "#" not in href}
    for result in results:  # each results link reaches its very file, bytes and all
        assert os.fsencode(result.resolve()) in targets, result


def test_a_batch_index_lists_the_videos_without_results_with_their_error(tmp_path: Path):
    from launcher.report.html import batch_report

    out = tmp_path / "out"
    out.mkdir()
    results = out / "good.mp4.faces.csv"
    write_csv = io.StringIO()
    page = {
        "JobStatus": "SUCCEEDED",
        "Faces": [{"Timestamp": 0, "Face": {"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1}}}],
    }
    write_document(write_csv, iter([page]), "csv")
    results.write_text(write_csv.getvalue())
    lines = [
        {
            "video": "/v/good.mp4",
            "name": "good.mp4",
            "status": "SUCCEEDED",
            "results": str(results),
            "error": None,
            "jobId": "job-good",
            "videoMetadata": {"DurationMillis": 1000, "FrameWidth": 64, "FrameHeight": 48},
        },
        {"video": "/v/bad.mp4", "name": "bad.mp4", "status": "ERROR", "results": None, "error": "not a video"},
        {"video": "s3://b/f.mp4", "name": "f.mp4", "status": "FAILED", "results": None, "error": "job x ended FAILED"},
        {"video": "/v/gone.mp4", "name": "gone.mp4", "status": "SKIPPED", "results": str(out / "gone.json")},
    ]
    text = batch_report(lines, out, "csv", lambda: None).read_text()
    assert "<title>Faces in 4 video(s), 3 without results</title>" in text
    for expected in (
        "bad.mp4</b> (ERROR): not a video",
        "f.mp4</b> (FAILED): job x ended FAILED",
        "gone.mp4</b> (SKIPPED)",
    ):
        assert expected in text, expected
    assert "64 × 48 px" in text and "job-good" in text, "a csv's metadata, from batch.jsonl"


TICKS_HARNESS = """<!doctype html><html><body style="margin:0">
<iframe id="report" src="REPORT" width="WIDTH" height="900" style="border:0"></iframe>
<script>
document.getElementById("report").onload = function () {
  var spans = Array.prototype.slice.call(this.contentDocument.querySelectorAll(".axis span"));
  var boxes = spans.filter(function (s) { return s.offsetParent !== null; }).map(function (s) {
    var r = s.getBoundingClientRect();
    return [r.left, r.right];
  });
  var out = document.createElement("pre");
  out.id = "verdict";
  out.textContent = JSON.stringify(boxes);
  document.body.appendChild(out);
};
</script></body></html>
"""


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("width", [320, 390, 1280])
def test_the_timeline_labels_do_not_overlap_at_any_width(tmp_path, width):
    faces = [
        {"Timestamp": at, "Face": {"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1}}}
        for at in range(0, 3_540_000, 60_000)
    ]
    page = {"JobStatus": "SUCCEEDED", "VideoMetadata": {"DurationMillis": 3_599_000}, "Faces": faces}
    report = write_report(
        [VideoReport("long.mp4", "long.mp4", write_document(io.StringIO(), iter([page])))],
        tmp_path / "long.mp4.faces.html",
    )
    harness = tmp_path / "ticks.html"
    harness.write_text(TICKS_HARNESS.replace("REPORT", report.name).replace("WIDTH", str(width)))
    profile = tmp_path / "profile"
    done = subprocess.run(
        chromium_command(
            profile,
            "--allow-file-access-from-files",
            f"--window-size={width + 20},1000",
            "--virtual-time-budget=3000",
            "--dump-dom",
            harness.resolve().as_uri(),
        ),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env=chromium_environment(profile),
    )
    found = re.search(r'<pre id="verdict">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-2000:]
    boxes = sorted(json.loads(found.group(1)))
    assert len(boxes) >= 3, boxes
    for (_, right), (left, _) in itertools.pairwise(boxes):
        assert right <= left + 0.5, f"labels overlap at {width} px: {boxes}"
