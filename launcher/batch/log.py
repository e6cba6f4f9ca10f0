"""The batch log, ``DIR/batch.jsonl``: one JSON line per video as it ends, for people and for the
batch's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BATCH_LOG = "batch.jsonl"


def read_batch_log(out_dir: Path) -> list[dict[str, Any]]:
    """The lines a batch wrote into ``out_dir``, in the order the videos ended."""
    return [json.loads(line) for line in (out_dir / BATCH_LOG).read_text().splitlines() if line.strip()]
