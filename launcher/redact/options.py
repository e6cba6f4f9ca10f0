"""``--redact`` and its companions: the options, their defaults and the checks made before a job
starts. Standard library only, so the command line does not load PyAV to parse them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..jobs.errors import BadInput
from ..jobs.formats import OutputAdvice, check_name_fits, check_output_file
from .boxes import Padding

SUFFIX = ".redacted.mp4"
SIDECAR_SUFFIX = ".redaction.json"  # beside a jsonl or csv results file, which has no place for it
STYLES = ("blur", "pixelate", "box")
DEFAULT_STYLE = "blur"
DETECTORS = ("auto", "retinaface", "yuface", "opencv")


@dataclass(frozen=True)
class Quality:
    """The H.264 (libx264) settings: CRF 18, preset ``superfast`` with x264's macroblock tree and a
    10-frame lookahead turned back on (``superfast`` leaves them off). Measured on
    bench/redaction.py's 1920x1080 clip against ``veryfast`` at CRF 20 (x264's usual pairing): 0.5 dB
    less PSNR, 21% larger, and 38% less CPU per frame (19 against 31 ms), which is what keeps
    1920x1080 near three times real time on two cores. Plain ``superfast`` was twice the size at the same
    CRF. Lower CRF: larger, closer to the source (18 is usually called visually transparent, 23 is
    x264's default). Encoded on x264's frame threads, one per core (``writer._Output.configure``):
    0.2 dB less PSNR and 1% smaller than on slice threads, with both cores kept busy."""

    crf: int = 18
    preset: str = "superfast"
    x264_params: str = "mbtree=1:rc-lookahead=10"
    threads: int = 0  # libx264's frame threads (0: one per usable core); FFmpeg picks the decoder's

    def options(self) -> dict[str, str]:
        options = {"crf": str(self.crf), "preset": self.preset}
        if self.x264_params:
            options["x264-params"] = self.x264_params
        return options


def redacted_name(video_name: str) -> str:
    """``<name>.redacted.mp4``, ``<name>`` as in the results' ``<name>.faces.<format>``."""
    return f"{video_name}{SUFFIX}"


def parse_keep(text: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``--redact-keep N[,M...]``: appearance numbers, and ``pN`` for person N (``--people``), as
    the results and the report show them: (appearances, persons)."""
    if not text:
        return (), ()
    appearances, persons = set(), set()
    for part in text.split(","):
        part = part.strip().lower()
        if re.fullmatch(r"\d+", part):
            appearances.add(int(part))
        elif re.fullmatch(r"p\d+", part):
            persons.add(int(part[1:]))
        else:
            raise BadInput(
                f"--redact-keep {text!r}: expected appearance numbers such as 0 or 0,3, or people such as p1 (--people)"
            )
    return tuple(sorted(appearances)), tuple(sorted(persons))


TOO_LONG = "name a shorter output"


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse, with one line, an output the redaction could not write (``check_output_file``, with
    advice for --redact). Checked before a job starts and again before writing."""
    advice = OutputAdvice(not_a_file="name a file", exists="name another output", too_long=TOO_LONG)
    check_output_file(out, overwrite, advice)


@dataclass(frozen=True)
class RedactOptions:
    """What ``--redact`` asks for."""

    out: Path | None = None  # None: <name>.redacted.mp4 beside the results
    style: str = DEFAULT_STYLE
    keep: tuple[int, ...] = ()  # appearances left uncovered
    keep_persons: tuple[int, ...] = ()  # people (--people) left uncovered: all their appearances
    audit_every: int | None = None  # None: every frame up to 720p (audit.default_every); 0: no audit
    overwrite: bool = False
    detector: str = "auto"
    quality: Quality = field(default_factory=Quality)
    padding: Padding = field(default_factory=Padding)

    def check(self) -> None:
        """What can be refused before a job starts (the output path: ``check_output``)."""
        if self.style not in STYLES:
            raise BadInput(f"--redact-style {self.style!r}: choose one of {', '.join(STYLES)}")
        if self.audit_every is not None and self.audit_every < 0:
            raise BadInput(f"--audit-every must be 0 (no audit) or more, got {self.audit_every}")
        if self.detector not in DETECTORS:
            raise BadInput(f"audit detector {self.detector!r}: choose one of {', '.join(DETECTORS)}")

    def path(self, video_name: str, beside: Path) -> Path:
        return self.out if self.out is not None else beside / redacted_name(video_name)

    def check_path(self, out: Path, video: str | None = None, others: tuple[Path, ...] = ()) -> None:
        """The output may be written, and is neither the video itself nor another file of the launch."""
        check_name_fits(out, TOO_LONG)
        if video is not None and not video.lower().startswith("s3:"):
            source = Path(video)
            if source.exists() and out.exists() and out.resolve() == source.resolve():
                raise BadInput(f"--redact {out}: that is the video itself; name another output")
        for other in others:
            if out.resolve() == other.resolve():
                raise BadInput(f"--redact {out}: that is also the results or report file; name another output")
        check_output(out, self.overwrite)
