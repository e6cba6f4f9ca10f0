"""One redaction, from a job's appearances to a written, audited copy: what ``--redact`` runs after
the job (single launch and batch alike), and what goes into the results (``Redaction``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..jobs.appearances import Appearance
from ..jobs.errors import BadInput, ExitCode, LauncherError
from ..jobs.formats import partial_prefix, read_summary
from ..jobs.s3video import is_s3_uri
from .audit import Audit, AuditDetector, audit_video, default_every, load_detector
from .boxes import Timeline
from .options import SIDECAR_SUFFIX, RedactOptions, redacted_name
from .writer import VideoSource, Written, redact_video

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ..report.html import VideoReport

MEMBER = b', "Redaction": '
TAIL_BYTES = 16 * 1024**2  # where a JSON results file's end (and an earlier Redaction) is looked for


@dataclass(frozen=True)
class Redaction:
    written: Written
    audit: Audit
    style: str
    kept: tuple[int, ...]  # appearances left uncovered (those of kept people included)
    kept_persons: tuple[int, ...] = ()

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
            "keptPersons": list(self.kept_persons),
            "coveredFrames": self.written.covered_frames,
            "boxes": self.written.boxes,
            "audioPacketsCopied": self.written.audio_packets,
            **self.audit.to_api(),
        }

    def summary(self) -> dict[str, Any]:
        """What a --json summary says of it: the copy, the counts, the leaks' frames."""
        return {
            "output": str(self.written.path),
            "frames": self.audit.frames,
            "framesAudited": self.audit.audited,
            "leakFrames": [leak.frame for leak in self.audit.leaks],
            "detector": self.audit.detector,
        }

    def in_report(self, video: VideoReport) -> VideoReport:
        """The video's report part with this redaction's section: the copy, the audit, the leaks."""
        from ..report.html import RedactionReport

        leaks = [(leak.frame, leak.timestamp_ms, leak.thumbnail) for leak in self.audit.leaks]
        section = RedactionReport(self.written.path, self.describe(), leaks)
        return dataclasses.replace(video, redaction=section)

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
    detector: AuditDetector | None = None,
    on_audited: Callable[[], object] = lambda: None,
    person_of_appearance: Sequence[int] | None = None,
) -> Redaction:
    """Write ``out`` from ``source`` with every appearance not kept covered, then audit it (with
    ``detector``, else the one ``options`` names)."""
    options.check()
    # A --redact-keep the video has not is known only after the job: what to run then is the caller's to
    # say (a single launch prints the command that finishes with the same job; a batch names the video).
    kept = set(options.keep)
    if options.keep_persons:
        if person_of_appearance is None:
            raise BadInput("--redact-keep p<N> names people: add --people")
        missing = sorted(set(options.keep_persons) - set(person_of_appearance))
        if missing:
            raise BadInput(f"--redact-keep {','.join(f'p{n}' for n in missing)}: no such person in this video")
        kept |= {index for index, person in enumerate(person_of_appearance) if person in options.keep_persons}
    known = {appearance.index for appearance in appearances}
    unknown = sorted(kept - known)
    if unknown:
        raise BadInput(
            f"--redact-keep {','.join(map(str, unknown))}: no such appearance (this video has "
            f"{len(known)}, numbered 0 to {len(known) - 1})"
            if known
            else f"--redact-keep {','.join(map(str, unknown))}: this video has no appearances"
        )
    # The detector first: a missing one is refused before minutes of encoding.
    if detector is None and options.audit_every != 0:
        detector = load_detector(options.detector)
    audits: list[Audit] = []

    def audit(written: Written) -> None:
        """The copy under its temporary name: it takes ``out``'s only once audited (Ctrl-C, a failure or
        a kill meanwhile leaves no copy there that no audit vouches for; the writer removes the rest)."""
        every = options.audit_every if options.audit_every is not None else default_every(written.width, written.height)
        if detector is None or every == 0:
            audits.append(Audit("none", 0, frames=written.frames))
        else:
            timeline = Timeline(appearances, options.padding, kept)
            audits.append(audit_video(written.path, detector, every, timeline, on_audited))

    timeline = Timeline(appearances, options.padding, kept)
    written = redact_video(
        source, out, timeline, options.style, options.quality, options.overwrite, lambda _covered: on_frame(), audit
    )
    return Redaction(written, audits[0], options.style, tuple(sorted(kept)), options.keep_persons)


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
        tail_start = max(0, size - TAIL_BYTES)
        source.seek(tail_start)
        tail = source.read()
        end = tail.rstrip().rfind(b"}")
        if end < 0:
            raise BadInput(f"{results} is not a JSON document: cannot add the redaction to it")
        keep = tail_start + end  # everything before the document's closing brace
        earlier = tail.rfind(MEMBER)
        if earlier >= 0:  # a redaction written before (--overwrite): replaced, not repeated
            with contextlib.suppress(ValueError):
                json.loads(tail[earlier + len(MEMBER) : end])
                keep = tail_start + earlier

        def write(stream: Any) -> None:
            source.seek(0)
            remaining = keep
            while remaining:
                chunk = source.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                stream.write(chunk)
                remaining -= len(chunk)
            stream.write(MEMBER + (json.dumps(redaction) + "}\n").encode())

        _replace(results, write)
    return results


