"""The state folder on disk: never a half-written state, whenever the process dies.

    <data-dir>/state/manifest.json     which part files and blobs make up the state (replaced atomically)
    <data-dir>/state/parts/<sha256>    one pickle per part (a moto service, the event source mappings)
    <data-dir>/state/blobs/<name>      the bytes of one S3 object

Every file is written to a temporary name, flushed to disk (``fsync``) and renamed; the folder is
flushed before the manifest names the new files, and the manifest itself is replaced the same way. A
``kill -9`` or a power cut therefore leaves the previous manifest or the new one, each complete.
Part files are named by their SHA-256, checked when read: a part changed on disk is refused, not
loaded. Files no manifest names (an older generation, a temporary file) are removed after a commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"


class StateError(Exception):
    """The state folder cannot be read or written; the message says which file and why."""


@dataclass(frozen=True)
class Part:
    file: str  # the SHA-256 of its bytes
    blobs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    parts: dict[str, Part]
    saved_ms: int
    versions: dict[str, str]

    def to_json(self) -> str:
        parts = {name: {"file": part.file, "blobs": list(part.blobs)} for name, part in sorted(self.parts.items())}
        return json.dumps(
            {"format": FORMAT, "saved_ms": self.saved_ms, "versions": self.versions, "parts": parts}, indent=1
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, fill: Callable[[Any], None]) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            fill(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class StateFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts_dir = path / "parts"
        self.blobs_dir = path / "blobs"

    def prepare(self) -> None:
        for folder in (self.path, self.parts_dir, self.blobs_dir):
            folder.mkdir(parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------------------

    def manifest(self) -> Manifest | None:
        path = self.path / MANIFEST
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise StateError(f"cannot read {path}: {error}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("parts"), dict):
            raise StateError(f"{path} is not a state manifest of format {FORMAT}")
        parts = {name: Part(str(entry["file"]), tuple(entry.get("blobs", ()))) for name, entry in raw["parts"].items()}
        return Manifest(parts, int(raw.get("saved_ms", 0)), dict(raw.get("versions", {})))

    def read_part(self, part: Part) -> bytes:
        path = self.parts_dir / part.file
        try:
            data = path.read_bytes()
        except OSError as error:
            raise StateError(f"cannot read {path}: {error.strerror}") from None
        if hashlib.sha256(data).hexdigest() != part.file:
            raise StateError(f"{path} does not match its checksum: the file was changed or damaged")
        missing = [blob for blob in part.blobs if not (self.blobs_dir / blob).is_file()]
        if missing:
            raise StateError(f"{len(missing)} S3 object file(s) missing from {self.blobs_dir}, e.g. {missing[0]}")
        return data

    # -- writing -----------------------------------------------------------------------------------

    def write_part(self, data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()
        path = self.parts_dir / name
        if not path.exists():
            _write_atomically(path, lambda file: file.write(data))
        return name

    def has_blob(self, name: str) -> bool:
        return (self.blobs_dir / name).exists()

    def write_blob(self, name: str, copy: Callable[[Callable[[bytes], Any]], None]) -> None:
        _write_atomically(self.blobs_dir / name, lambda file: copy(file.write))

    def commit(self, manifest: Manifest) -> None:
        """Make ``manifest`` the state (its files are written already), then remove what it does not name."""
        _fsync_dir(self.parts_dir)
        _fsync_dir(self.blobs_dir)
        data = manifest.to_json().encode()
        _write_atomically(self.path / MANIFEST, lambda file: file.write(data))
        _fsync_dir(self.path)
        self.collect(manifest)

    def collect(self, manifest: Manifest) -> None:
        keep_parts = {part.file for part in manifest.parts.values()}
        keep_blobs = {blob for part in manifest.parts.values() for blob in part.blobs}
        _remove_others(self.parts_dir.iterdir(), keep_parts)
        _remove_others(self.blobs_dir.iterdir(), keep_blobs)
        _remove_others((p for p in self.path.iterdir() if p.name.endswith(".tmp")), set())


def _remove_others(paths: Iterable[Path], keep: set[str]) -> None:
    for path in paths:
        if path.name not in keep and path.is_file():
            path.unlink(missing_ok=True)
