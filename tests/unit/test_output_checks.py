"""The one check of an output file (``launcher.jobs.formats.check_output_file``) as the results file
and report (``launcher.options.check_writable``) and the redacted copy
(``launcher.redact.options.check_output``) use it: each situation refused in the same line as when
each had its own copy, with advice naming its own option."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from launcher.jobs.errors import BadInput
from launcher.jobs.formats import name_max
from launcher.options import LaunchOptions, check_writable, results_name
from launcher.redact.options import RedactOptions, check_output
from launcher.stack import StackOutputs

OUTPUTS = StackOutputs("bucket", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:iam::123456789012:role/r", "q", "r")

CHECKS: dict[str, Callable[[Path, bool], None]] = {
    "results": lambda path, overwrite: check_writable(path, overwrite),
    "report": lambda path, overwrite: check_writable(path, overwrite, is_report=True),
    "redacted": check_output,
}


def refusal(check: str, path: Path, overwrite: bool = False) -> str | None:
    try:
        CHECKS[check](path, overwrite)
    except BadInput as error:
        return str(error)
    return None


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_a_folder_a_missing_folder_and_a_new_file(tmp_path, check):
    assert refusal(check, tmp_path) == f"cannot write {tmp_path}: it is a folder"
    missing = tmp_path / "nowhere" / "f"
    assert refusal(check, missing) == f"cannot write {missing}: the folder {tmp_path / 'nowhere'} does not exist"
    assert refusal(check, tmp_path / "new") is None
    assert os.listdir(tmp_path) == [], "the probe file is gone"


@pytest.mark.parametrize(
    "check, advice",
    [
        ("results", "give --out - for standard output, or a file name"),
        ("report", "--report writes its page there: move it away, or give --out a file in another folder"),
        ("redacted", "name a file"),
    ],
)
def test_a_pipe_is_refused_even_with_overwrite(tmp_path, check, advice):
    os.mkfifo(tmp_path / "pipe")
    says = f"cannot write {tmp_path / 'pipe'}: it is not a regular file (a device or a pipe); {advice}"
    assert refusal(check, tmp_path / "pipe", overwrite=True) == says


@pytest.mark.parametrize(
    "check, advice",
    [
        ("results", "--out another file"),
        ("report", "give --out a file in another folder"),
        ("redacted", "name another output"),
    ],
)
def test_an_existing_file_needs_overwrite(tmp_path, check, advice):
    (tmp_path / "f").write_text("mine")
    assert refusal(check, tmp_path / "f") == f"{tmp_path / 'f'} exists: pass --overwrite to replace it, or {advice}"
    assert refusal(check, tmp_path / "f", overwrite=True) is None
    assert (tmp_path / "f").read_text() == "mine" and os.listdir(tmp_path) == ["f"]


@pytest.mark.parametrize(
    "check, advice",
    [("results", "give a shorter --out"), ("report", "give a shorter --out"), ("redacted", "name a shorter output")],
)
def test_a_name_longer_than_the_file_system_takes_is_said_so(tmp_path, check, advice):
    """Statting such a name raises (ENAMETOOLONG) before the length was looked at: the line was
    "cannot use ...: File name too long. What to do: pick a file or folder you may write to"."""
    for long in (tmp_path / ("n" * 256), Path("n" * 256)):
        assert refusal(check, long) == (f"cannot write {long}: the name is longer than the file system takes; {advice}")
    folder = tmp_path / ("d" * 256) / "f"  # a folder's name: its stat raised ENAMETOOLONG first
    assert refusal(check, folder) == (
        f"cannot write {folder}: its folder's path is longer than the file system takes; {advice}"
    )


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no /sys here")
@pytest.mark.parametrize("check, advice", [("results", "; pick a folder you may write to (--out)"), ("redacted", "")])
def test_a_folder_that_takes_no_new_file(check, advice):
    """/sys takes no new file, even from root."""
    path = Path("/sys/kernel/f")
    said = refusal(check, path)
    assert said is not None and said.startswith(f"cannot write {path}: ") and said.endswith(f" in /sys/kernel{advice}")


# Every file named from a video's results name: results in each format, the report, the redacted copy
# and --redact's record beside a jsonl or csv results file.
SUFFIXES = (
    ".faces.json",
    ".faces.jsonl",
    ".faces.csv",
    ".faces.html",
    ".redacted.mp4",
    ".faces.jsonl.redaction.json",
    ".faces.csv.redaction.json",
)


def test_every_file_named_from_a_long_name_can_be_made(tmp_path):
    """A batch shortened a long name to fit ".faces.jsonl" only: its redacted copy (one byte more) and
    its redaction record failed with "File name too long" after the job. Here each is made for real."""
    for length in range(220, 300, 3):
        stem = results_name("n" * (length - 4) + ".mp4", tmp_path)
        for suffix in SUFFIXES:
            (tmp_path / f"{stem}{suffix}").touch()
    assert len(os.listdir(tmp_path)) == len(range(220, 300, 3)) * len(SUFFIXES)


def test_a_single_launchs_default_redacted_copy_of_a_long_name_is_shortened_as_its_results():
    """It was <video name>.redacted.mp4 whatever the length: refused for a 250-byte name."""
    video = "n" * 246 + ".mp4"
    options = LaunchOptions(video=video, outputs=OUTPUTS, redact=RedactOptions())
    redacted = options.redact_path()
    assert redacted is not None and redacted.name == f"{results_name(video)}.redacted.mp4"
    assert redacted.name.startswith("n" * 200) and len(os.fsencode(redacted.name)) <= name_max()
    short = LaunchOptions(video="clip.mp4", outputs=OUTPUTS, redact=RedactOptions()).redact_path()
    assert short == Path("clip.mp4.redacted.mp4")
