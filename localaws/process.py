"""The local endpoint as a separate process (``scripts/local.py serve``), the way a user runs it: for
the demo, the end-to-end tests and the benchmarks. Stopped on exit, even on failure or Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .defaults import client_environment

ROOT = Path(__file__).resolve().parents[1]
READY = "Local AWS endpoint ready at "


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EndpointProcess:
    def __init__(self, data_dir: Path, port: int | None = None, extra_args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = list(extra_args)
        self._process: subprocess.Popen | None = None
        self.log_path = data_dir / "endpoint.log"

    def start(self) -> EndpointProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a")
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "local.py"),
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self._args,
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the one line it prints when ready
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the local endpoint did not start: {line!r}; see {self.log_path}")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean stop), then SIGKILL if it does not go."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
        self._log.close()

    def __enter__(self) -> EndpointProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        return {**os.environ, **client_environment(self.url)}
