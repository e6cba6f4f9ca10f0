"""Keep the endpoint's state across restarts: snapshots of moto's backends and the event source mappings.

Why snapshots and not moto's recorder: the recorder replays requests, which makes new IDs (object
version IDs, role IDs, message receipt handles all change), keeps every request's body (base64) and
every poll forever, and does not flush to disk. A snapshot restores the very objects.

How: every request that may change something marks the state dirty. A background thread, at most
every ``interval`` seconds, pickles each moto backend in use (``pickling.py``) while no request is
inside moto (``RequestGate``), then, with requests flowing again, writes the parts whose bytes
changed and the bytes of new S3 objects, and commits a new manifest (``files.py``). A clean stop
saves once more. So a ``kill -9`` loses at most the changes of the last interval (plus the time to
write them) and never leaves a half-written state.

A state folder that cannot be read stops the start with an error naming the file: the endpoint
never starts empty over state it could not read, and so never overwrites it.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto
from moto.core.base_backend import BackendDict, backend_lock

from . import pickling
from .files import Manifest, Part, StateError, StateFolder

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.5
GATE_TIMEOUT_SECONDS = 0.2  # a snapshot waits this long for requests to leave moto, then lets them in again
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAPPINGS_PART = "localaws.awslambda:event_source_mappings"
_NOT_SAVED = {"moto.moto_api._internal.models"}  # moto's own control API (recorder, seeds): not state
_BACKEND_DICT_ATTRIBUTES = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


def changes_state(environ: dict[str, Any]) -> bool:
    """Whether a request may change something: anything but a read (a query-protocol ``Action`` may
    come in a GET and change things)."""
    method = environ.get("REQUEST_METHOD", "GET")
    return method not in SAFE_METHODS or "Action=" in environ.get("QUERY_STRING", "")


class RequestGate:
    """Requests into moto share it; a snapshot takes it alone, between requests. A snapshot that
    cannot have it within ``GATE_TIMEOUT_SECONDS`` (a request inside moto calling this endpoint
    again would wait on it for ever) lets requests in again and tries later. A request that waits
    inside moto (an SQS long poll) steps out while it waits (``stepped_out``)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._inside = 0
        self._closed = False
        self._local = threading.local()

    def _enter(self) -> None:
        with self._condition:
            self._condition.wait_for(lambda: not self._closed)
            self._inside += 1

    def _leave(self) -> None:
        with self._condition:
            self._inside -= 1
            if self._inside == 0:
                self._condition.notify_all()

    @contextmanager
    def request(self) -> Iterator[None]:
        self._enter()
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            self._leave()

    @contextmanager
    def stepped_out(self) -> Iterator[None]:
        if not getattr(self._local, "depth", 0):
            yield
            return
        self._leave()
        try:
            yield
        finally:
            self._enter()

    @contextmanager
    def alone(self, timeout: float = GATE_TIMEOUT_SECONDS) -> Iterator[bool]:
        with self._condition:
            self._closed = True
            alone = self._condition.wait_for(lambda: self._inside == 0, timeout)
            if not alone:
                self._closed = False
                self._condition.notify_all()
        try:
            yield alone
        finally:
            if alone:
                with self._condition:
                    self._closed = False
                    self._condition.notify_all()


_GATE: RequestGate | None = None  # the gate of the endpoint that keeps state (one per process: moto's are global)


def _install_long_poll_patch() -> None:
    """moto's SQS long poll waits inside the request; let snapshots in while it waits."""
    from moto.sqs.models import Queue

    if getattr(Queue.wait_for_messages, "_steps_out", False):
        return
    original = Queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        gate = _GATE
        if gate is None:
            return original(self, timeout)
        with gate.stepped_out():
            return original(self, timeout)

    wait_for_messages._steps_out = True  # type: ignore[attr-defined]
    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def _in_use() -> list[BackendDict[Any]]:
    """moto's list of the backend dictionaries in use (those it would reset)."""
    return BackendDict._instances  # type: ignore[misc]  # a class-level list, typed per instance