def _replace(path: Path, write: Callable[[Any], object]) -> None:
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=partial_prefix(path), suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def video_source(video: str, header: Mapping[str, Any], s3: Callable[[], S3Client]) -> Iterator[VideoSource]:
    """What to read the video from: the local file, or the S3 object version the job ran on (the
    results' ``Video``, else the URI given), streamed through ranged reads."""
    if not is_s3_uri(video) and Path(video).is_file():
        yield Path(video)
        return
    from ..jobs.s3video import S3ObjectReader, job_video

    pinned = job_video(header, video)
    if pinned is None:
        raise BadInput(f"cannot redact {video}: it is not here and the results name no S3 object")
    with S3ObjectReader(s3(), pinned) as reader:
        yield reader


@dataclass(frozen=True)
class BatchRedaction:
    """One batch video's redaction: done, skipped (its copy exists, from an earlier run) or failed."""

    video: str
    results: Path
    redaction: Redaction | None = None
    skipped: Path | None = None
    error: str | None = None


def redact_batch(
    ended: Sequence[Mapping[str, Any]],
    out_dir: Path,
    fmt: str,
    options: RedactOptions,
    s3: Callable[[], S3Client],
    detector: AuditDetector | None = None,
    on_video: Callable[[BatchRedaction], object] = lambda done: None,
) -> list[BatchRedaction]:
    """``DIR/<name>.redacted.mp4`` for each video of the batch log (``ended``) whose results are in
    ``DIR``, one after the other (each uses both cores). A copy that exists is skipped unless
    ``options.overwrite``: a resumed batch does not redo them."""
    done = []
    for line in ended:
        results = Path(line["results"]) if line.get("results") else None
        if results is None or not results.is_file():
            continue
        name = results.name.removesuffix(f".faces.{fmt}")
        out = out_dir / redacted_name(name)
        item: BatchRedaction
        if out.exists() and not options.overwrite:
            item = BatchRedaction(line["video"], results, skipped=out)
        else:
            try:
                summary = read_summary(results, fmt)
                with video_source(line["video"], summary.header, s3) as source:
                    redaction = redact(source, summary.appearances, out, options, detector=detector)
                add_to_results(results, fmt, redaction.to_api())
                item = BatchRedaction(line["video"], results, redaction)
            except (LauncherError, ClientError, BotoCoreError, OSError) as error:
                item = BatchRedaction(line["video"], results, error=str(error))
        on_video(item)
        done.append(item)
    return done
