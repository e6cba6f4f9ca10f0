"""localaws.signals.handlers_replaced: the handlers set for a while, and the previous ones back."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from localaws.signals import handlers_replaced


def _theirs(signum: int, frame: Any) -> None:
    pass


def _ours(signum: int, frame: Any) -> None:
    pass


def test_the_handlers_are_set_meanwhile_and_the_previous_ones_back_after_an_error():
    previous = {signum: signal.signal(signum, _theirs) for signum in (signal.SIGUSR1, signal.SIGUSR2)}
    try:
        with pytest.raises(KeyError), handlers_replaced(previous, _ours):
            assert [signal.getsignal(signum) for signum in previous] == [_ours, _ours]
            raise KeyError
        assert [signal.getsignal(signum) for signum in previous] == [_theirs, _theirs]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_signal_whose_handler_was_not_set_from_python_is_left_alone(monkeypatch):
    """getsignal gives None for a handler set outside Python (an embedding program's): signal.signal
    could not put it back, so it is not replaced at all; the others are."""
    previous = {signum: signal.signal(signum, _theirs) for signum in (signal.SIGUSR1, signal.SIGUSR2)}
    getsignal = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda signum: None if signum == signal.SIGUSR1 else getsignal(signum))
    try:
        with handlers_replaced(previous, _ours):
            assert getsignal(signal.SIGUSR1) is _theirs and getsignal(signal.SIGUSR2) is _ours
        assert getsignal(signal.SIGUSR1) is getsignal(signal.SIGUSR2) is _theirs
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_off_the_main_thread_nothing_changes():
    """signal.signal raises ValueError there: the block runs, and no handler is touched."""
    before = signal.getsignal(signal.SIGUSR1)
    ran: list[object] = []

    def body() -> None:
        with handlers_replaced((signal.SIGUSR1,), _ours):
            ran.append(signal.getsignal(signal.SIGUSR1))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert ran == [before] and signal.getsignal(signal.SIGUSR1) is before