def _location(backends: BackendDict[Any]) -> str | None:
    """``module:attribute`` where moto keeps this backend dictionary."""
    candidates = [backends.backend.__module__, *(name for name in sys.modules if name.startswith("moto."))]
    for module_name in candidates:
        module = sys.modules.get(module_name)
        for attribute, value in vars(module).items() if module else ():
            if value is backends:
                return f"{module_name}:{attribute}"
    return None


def _live_backends(location: str) -> BackendDict[Any]:
    module_name, attribute = location.split(":")
    backends = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(backends, BackendDict):
        raise StateError(f"{location} is not a moto backend any more (another moto version?)")
    return backends


class NotingChanges:
    """A WSGI app of the endpoint (moto's, our Lambda app), wrapped: after a request that may change
    something, the state is marked changed; with ``gated``, the request runs inside the gate. Other
    attributes are the wrapped app's (the endpoint asks moto's dispatcher which services it serves)."""

    def __init__(self, app: Any, keeper: StateKeeper, gated: bool) -> None:
        self._app, self._keeper, self._gated = app, keeper, gated

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            if not self._gated:
                return self._app(environ, start_response)
            with self._keeper.gate.request():
                return self._app(environ, start_response)
        finally:
            if changes_state(environ):
                self._keeper.changed()


@dataclass(frozen=True)
class Restored:
    parts: int
    saved_ms: int
    mappings: list[dict[str, Any]]


