"""A stage of a pipeline in its own thread: the redaction decodes, covers and encodes at once.

PyAV releases the GIL inside FFmpeg's calls (demuxing, decoding, encoding, muxing) and Pillow inside
its filters, so three threads (decode, cover, encode) keep both cores busy where one thread did
one thing after the other and waited on the encoder in between. Each stage runs ahead of its
consumer by at most ``ahead`` items, so memory stays a few frames whatever the video's length.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

Item = TypeVar("Item")

POLL_SECONDS = 0.1  # how often a blocked producer checks that its consumer is still there
_END = object()


class _Failed:
    """The producer's exception, carried to the consumer, who raises it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def in_background(items: Iterator[Item], ahead: int, name: str) -> Generator[Item, None, None]:
    """``items``, produced in a thread of their own, at most ``ahead`` of the caller. An exception
    of the producer is raised here; closing this generator (or leaving a ``for`` early) stops the
    producer and waits for its thread, which closes ``items``: nothing runs on after it. Stages
    chain: ``in_background(cover(in_background(decode(...))))`` runs the three at once, as long as
    each stage closes the generator it reads (``contextlib.closing``) when it is closed itself."""
    handed: queue.Queue[object] = queue.Queue(maxsize=max(1, ahead))
    stopped = threading.Event()

    def put(item: object) -> bool:
        while not stopped.is_set():
            try:
                handed.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with contextlib.closing(items) if isinstance(items, Generator) else contextlib.nullcontext():
                for item in items:
                    if not put(item):
                        return  # the consumer has gone
            put(_END)
        except BaseException as error:  # handed to the consumer, who raises it
            put(_Failed(error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while (item := handed.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]  # what the producer put: an Item
    finally:
        stopped.set()
        _join(thread)


def _join(thread: threading.Thread) -> None:
    """Wait for the thread even through a second Ctrl-C: what it uses (an open container) is
    freed after this returns, and a thread still in it would crash the process."""
    interrupted: BaseException | None = None
    while thread.is_alive():
        try:
            thread.join()
        except BaseException as error:  # an interrupt while waiting: wait on, then raise it
            interrupted = error
    if interrupted is not None:
        raise interrupted
