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

from .defaults import client_environment, isolated_environment

ROOT = Path(__file__).resolve().parents[1]
READY = "Local AWS endpoint ready at "


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_running(pid: int) -> bool:
    """Whether the process runs (Linux; one that has ended but is not yet reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


class EndpointProcess:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        own_process_group: bool = False,
        isolated: bool = False,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._own_process_group = own_process_group  # as a terminal runs it: its Ctrl-C goes to the group
        # The demo's: the endpoint without the user's AWS set-up either (defaults.isolated_environment).
        # Its own botocore sessions (the guard's region list, its clients of itself) read AWS_PROFILE:
        # one that ~/.aws does not hold failed the import of localaws.clients, so the endpoint never
        # started, or every request with a 500.
        self._isolated = isolated
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = list(extra_args)
        self._process: subprocess.Popen | None = None
        # Beside its data by default; elsewhere for a data folder removed on exit (the demo's), so that
        # the log a failure names is still there to read.
        self.log_path = log_path or data_dir / "endpoint.log"

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
            start_new_session=self._own_process_group,
            env=isolated_environment(os.environ, self.url) if self._isolated else None,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the one line it prints when ready
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"the local endpoint did not start: {line!r}; see {self.log_path}")
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean stop), then SIGKILL if it does not go, and then say so: an endpoint that
        ignores SIGTERM would let its jobs run on and finish, which a restart test must not miss."""
        process, self._process = self._process, None
        if process is None:
            return
        killed = False
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                killed = True
        if process.stdout:
            process.stdout.close()
        self._log.close()
        if killed:
            raise RuntimeError(f"the local endpoint did not stop within {timeout:g} s of SIGTERM; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as a crash or ``kill -9`` ends it: no clean stop, no last save."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
        self._log.close()

    def __enter__(self) -> EndpointProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            self.stop()
        except RuntimeError:
            if exc_type is None:  # else the error already on its way matters more
                raise

    def environment(self) -> dict[str, str]:
        return {**os.environ, **client_environment(self.url)}
