"""Running a Python Lambda function: warm worker processes (execution environments), its timeout.

Each worker is a ``bootstrap.py`` process holding one version of one function: its code unzipped in
a folder keyed by the code's SHA-256, its environment built as Lambda builds it, with the function's
AWS calls pointed back at the local endpoint. A worker serves one invocation at a time and is kept
warm for the next; a worker that overruns the function's timeout is killed (as Lambda ends the
execution environment) and the invocation fails with "Task timed out". A changed code or
configuration retires the old workers.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from ..defaults import ACCESS_KEY_ID, NO_AWS_FILES, SECRET_ACCESS_KEY

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PYTHON_RUNTIME_PREFIX = "python"
# The endpoint accepts any credentials; these only let the function's SDK sign its requests.
# Lambda gives a function's init phase (imports, module-level code) 10 s of its own, apart from the
# invocation's timeout.
INIT_TIMEOUT_SECONDS = 10
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": "testing",  # Lambda gives a role's temporary credentials, which have one
}


# A layer holding this file (one top-level package name a line) stands for a layer of those packages
# built for the Lambda runtime: the function may import them from the endpoint's own environment. The
# real layer's wheels are built for Lambda's Python and platform (docs/redaction.md), which may not be
# the endpoint's.
ENDPOINT_PACKAGES_FILE = "LOCAL_ENDPOINT_PACKAGES"
# The redactor function's layer (requirements-redactor-layer.txt), as the function imports it.
REDACTOR_LAYER_PACKAGES = ("av", "numpy", "PIL")
REDACTOR_LAYER_NAME = "faces-redactor"  # as scripts/redactor_layer.py publishes the real one


def endpoint_packages_layer(packages: Iterable[str]) -> bytes:
    """A layer zip that stands for a layer of ``packages`` (top-level import names) built for the
    Lambda runtime: the function may import them from the endpoint's environment."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(ENDPOINT_PACKAGES_FILE, "".join(f"{name}\n" for name in packages))
        archive.writestr("python/", "")
    return buffer.getvalue()


@dataclass(frozen=True)
class LayerCode:
    """One layer version of a function: its zip, unzipped as Lambda does into /opt."""

    sha256: str
    code: bytes = field(compare=False, repr=False)


class UnsupportedRuntime(Exception):
    """The function's runtime is not one the local endpoint can run."""


@dataclass(frozen=True)
class FunctionSpec:
    """One version of one function: everything that decides how it runs."""

    name: str
    arn: str
    region: str
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    log_group: str
    code: bytes = field(compare=False, repr=False)
    layers: tuple[LayerCode, ...] = ()


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None  # errorMessage, errorType, stackTrace, as Lambda reports them
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