class StateKeeper:
    """One per endpoint that keeps state. ``mappings`` reads the event source mappings for a snapshot."""

    def __init__(
        self,
        folder: Path,
        mappings: Callable[[], list[dict[str, Any]]],
        interval: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self.folder = StateFolder(folder)
        self.gate = RequestGate()
        self._mappings = mappings
        self._interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: dict[str, Part] = {}
        self._locations: dict[int, str | None] = {}
        self._save_lock = threading.Lock()
        self._failing: str | None = None
        self.last_saved_ms = 0

    # -- start -------------------------------------------------------------------------------------

    def restore(self) -> Restored:
        """Load the saved state into moto (before the endpoint serves). Raises StateError, naming the
        file, for a state it cannot read: the caller must not start empty over it."""
        global _GATE
        try:
            self.folder.prepare()
        except OSError as error:
            raise StateError(f"cannot use the state folder {self.folder.path}: {error.strerror}") from None
        _GATE = self.gate
        _install_long_poll_patch()
        manifest = self.folder.manifest()
        if manifest is None:
            return Restored(0, 0, [])
        if manifest.versions.get("moto") not in (None, moto.__version__):
            raise StateError(
                f"the state in {self.folder.path} was saved by moto {manifest.versions['moto']}, this is moto "
                f"{moto.__version__}; use another --data-dir, or install moto {manifest.versions['moto']}"
            )
        mappings: list[dict[str, Any]] = []
        loaded: list[tuple[str, Any]] = []
        for name, part in manifest.parts.items():
            try:
                value = pickling.loads(self.folder.read_part(part), self.folder.blobs_dir)
            except StateError:
                raise
            except Exception as error:  # an unpickling error of any kind: say which part
                raise StateError(f"cannot load {name} from {self.folder.parts_dir / part.file}: {error}") from None
            loaded.append((name, value))
        for name, value in loaded:  # only once every part loaded: all or nothing
            if name == MAPPINGS_PART:
                mappings = list(value)
            else:
                self._install(name, value)
        self._saved = dict(manifest.parts)
        self.last_saved_ms = manifest.saved_ms
        return Restored(len(manifest.parts), manifest.saved_ms, mappings)

    @staticmethod
    def _install(location: str, value: tuple[dict[str, Any], dict[str, Any]]) -> None:
        accounts, attributes = value
        backends = _live_backends(location)
        with backend_lock:
            backends.clear()
            backends.update(accounts)
            for attribute, attribute_value in attributes.items():
                setattr(backends, attribute, attribute_value)
            if backends not in _in_use():
                _in_use().append(backends)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="state-snapshots", daemon=True)
        self._thread.start()

    # -- while serving -----------------------------------------------------------------------------

    def changed(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(timeout=1.0)
            if self._stop.is_set() or not self._dirty.is_set():
                continue
            self._stop.wait(self._interval)  # gather the changes of one interval into one snapshot
            self.save()

    def save(self) -> bool:
        """Write a snapshot if anything changed; False if it could not (it tries again later)."""
        with self._save_lock:
            self._dirty.clear()
            try:
                problems = self._save()
            except Exception as error:  # a full disk, a deleted folder
                self._dirty.set()
                problems = [str(error)]
            message = "; ".join(problems)
            if message and message != self._failing:
                log.error("the endpoint's state could not be saved to %s: %s; retrying", self.folder.path, message)
            elif not message and self._failing:
                log.info("the endpoint's state is saved again to %s", self.folder.path)
            self._failing = message or None
            if problems:
                self._stop.wait(1.0)
            return not problems

    def _save(self) -> list[str]:
        """Save what changed; the problems of the parts that could not be saved (their last saved
        version stays), which do not keep the others from being saved."""
        with self.gate.alone() as alone:
            if not alone:
                self._dirty.set()  # requests kept moto busy: next interval
                return []
            pickled, failed = self._pickle()
        problems = [problem for problem in failed.values() if problem]
        if failed:
            self._dirty.set()
        # What was pickled now, and the last saved version of what could not be; a backend no longer
        # in use (moto's reset) is dropped.
        parts = {name: part for name, part in self._saved.items() if name in failed}
        for name, (data, keys) in pickled.items():
            for blob, key in keys.items():
                if self.folder.has_blob(blob):
                    continue
                try:
                    self.folder.write_blob(blob, functools.partial(pickling.copy_key_bytes, key))
                except ValueError:  # the object was deleted since: this snapshot is stale, take another
                    self._dirty.set()
                    return problems
            parts[name] = Part(self.folder.write_part(data), tuple(sorted(keys)))
        if parts != self._saved:
            manifest = Manifest(parts, int(time.time() * 1000), {"moto": moto.__version__})
            self.folder.commit(manifest)
            self._saved = parts
            self.last_saved_ms = manifest.saved_ms
        return problems

    def _pickle(self) -> tuple[dict[str, tuple[bytes, dict[str, Any]]], dict[str, str | None]]:
        """Pickle every backend in use and the mappings (called while no request is inside moto); the
        problem of each part that could not be pickled (None: changed meanwhile by the endpoint's own
        code, which reads moto outside the gate and may add a region's backend; the next snapshot has it)."""
        pickled: dict[str, tuple[bytes, dict[str, Any]]] = {}
        problems: dict[str, str | None] = {}
        for backends in list(_in_use()):
            location = self._location(backends)
            if location is None:
                continue
            try:
                attributes = {k: v for k, v in vars(backends).items() if k not in _BACKEND_DICT_ATTRIBUTES}
                pickled[location] = pickling.dumps((dict(backends), attributes))
            except RuntimeError as error:  # "dictionary changed size during iteration"
                problems[location] = None if "changed size" in str(error) else f"{location}: {error}"
            except Exception as error:  # a value this moto version keeps that cannot be pickled
                problems[location] = f"{location}: {error}"
        pickled[MAPPINGS_PART] = pickling.dumps(self._mappings())
        return pickled, problems

    def _location(self, backends: BackendDict[Any]) -> str | None:
        key = id(backends)
        if key not in self._locations:
            location = _location(backends)
            self._locations[key] = None if location is None or location.split(":")[0] in _NOT_SAVED else location
        return self._locations[key]

    # -- stop --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Save once more (the endpoint no longer serves) and stop the thread."""
        global _GATE
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.save():
            log.error("the last changes were not saved to %s", self.folder.path)
        if _GATE is self.gate:
            _GATE = None
