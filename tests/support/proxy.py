"""Fault injection: a local TCP proxy in front of an endpoint that drops connections on demand.

``DroppingProxy(port).drop(b"RekognitionService.StartFaceDetection", 2)`` closes, without an answer,
the next two connections on which a request carrying those bytes is seen (before a byte of it reaches
the endpoint): to the client, exactly a connection dropped by the network. With ``after_request=True``
the request reaches the endpoint and its answer is lost instead (the call happened; the client cannot
know). Everything else is passed through as it is, keep-alive connections included.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from types import TracebackType
from typing import Any

_CHUNK = 65536
_TAIL = 256  # bytes kept from the previous chunk, so that a marker split across two is still seen


class DroppingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._drops: dict[bytes, tuple[int, bool]] = {}
        self.dropped: Counter[bytes] = Counter()  # connections dropped, by marker
        self.seen: Counter[bytes] = Counter()  # requests seen carrying each marker, dropped or not
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop(self, marker: bytes, times: int, after_request: bool = False) -> None:
        """Drop the next ``times`` connections whose request carries ``marker`` (and watch for it):
        before the request reaches the endpoint, or, ``after_request``, before its answer comes back."""
        with self._lock:
            self._drops[marker] = (times, after_request)

    def __enter__(self) -> DroppingProxy:
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(client,), name="proxy-conn", daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._sockets |= {client, upstream}
        lose_answer = threading.Event()
        back = threading.Thread(target=self._pump, args=(upstream, client, lose_answer), name="proxy-back", daemon=True)
        back.start()
        tail = b""
        try:
            while chunk := client.recv(_CHUNK):
                window = tail + chunk
                matched = self._match(window)
                if matched == "drop":
                    return  # closed below, before the request reaches the endpoint
                if matched == "lose-answer":
                    lose_answer.set()
                upstream.sendall(chunk)
                tail = b"" if matched else window[-_TAIL:]  # a marker is counted once
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)
            back.join(timeout=5)
            with self._lock:
                self._sockets -= {client, upstream}

    def _match(self, window: bytes) -> str | None:
        """What to do when a watched marker is in ``window``: "drop", "lose-answer" or "pass"; else None."""
        with self._lock:
            for marker, (remaining, after_request) in self._drops.items():
                if marker in window:
                    self.seen[marker] += 1
                    if remaining > 0:
                        self._drops[marker] = (remaining - 1, after_request)
                        self.dropped[marker] += 1
                        return "lose-answer" if after_request else "drop"
                    return "pass"
        return None

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, lose_answer: threading.Event) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                if lose_answer.is_set():
                    _close(source)  # the endpoint answered; the client never hears it
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def stand_in_for_the_endpoint(proxy: DroppingProxy, monkeypatch: Any) -> None:
    """Requests through the proxy carry its address in ``Host``, which the endpoint's guard refuses as
    DNS rebinding (localaws/guard.py). The proxy stands in for the endpoint's own address, so the guard
    is told to take that one Host as its own too; every other Host is refused as before."""
    from localaws.guard import RequestGuard

    own = RequestGuard._host_refusal
    proxied = {f"127.0.0.1:{proxy.port}", f"localhost:{proxy.port}"}

    def host_refusal(self: RequestGuard, host: str | None) -> str | None:
        return None if host in proxied else own(self, host)

    monkeypatch.setattr(RequestGuard, "_host_refusal", host_refusal)
