"""The batch's progress bar ends on its true counts: a video's end updates the counts before the bar
redraws (it showed "8/8 ... done 7"), and each end is one plain line when asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launcher.batch.ledger import SUCCEEDED, Entry, Ledger
from launcher.batch.scheduler import RUNNING, Batch, Video
from launcher.options import BatchOptions
from launcher.stack import StackOutputs

OUTPUTS = StackOutputs("bucket", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:iam::123456789012:role/r", "q", "r")


class Bar:
    """Records the postfix shown at each update, as tqdm draws it."""

    def __init__(self) -> None:
        self.postfix = ""
        self.drawn: list[str] = []

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, count: int = 1) -> None:
        self.drawn.append(self.postfix)


def test_the_last_redraw_shows_every_video_done(tmp_path: Path):
    ended: list[dict[str, Any]] = []
    batch = Batch(BatchOptions(videos=[], outputs=OUTPUTS, out_dir=tmp_path), on_end=ended.append)
    bar = Bar()
    batch._ledger, batch._progress = Ledger(tmp_path), bar  # type: ignore[assignment]
    with (tmp_path / "batch.jsonl").open("w") as batch._log:
        videos = [Video(Entry(f"/v/{index}.mp4", f"{index}.mp4", "[]", job_id=f"job-{index}")) for index in range(3)]
        for video in videos:
            batch._videos.append(video)
            batch._phases[video.phase] += 1
            batch._move(video, RUNNING)
        for video in videos:
            batch._end(video, SUCCEEDED, faces=2, results=f"/out/{video.entry.name}.faces.json")
    assert bar.drawn[-1].startswith("done 3, running 0"), bar.drawn
    assert [line["name"] for line in ended] == ["0.mp4", "1.mp4", "2.mp4"]
    batch._ledger.close()
