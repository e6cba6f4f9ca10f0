"""Pulumi assets and archives as the offline deployer keeps and uploads them.

Under mocks a resource input such as a function's ``code`` arrives as a ``pulumi.AssetArchive`` (or
``FileArchive``, ``FileAsset``, ``StringAsset``). The deployer keeps a JSON description of it: where
each part comes from, and the SHA-256 of the zip it makes, so a deploy after a code change updates the
function and a deploy without one changes nothing. The zip is built from that description, the same
bytes each time (sorted entries, fixed timestamps, no ``__pycache__``).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pulumi

from .errors import UnsupportedResource

KIND = "__pulumiAsset"  # marks a description among a resource's inputs
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no build time in the bytes
_SKIPPED_PARTS = {"__pycache__"}


def is_asset(value: Any) -> bool:
    return isinstance(value, (pulumi.Asset, pulumi.Archive))


def _description(value: Any) -> dict[str, Any]:
    kind = type(value).__name__
    if isinstance(value, pulumi.StringAsset):
        return {KIND: kind, "text": value.text}
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        return {KIND: kind, "path": str(Path(value.path).resolve())}
    if isinstance(value, pulumi.AssetArchive):
        return {KIND: kind, "assets": {name: _description(inner) for name, inner in value.assets.items()}}
    raise UnsupportedResource(f"{kind} assets are not supported by the offline deployer: use a file or a folder")


def _entries(description: dict[str, Any], name: str = "") -> dict[str, bytes]:
    """Every file the description holds, by its path in the zip."""
    kind = description[KIND]
    if kind == "StringAsset":
        return {name: description["text"].encode()}
    if kind == "FileAsset":
        return {name: Path(description["path"]).read_bytes()}
    if kind == "FileArchive":
        root = Path(description["path"])
        if root.is_file():
            with zipfile.ZipFile(root) as existing:
                return {f"{name}/{n}".lstrip("/"): existing.read(n) for n in existing.namelist() if not n.endswith("/")}
        return {
            f"{name}/{path.relative_to(root).as_posix()}".lstrip("/"): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and not _SKIPPED_PARTS & set(path.relative_to(root).parts)
        }
    files: dict[str, bytes] = {}
    for member, inner in description["assets"].items():
        files.update(_entries(inner, f"{name}/{member}".lstrip("/")))
    return files


def build_zip(description: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in sorted(_entries(description).items()):
            info = zipfile.ZipInfo(path, _FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def describe(value: Any) -> dict[str, Any]:
    """The JSON the state keeps of an asset or archive: its parts, and its zip's SHA-256."""
    description = _description(value)
    return {**description, "sha256": hashlib.sha256(build_zip(description)).hexdigest()}
