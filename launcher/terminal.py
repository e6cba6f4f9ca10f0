"""Standard output as a terminal command sees it: a reader that may stop early (``| head``). Not for
``launcher/jobs``, which ships to Lambda, where nothing reads standard output."""

from __future__ import annotations

import os
from typing import TextIO


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
