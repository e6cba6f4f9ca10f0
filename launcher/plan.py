"""``--plan``: what a launch would cost and take, before any money is spent.

Every video is read as the launcher would (a local probe, or ranged reads of an S3 object version),
nothing is uploaded and no job is started. The plan lists each video's duration, codec and size and
whether the service would take it (and why not), then the minutes billed, the cost at a per-minute
price, and how long the jobs would take under ``--max-jobs`` at an assumed processing speed.

The figures are estimates, and say so: Rekognition Video bills per minute of stored video analysed at
the region's list price (docs/launcher.md, "Cost and time before a launch", gives the source and the
date); it documents no processing speed, so the time assumes ``ASSUMED_SPEED`` times real time plus
``JOB_OVERHEAD_SECONDS`` per job.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from rekognition_limits import MAX_DURATION_MS, MAX_VIDEO_BYTES

from .jobs.errors import BadInput
from .jobs.s3video import S3ObjectReader, is_s3_uri, parse_s3_uri
from .probe import UnsupportedVideo, VideoFacts, describe
from .terminal import one_line

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Rekognition Video, stored video analysis (face detection), list price per minute of video in US East
# (N. Virginia). Other regions may differ: --price-per-minute takes yours (or your contract's).
LIST_PRICE_PER_MINUTE_USD = 0.10
LIST_PRICE_REGION = "us-east-1"
ASSUMED_SPEED = 1.0  # x real time: a job is assumed to take as long as its video lasts...
JOB_OVERHEAD_SECONDS = 30.0  # ...plus this, for queuing, start-up and the completion notification


@dataclass(frozen=True)
class PlannedVideo:
    """One video as the plan sees it: its facts if the service would take it, else why not."""

    video: str
    size_bytes: int | None
    facts: VideoFacts | None
    refusal: str | None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class Plan:
    videos: list[PlannedVideo]
    region: str
    price_per_minute: float
    max_jobs: int

    @property
    def accepted(self) -> list[PlannedVideo]:
        return [video for video in self.videos if video.accepted]

    @property
    def minutes(self) -> float:
        """Minutes of video the jobs would analyse (the billed quantity)."""
        return sum(video.facts.duration_ms for video in self.accepted if video.facts) / 60_000

    @property
    def cost(self) -> float:
        return self.minutes * self.price_per_minute

    @property
    def seconds(self) -> float:
        durations = [video.facts.duration_ms / 1000 for video in self.accepted if video.facts]
        return estimated_seconds(durations, self.max_jobs)

    def to_json(self) -> dict[str, Any]:
        return {
            "Region": self.region,
            "PricePerMinuteUSD": self.price_per_minute,
            "MaxJobs": self.max_jobs,
            "Videos": [
                {
                    "Video": video.video,
                    "SizeBytes": video.size_bytes,
                    "Accepted": video.accepted,
                    "Refusal": video.refusal,
                    **({"Facts": asdict(video.facts)} if video.facts else {}),
                }
                for video in self.videos
            ],
            "Accepted": len(self.accepted),
            "Refused": len(self.videos) - len(self.accepted),
            "Minutes": round(self.minutes, 3),
            "EstimatedCostUSD": round(self.cost, 2),
            "EstimatedSeconds": round(self.seconds),
            "Assumptions": {"SpeedXRealTime": ASSUMED_SPEED, "JobOverheadSeconds": JOB_OVERHEAD_SECONDS},
        }


def estimated_seconds(
    durations: Iterable[float],
    max_jobs: int,
    speed: float = ASSUMED_SPEED,
    overhead: float = JOB_OVERHEAD_SECONDS,
) -> float:
    """How long jobs of these video durations (s) take with at most ``max_jobs`` open at once: the
    longest first, each into the slot that frees first (as the batch keeps the quota full)."""
    jobs = sorted((duration / speed + overhead for duration in durations), reverse=True)
    if not jobs:
        return 0.0
    slots = [0.0] * min(max_jobs, len(jobs))
    for job in jobs:
        heapq.heappush(slots, heapq.heappop(slots) + job)
    return max(slots)


def default_price(region: str) -> float:
    """The list price the plan uses when none is given (the same for every region: see the module)."""
    del region  # one figure for now; kept as a function so a region table can come without new callers
    return LIST_PRICE_PER_MINUTE_USD


def refusal(size_bytes: int | None, facts: VideoFacts) -> str | None:
    """Why the service would refuse a video it can read, or None."""
    if size_bytes is not None and size_bytes > MAX_VIDEO_BYTES:
        return f"{size_bytes} bytes: the service takes at most 10 GB"
    if facts.duration_ms > MAX_DURATION_MS:
        return f"lasts {facts.duration_ms / 3_600_000:.1f} hours: the service takes at most 6"
    return None


def inspect(video: str, s3: Callable[[], S3Client]) -> PlannedVideo:
    """Read one video (a local path or an s3:// URI) as the launcher would, without sending it."""
    size: int | None = None
    try:
        if is_s3_uri(video):
            with S3ObjectReader(s3(), parse_s3_uri(video)) as reader:
                size = reader.size
                facts = describe(reader)
        else:
            path = Path(video)
            if not path.is_file():
                return PlannedVideo(video, None, None, "no such file")
            size = path.stat().st_size
            facts = describe(path)
    except UnsupportedVideo as error:
        return PlannedVideo(video, size, None, str(error))
    except ClientError as error:
        return PlannedVideo(video, size, None, f"cannot read it: {error.response['Error'].get('Code', error)}")
    except (BotoCoreError, OSError) as error:
        return PlannedVideo(video, size, None, f"cannot read it: {error}")
    return PlannedVideo(video, size, facts, refusal(size, facts))


def make_plan(
    videos: Iterable[str], s3: Callable[[], S3Client], region: str, price_per_minute: float, max_jobs: int
) -> Plan:
    return Plan([inspect(video, s3) for video in videos], region, price_per_minute, max_jobs)


def check_money(value: float, option: str) -> float:
    """A price or a cost ceiling: a finite number of US dollars, zero or more."""
    if not (value >= 0 and math.isfinite(value)):
        raise BadInput(f"{option} must be zero or more US dollars, got {value:g}")
    return value


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} GB"


