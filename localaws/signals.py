"""Signal handlers set for a while and put back: the local commands' Ctrl-C and SIGTERM handling."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and kill's, a timeout's or a supervisor's stop


@contextmanager
def handlers_replaced(signums: Iterable[int], handler: Callable[[int, Any], Any]) -> Iterator[None]:
    """``handler`` for each of ``signums`` meanwhile, the previous handlers back afterwards. Off the main
    thread (signal handlers belong to it) nothing changes, nor does a signal whose handler was not set
    from Python (``getsignal`` gives None: it could not be put back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ours = [signum for signum in signums if signal.getsignal(signum) is not None]
    previous = {signum: signal.signal(signum, handler) for signum in ours}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
