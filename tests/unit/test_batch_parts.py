"""The batch's pure parts: what is a batch, the results names, the ledger, and the start logic's
light imports (an AWS Lambda function reuses it with boto3 alone)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.batch.discovery import discover, folder_videos, is_batch, result_names
from launcher.batch.ledger import Entry, Ledger
from launcher.batch.scheduler import Batch, Tally, prepare_out_dir
from launcher.jobs.errors import BadInput
from launcher.jobs.notifications import CLEANUP_SECONDS, LOOK_SECONDS, Completion
from launcher.options import BatchOptions, check_batch_options, file_name
from launcher.stack import StackOutputs
from tests.support.pulumi_mocks import FakeClock

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = StackOutputs("bucket", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:iam::123456789012:role/r", "q", "r")


def test_what_makes_a_batch(tmp_path: Path):
    assert not is_batch(["clip.mp4"]) and not is_batch(["s3://bucket/clip.mp4"])
    assert is_batch(["a.mp4", "b.mp4"]) and is_batch(["s3://bucket/prefix/"]) and is_batch([str(tmp_path)])


def test_a_folder_gives_its_videos_sorted_hidden_files_left_out(tmp_path: Path):
    for name in ("b.MOV", "a.mp4", "d.AVI", ".hidden.mp4", "notes.txt", "sub/c.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [Path(v).name for v in folder_videos(tmp_path, recursive=False)] == ["a.mp4", "b.MOV", "d.AVI"]
    assert [Path(v).name for v in folder_videos(tmp_path, recursive=True)] == ["a.mp4", "b.MOV", "d.AVI", "c.mp4"]


def test_an_empty_folder_is_bad_input(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.mp4").write_bytes(b"")
    with pytest.raises(BadInput, match=r"has no \.mp4/\.mov/\.avi videos \(add --recursive"):
        folder_videos(tmp_path, recursive=False)


def test_discover_keeps_the_order_given_once_each(tmp_path: Path):
    (tmp_path / "x.mp4").write_bytes(b"")
    found = discover([str(tmp_path / "x.mp4"), str(tmp_path), "s3://b/k.mov", "missing.mp4"], False, s3=None)
    assert found == [str(tmp_path / "x.mp4"), "s3://b/k.mov", str(Path("missing.mp4").absolute())]
    with pytest.raises(BadInput, match="not an S3 video URI"):
        discover(["s3:/b/k.mp4"], False, s3=None)


def test_results_names_are_distinct_and_stable():
    videos = ["/a/clip.mp4", "/b/clip.mp4", "s3://bucket/x/other.mov", "/c/CLIP.mp4"]
    names = dict(result_names(videos, {}))
    assert names["s3://bucket/x/other.mov"] == "other.mov" and names["/c/CLIP.mp4"] == "CLIP.mp4"
    assert names["/a/clip.mp4"] != names["/b/clip.mp4"]
    assert names["/a/clip.mp4"].startswith("clip-") and names["/a/clip.mp4"].endswith(".mp4")
    assert dict(result_names(list(reversed(videos)), {})) == names, "independent of the order"
    # A name the ledger already gave stays, and a newcomer avoids it.
    later = dict(result_names(["/a/clip.mp4", "/d/clip.mp4"], {"/a/clip.mp4": "clip.mp4"}))
    assert later["/a/clip.mp4"] == "clip.mp4" and later["/d/clip.mp4"].startswith("clip-")
    assert file_name("s3://bucket/a%20b/c%3Fd.mp4") == "c?d.mp4"


def test_the_ledger_keeps_what_it_was_told_across_connections(tmp_path: Path):
    ledger = Ledger(tmp_path)
    entry = Entry("/v/clip.mp4", "clip.mp4", "[]", "bucket", "videos/x.mp4", "v1", "t" * 64)
    ledger.save(entry)
    entry.job_id = "j" * 64
    ledger.save(entry)
    ledger.close()  # like a process that ends here
    again = Ledger(tmp_path)
    assert again.get("/v/clip.mp4") == entry
    assert again.get("/v/other.mp4") is None
    assert again.names(["/v/clip.mp4", "/v/other.mp4"]) == {"/v/clip.mp4": "clip.mp4"}
    assert entry.restarted() == Entry("/v/clip.mp4", "clip.mp4", "[]")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"max_jobs": 0}, "--max-jobs must be at least 1"),
        ({"fmt": "xml"}, "--format 'xml'"),
        ({"job_tag": "no spaces"}, "--job-tag"),
        ({"timeout": 0}, "--timeout must be a positive"),
        ({"grace": -1}, "--grace must be zero or more"),
    ],
)
def test_batch_options_refused(change, message):
    with pytest.raises(BadInput, match=message):
        check_batch_options(BatchOptions(videos=["a.mp4"], outputs=OUTPUTS, **change))


def test_an_auto_processing_stack_is_not_for_a_batch():
    outputs = dataclasses.replace(OUTPUTS, incoming_prefix="incoming/", starter_function_name="starter")
    with pytest.raises(BadInput, match="autoProcess"):
        check_batch_options(BatchOptions(videos=["a.mp4"], outputs=outputs))


def test_an_out_dir_that_cannot_be_a_folder(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput, match="cannot use --out-dir"):
        prepare_out_dir(tmp_path / "file" / "results")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / ".clip.mp4.faces.json.x1.partial").write_text("half")
    prepare_out_dir(tmp_path / "ok")
    assert list((tmp_path / "ok").iterdir()) == [], "a stopped run's temporary file is removed"


def test_the_summary_line():
    tally = Tally()
    tally.counts.update(SUCCEEDED=2, SKIPPED=1, ERROR=1)
    tally.faces = 7
    assert not tally.ok
    assert tally.describe(Path("out")) == (
        "4 video(s): 2 succeeded, 1 skipped, 0 failed, 1 error; 7 face(s); results in out/ (each video in batch.jsonl)"
    )


def test_the_start_logic_imports_with_boto3_alone():
    """No tqdm, no PyAV: what an AWS Lambda function has."""
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, *args):\n"
        "        if name.split('.')[0] in ('tqdm', 'av', 'numpy'):\n"
        "            raise ImportError(f'{name} is not there')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from launcher.jobs.detection import FaceDetection, StartRequest, RETRY_LATER\n"
        "from launcher.jobs.s3video import S3Video, parse_s3_uri\n"
        "request = StartRequest(parse_s3_uri('s3://b/k.mp4?versionId=1'), 'topic', 'role')\n"
        "print(len(request.derived_token()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "64"


def test_a_batch_looks_for_the_messages_of_jobs_whose_end_came_from_the_status():
    """Its consumer goes on until it has deleted them (left, they would go round other consumers
    into the dead-letter queue), at most as long as a single launcher would look."""
    clock = FakeClock()
    batch = Batch(BatchOptions(videos=["a.mp4"], outputs=OUTPUTS), clock=clock)
    batch._open.update({"found", "never"})
    batch._shared = True
    batch._ended_by_status("found")
    batch._ended_by_status("never")
    assert batch._consumer_needed()
    batch._dispatch(Completion("found", "SUCCEEDED"))
    clock.now = CLEANUP_SECONDS - 0.1
    assert batch._consumer_needed(), "'never' is still looked for"
    clock.now = CLEANUP_SECONDS
    assert not batch._consumer_needed()

    batch._shared = False
    batch._open.add("reused-token")
    batch._ended_by_status("reused-token")
    clock.now += LOOK_SECONDS
    assert not batch._consumer_needed(), "on a queue nobody shares: one short look"
