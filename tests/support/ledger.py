"""A batch's ledger read from outside, as a test watches a batch run in another thread or process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from launcher.batch.ledger import LEDGER_NAME


def ledger_job_ids(out_dir: Path) -> list[str]:
    """The job IDs the batch writing into ``out_dir`` has recorded so far (none before it starts)."""
    path = out_dir / LEDGER_NAME
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        try:
            return [row[0] for row in db.execute("SELECT job_id FROM videos WHERE job_id IS NOT NULL")]
        except sqlite3.OperationalError:  # the table is not created yet
            return []
