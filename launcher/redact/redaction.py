"""One redaction, from a job's appearances to a written, audited copy: what ``--redact`` runs after
the job (single launch and batch alike), and what goes into the results (``Redaction``)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jobs.appearances import Appearance
from ..jobs.errors import BadInput, ExitCode
from .audit import Audit, audit_video, default_every, load_detector
from .boxes import Padding, Timeline
from .writer import DEFAULT_STYLE, STYLES, Quality, VideoSource, Written, check_output, redact_video

SUFFIX = ".redacted.mp4"
SIDECAR_SUFFIX = ".redaction.json"  # beside a jsonl or csv results file, which has no place for it


def redacted_name(video_name: str) -> str:
    """``<name>.redacted.mp4``, ``<name>`` as in the results' ``<name>.faces.<format>``."""
    return f"{video_name}{SUFFIX}"


def parse_keep(text: str | None) -> tuple[int, ...]:
    """``--redact-keep N[,M...]``: appearance numbers (as the results and the report show them)."""
    if not text:
        return ()
    numbers = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"\d+", part):
            raise BadInput(f"--redact-keep {text!r}: expected appearance numbers such as 0 or 0,3")
        numbers.append(int(part))
    return tuple(sorted(set(numbers)))


@dataclass(frozen=True)
class RedactOptions:
    """``--redact`` and its companions."""

    out: Path | None = None  # None: <name>.redacted.mp4 beside the results
    style: str = DEFAULT_STYLE
    keep: tuple[int, ...] = ()
    audit_every: int | None = None  # None: default_every(width, height); 0: no audit
    overwrite: bool = False
    detector: str = "auto"
    quality: Quality = field(default_factory=Quality)
    padding: Padding = field(default_factory=Padding)

    def check(self) -> None:
        """What can be refused before a job starts (the output path is checked by ``check_output``)."""
        if self.style not in STYLES:
            raise BadInput(f"--redact-style {self.style!r}: choose one of {', '.join(STYLES)}")
        if self.audit_every is not None and self.audit_every < 0:
            raise BadInput(f"--audit-every must be 0 (no audit) or more, got {self.audit_every}")

    def path(self, video_name: str, beside: Path) -> Path:
        return self.out if self.out is not None else beside / redacted_name(video_name)


@dataclass(frozen=True)
class Redaction:
    written: Written
    audit: Audit
    style: str
    kept: tuple[int, ...]

    @property
    def leaked(self) -> bool:
        return bool(self.audit.leaks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REDACTION_LEAKS if self.leaked else ExitCode.OK

    def to_api(self) -> dict[str, Any]:
        """The results' ``Redaction`` member: frames, framesAudited, leaks, and how it was made."""
        return {
            "output": str(self.written.path),
            "style": self.style,
            "kept": list(self.kept),
            "coveredFrames": self.written.covered_frames,
            "boxes": self.written.boxes,
            "audioPacketsCopied": self.written.audio_packets,
            **self.audit.to_api(),
        }

    def describe(self) -> str:
        written = self.written
        return (
            f"redacted copy written to {written.path} ({written.frames} frames, faces covered in "
            f"{written.covered_frames}, {self.style}); {self.audit.describe()}"
        )


def redact(
    source: VideoSource,
    appearances: Sequence[Appearance],
    out: Path,
    options: RedactOptions,
    on_frame: Callable[[], object] = lambda: None,
) -> Redaction:
    """Write ``out`` from ``source`` with every appearance not kept covered, then audit it."""
    options.check()
    known = {appearance.index for appearance in appearances}
    unknown = sorted(set(options.keep) - known)
    if unknown:
        raise BadInput(
            f"--redact-keep {','.join(map(str, unknown))}: no such appearance (this video has "
            f"{len(known)}, numbered 0 to {len(known) - 1})"
            if known
            else f"--redact-keep {','.join(map(str, unknown))}: this video has no appearances"
        )
    # The detector first: a missing one is refused before minutes of encoding.
    detector = load_detector(options.detector) if options.audit_every != 0 else None
    timeline = Timeline(appearances, options.padding, options.keep)
    written = redact_video(
        source, out, timeline, options.style, options.quality, options.overwrite, lambda _covered: on_frame()
    )
    every = options.audit_every if options.audit_every is not None else default_every(written.width, written.height)
    if detector is None or every == 0:
        audit = Audit("none", 0, frames=written.frames)
    else:
        audit = audit_video(written.path, detector, every, Timeline(appearances, options.padding, options.keep))
    return Redaction(written, audit, options.style, options.keep)


def add_to_results(results: Path, fmt: str, redaction: dict[str, Any]) -> Path:
    """Put ``Redaction`` in the results: a member of a JSON document (the file is copied with it,
    then renamed over the old one), or ``<results>.redaction.json`` beside a jsonl or csv file.
    Returns the file written."""
    if fmt != "json":
        sidecar = results.with_name(results.name + SIDECAR_SUFFIX)
        _replace(sidecar, lambda stream: stream.write((json.dumps({"Redaction": redaction}, indent=1) + "\n").encode()))
        return sidecar
    size = results.stat().st_size
    with results.open("rb") as source:
        tail_start = max(0, size - 64)
        source.seek(tail_start)
        tail = source.read()
        end = tail.rstrip().rfind(b"}")
        if end < 0:
            raise BadInput(f"{results} is not a JSON document: cannot add the redaction to it")
        keep = tail_start + end  # everything before the document's closing brace

        def write(stream: Any) -> None:
            source.seek(0)
            remaining = keep
            while remaining:
                chunk = source.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                stream.write(chunk)
                remaining -= len(chunk)
            stream.write((', "Redaction": ' + json.dumps(redaction) + "}\n").encode())

        _replace(results, write)
    return results


def _replace(path: Path, write: Callable[[Any], object]) -> None:
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


__all__ = ["RedactOptions", "Redaction", "add_to_results", "check_output", "parse_keep", "redact", "redacted_name"]