class Worker:
    """One execution environment: a bootstrap process for one function version."""

    def __init__(self, spec: FunctionSpec, task_root: Path, environment: dict[str, str]) -> None:
        self.spec = spec
        self._process = subprocess.Popen(
            [sys.executable, str(BOOTSTRAP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=task_root,
            text=True,
            # Out of the endpoint's process group: a Ctrl-C in its terminal reaches the endpoint alone,
            # which then ends its workers itself (they also end if it dies: bootstrap.py).
            start_new_session=True,
        )
        self._logger = logging.getLogger(f"localaws.lambda.{spec.name}")
        threading.Thread(target=self._forward_logs, name=f"lambda-logs-{spec.name}", daemon=True).start()
        self._initialised = False

    def _forward_logs(self) -> None:
        stream: IO[str] | None = self._process.stderr
        assert stream is not None
        for line in stream:
            self._logger.info("%s", line.rstrip())

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _line(self, timeout: float) -> str | None:
        """The next protocol line; "" if the process ended, None if nothing came within ``timeout``."""
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=timeout):
                return None
        return self._process.stdout.readline()

    def _wait_for_init(self) -> str | None:
        """Wait for the end of the init phase; None when it went well, else what went wrong."""
        if not self._initialised:
            started = time.monotonic()
            line = self._line(INIT_TIMEOUT_SECONDS)
            if not line:
                self.kill()
                return f"init phase: no answer within {INIT_TIMEOUT_SECONDS} s (or the runtime exited)"
            self._logger.debug("init phase %.0f ms", (time.monotonic() - started) * 1000)
            self._initialised = True
        return None

    def invoke(self, event: Any, request_id: str) -> InvocationResult:
        init_failure = self._wait_for_init()
        if init_failure is not None:
            return self._crashed(request_id, time.monotonic(), init_failure)
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000) + self.spec.timeout_seconds * 1000
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(
                json.dumps({"event": event, "request_id": request_id, "deadline_ms": deadline_ms})
            )
            self._process.stdin.write("\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            return self._crashed(request_id, started, f"the runtime exited: {error}")
        line = self._line(self.spec.timeout_seconds)
        duration = (time.monotonic() - started) * 1000
        if line is None:
            self.kill()
            message = f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
            return InvocationResult(
                request_id, error={"errorMessage": message, "errorType": "Sandbox.Timedout"}, duration_ms=duration
            )
        if not line:
            return self._crashed(request_id, started, f"the runtime exited with status {self._process.wait()}")
        response = json.loads(line)
        return InvocationResult(request_id, response.get("result"), response.get("error"), duration)

    def _crashed(self, request_id: str, started: float, message: str) -> InvocationResult:
        self.kill()
        return InvocationResult(
            request_id,
            error={"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": "Runtime.ExitError"},
            duration_ms=(time.monotonic() - started) * 1000,
        )

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


class FunctionRunner:
    """Runs invocations on warm workers, one invocation per worker at a time."""

    def __init__(self, code_dir: Path, endpoint_url: Callable[[], str]) -> None:
        # Absolute: a worker starts in its task root and is told that root's path (LAMBDA_TASK_ROOT),
        # which a relative --data-dir (serve's default, .local) would name from the wrong folder.
        self._code_dir = code_dir.absolute()
        self._endpoint_url = endpoint_url
        self._idle: dict[str, list[Worker]] = {}  # by function ARN
        self._busy: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def invoke(self, spec: FunctionSpec, event: Any) -> InvocationResult:
        if not spec.runtime.startswith(PYTHON_RUNTIME_PREFIX):
            raise UnsupportedRuntime(
                f"runtime {spec.runtime!r} of function {spec.name}: the local endpoint runs only Python functions"
            )
        request_id = str(uuid.uuid4())
        worker = self._acquire(spec)
        result = worker.invoke(event, request_id)
        self._release(worker)
        level = logging.WARNING if result.failed else logging.DEBUG
        log.log(
            level,
            "%s %s: %.0f ms%s",
            spec.name,
            request_id,
            result.duration_ms,
            f" {result.error}" if result.failed else "",
        )
        return result

    def _acquire(self, spec: FunctionSpec) -> Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the Lambda runner is shut down")
            idle = self._idle.setdefault(spec.arn, [])
            stale = [w for w in idle if w.spec != spec or not w.alive]
            for worker in stale:
                idle.remove(worker)
            worker = idle.pop() if idle else Worker(spec, self._task_root(spec), self._environment(spec))
            self._busy.add(worker)
        for old in stale:
            old.kill()
        return worker

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self._closed:
                self._idle.setdefault(worker.spec.arn, []).append(worker)
                return
        worker.kill()

    def _task_root(self, spec: FunctionSpec) -> Path:
        """The code, unzipped once per content (atomically: a half-extracted folder is never used)."""
        return self._unzipped(spec.code_sha256, spec.code)

    def _layer_root(self, layer: LayerCode) -> Path:
        """A layer's content, unzipped once (as Lambda extracts layers into /opt)."""
        return self._unzipped(layer.sha256, layer.code, prefix="layer-")

    def _unzipped(self, sha256: str, code: bytes, prefix: str = "") -> Path:
        """A zip's content in a folder named by its hash, extracted once, atomically: a half-extracted
        folder is never used, and a worker that extracted the same zip first wins."""
        folder = prefix + sha256.replace("/", "_").replace("+", "-")  # base64, as Lambda reports it
        root = self._code_dir / folder
        if not root.is_dir():
            self._code_dir.mkdir(parents=True, exist_ok=True)
            partial = self._code_dir / f".{folder}.{uuid.uuid4().hex}"
            with zipfile.ZipFile(BytesIO(code)) as archive:
                archive.extractall(partial)
            try:
                partial.rename(root)
            except OSError:  # another worker extracted the same zip first
                shutil.rmtree(partial)
        return root

    def _layer_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """Where the worker finds its layers' Python code (each layer's ``python/``, as Lambda's
        /opt/python), and the endpoint packages that layers stand for."""
        paths, packages = [], []
        for layer in spec.layers:
            root = self._layer_root(layer)
            paths.append(str(root / "python"))
            listed = root / ENDPOINT_PACKAGES_FILE
            if listed.is_file():
                packages += [line.strip() for line in listed.read_text().splitlines() if line.strip()]
        if not paths:
            return {}
        return {
            "LOCAL_LAMBDA_LAYER_PATHS": os.pathsep.join(paths),
            "LOCAL_LAMBDA_ENDPOINT_PACKAGES": ",".join(packages),
        }

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """Lambda's reserved variables, the function's own, and this endpoint for its AWS calls."""
        task_root = str(self._task_root(spec))
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            # As on Lambda, no ~/.aws: without a HOME the SDK would still find the user's through the
            # password database, and a profile's ignore_configured_endpoint_urls there would send the
            # function's calls past AWS_ENDPOINT_URL to AWS. A function may set its own.
            **NO_AWS_FILES,
            **dict(spec.environment),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "LOCAL_LAMBDA_FUNCTION_ARN": spec.arn,
            "AWS_ENDPOINT_URL": self._endpoint_url(),
            **self._layer_environment(spec),
            **DUMMY_CREDENTIALS,
        }

    def shutdown(self) -> None:
        """Kill every worker; a running invocation fails as if its environment were reclaimed."""
        with self._lock:
            self._closed = True
            workers = [w for idle in self._idle.values() for w in idle] + list(self._busy)
            self._idle.clear()
        for worker in workers:
            worker.kill()