def render(plan: Plan, price_source: str) -> str:
    """The plan as a table and a summary, for people."""
    # A name's newline or escape sequence as \\n, \\x1b: one row a video, whatever its name holds.
    names = [one_line(Path(video.video).name if not is_s3_uri(video.video) else video.video) for video in plan.videos]
    width = max([len("VIDEO"), *map(len, names)])
    lines = [f"{'VIDEO':<{width}}  {'DURATION':>8}  {'CODEC':<5}  {'SIZE':>8}  SERVICE"]
    for name, video in zip(names, plan.videos, strict=True):
        duration = _clock(video.facts.duration_ms / 1000) if video.facts else "-"
        codec = video.facts.codec if video.facts else "-"
        verdict = "accepted" if video.accepted else f"refused: {one_line(str(video.refusal))}"
        lines.append(f"{name:<{width}}  {duration:>8}  {codec:<5}  {_size(video.size_bytes):>8}  {verdict}")
    refused = len(plan.videos) - len(plan.accepted)
    lines += [
        "",
        f"{len(plan.videos)} video(s): {len(plan.accepted)} accepted, {refused} refused; "
        f"{plan.minutes:.1f} minutes of video to analyse",
        f"estimated cost: ${plan.cost:,.2f} at ${plan.price_per_minute:g} per minute ({price_source})",
        f"estimated time: {_clock(plan.seconds)} with at most {plan.max_jobs} job(s) at once, assuming "
        f"{ASSUMED_SPEED:g}x real time plus {JOB_OVERHEAD_SECONDS:g} s per job",
        "nothing was uploaded and no job was started",
    ]
    return "\n".join(lines)
