"""Standard output as a terminal command sees it: a reader that may stop early (``| head``), and
lines that hold names of any characters. Not for ``launcher/jobs``, which ships to Lambda, where
nothing reads standard output."""

from __future__ import annotations

import os
import shlex
from typing import TextIO

# The bytes of a name that is not UTF-8, as Python keeps them in a str (surrogateescape).
_UNDECODED = range(0xDC80, 0xDD00)


def one_line(text: str) -> str:
    """``text`` as one line a terminal shows as it is: a file name's newline, its ESC (colours, cursor
    moves) or any other character that is not printable is written as Python's repr writes it
    (``\\n``, ``\\x1b``, ``\\u202e``), and a byte that is not UTF-8 as ``\\xNN``. A name then cannot
    break a line in two, forge another, or drive the terminal. Only for people: JSON keeps names exact."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(c: str) -> str:
    return f"\\x{ord(c) - 0xDC00:02x}" if ord(c) in _UNDECODED else repr(c)[1:-1]


def shell_word(arg: str) -> str:
    """``arg`` for a POSIX shell, so that a command printed for pasting runs on the same file:
    ``shlex.quote``, or for a word with a character a line cannot show (a newline, an escape, a
    name's bytes that are not UTF-8) bash's and zsh's ``$'...'``, each such byte as ``\\xNN``.
    (``shlex.quote`` kept the newline, and the line's escaping would have named another file.)"""
    if arg.isprintable():
        return shlex.quote(arg)
    quoted = "".join(
        "\\" + c
        if c in "\\'"
        else c
        if c.isprintable()
        else "".join(f"\\x{byte:02x}" for byte in c.encode("utf-8", "surrogateescape"))
        for c in arg
    )
    return f"$'{quoted}'"


class UntilReaderStops:
    """A stream (standard output) until its reader goes away (``... --out - | head``), then nowhere:
    the results are still read through, so that the summary is whole, and nothing fails. ``None``
    (standard output closed, ``>&-``, where Python's sys.stdout is None) is nowhere from the start."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.stopped = False  # the reader stopped before the end

    def write(self, text: str) -> int:
        if self._stream is not None and not self.stopped:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._gone(self._stream)
        return len(text)

    def flush(self) -> None:
        if self._stream is not None and not self.stopped:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone(self._stream)

    def _gone(self, stream: TextIO) -> None:
        self.stopped = True
        # What is still buffered, and the interpreter's last flush at exit, go nowhere instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
