"""Lines for people hold names of any characters: ``one_line`` shows a name on one line, and
``shell_word`` quotes it so that a printed command, pasted into bash, names the very file."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from launcher.terminal import one_line, shell_word

NAMES = [
    "plain.mp4",
    "clip #1 (it's).mp4",
    "a\nb.mp4",
    "\x1b[31mred\x1b[0m.mp4",
    "tab\there\r.mp4",
    "\u202eevil.mp4",  # a right-to-left override: the line would read backwards
    os.fsdecode(b"caf\xe9 \\ latin1.mp4"),  # not UTF-8, and a backslash
    "",
]


@pytest.mark.parametrize("name", NAMES)
def test_one_line_is_one_printable_line(name):
    shown = one_line(name)
    assert shown.isprintable() and "\n" not in shown
    assert one_line(shown) == shown  # already shown: left as it is


def test_one_line_writes_what_repr_writes_and_bytes_as_x_escapes():
    assert one_line("a\nb\x1b[31m\u202e.mp4") == "a\\nb\\x1b[31m\\u202e.mp4"
    assert one_line(os.fsdecode(b"caf\xe9.mp4")) == "caf\\xe9.mp4"
    assert one_line("café (1).mp4") == "café (1).mp4"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to read the quoted words")
def test_shell_word_names_the_very_bytes_in_bash():
    command = "printf '%s\\0' " + " ".join(shell_word(name) for name in NAMES)
    words = subprocess.run(["bash", "-c", command], capture_output=True, check=True).stdout.split(b"\0")[:-1]
    assert words == [os.fsencode(name) for name in NAMES]
    assert all(shell_word(name).isprintable() for name in NAMES)
    assert shell_word("clip #1.mp4") == "'clip #1.mp4'"  # printable names: shlex.quote, as before


def test_a_log_line_is_one_line_too():
    """The batch's warnings on a terminal and --verbose's steps go through logging, not the console."""
    import logging

    from launcher.cli import OneLineFormatter

    record = logging.LogRecord("launcher.batch", logging.WARNING, __file__, 1, "%s: %s", ("a\nb.mp4", "x\x1b[2J"), None)
    assert OneLineFormatter("%(levelname)s: %(message)s").format(record) == "WARNING: a\\nb.mp4: x\\x1b[2J"
