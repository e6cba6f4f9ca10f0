"""Errors the service raises on its own schedule (throttling, internal errors), on demand: a test
hook, so clients' retry paths can be exercised against the emulator."""

from __future__ import annotations

import threading

from .exceptions import ERRORS_BY_CODE


class FaultInjector:
    def __init__(self) -> None:
        self._pending: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def inject(self, operation: str, code: str, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` fail with the modeled error ``code``."""
        if code not in ERRORS_BY_CODE:
            raise ValueError(f"unknown Rekognition error {code!r}")
        with self._lock:
            self._pending.setdefault(operation, []).extend([code] * times)

    def pending(self) -> dict[str, int]:
        """Injected faults not yet raised, by operation."""
        with self._lock:
            return {operation: len(codes) for operation, codes in self._pending.items() if codes}

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def raise_for(self, operation: str) -> None:
        """Called before each operation: raise the next fault injected for it, if any."""
        with self._lock:
            pending = self._pending.get(operation)
            code = pending.pop(0) if pending else None
        if code is not None:
            raise ERRORS_BY_CODE[code](f"{code} (injected)")
