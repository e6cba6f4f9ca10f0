"""Job state in SQLite under the endpoint's data dir, so a restart loses no finished job."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    client_token TEXT,
    request_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    region TEXT NOT NULL,
    account_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    video_metadata TEXT,
    face_count INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_token ON jobs (client_token);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
CREATE TABLE IF NOT EXISTS faces (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    face TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
"""


@dataclass(frozen=True)
class Job:
    job_id: str
    client_token: str | None
    request_hash: str
    request: dict[str, Any]
    region: str
    account_id: str
    status: str
    status_message: str | None
    video_metadata: dict[str, Any] | None
    face_count: int
    created_ms: int
    finished_ms: int | None


def now_ms() -> int:
    return int(time.time() * 1000)


class JobStore:
    """One connection shared by the API threads and the workers, serialised by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def create(self, job: Job) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (job_id, client_token, request_hash, request, region, account_id, status,"
                " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.client_token,
                    job.request_hash,
                    json.dumps(job.request),
                    job.region,
                    job.account_id,
                    job.status,
                    job.created_ms,
                ),
            )

    def get(self, job_id: str) -> Job | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def by_token(self, client_token: str, since_ms: int) -> Job | None:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM jobs WHERE client_token = ? AND created_ms >= ? ORDER BY created_ms DESC LIMIT 1",
            (client_token, since_ms),
        )
        return _job(rows[0]) if rows else None

    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM jobs")[0][0]

    def count_open(self) -> int:
        return self._query("SELECT COUNT(*) FROM jobs WHERE status = ?", (IN_PROGRESS,))[0][0]

    def counts(self) -> dict[str, int]:
        """The number of jobs of each status."""
        return dict(self._query("SELECT status, COUNT(*) FROM jobs GROUP BY status"))

    def open_jobs(self) -> list[Job]:
        rows = self._query(f"SELECT {_COLUMNS} FROM jobs WHERE status = ? ORDER BY created_ms", (IN_PROGRESS,))
        return [_job(row) for row in rows]

    def set_metadata(self, job_id: str, video_metadata: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET video_metadata = ? WHERE job_id = ?", (json.dumps(video_metadata), job_id)
            )

    def restart(self, job_id: str) -> None:
        """Forget partial results of an interrupted job before it runs again."""
        with self._lock:
            self._db.execute("DELETE FROM faces WHERE job_id = ?", (job_id,))
            self._db.execute("UPDATE jobs SET face_count = 0 WHERE job_id = ?", (job_id,))

    def add_faces(self, job_id: str, faces: list[dict[str, Any]]) -> None:
        if not faces:
            return
        with self._lock:
            start = self._db.execute("SELECT face_count FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0]
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO faces (job_id, position, face) VALUES (?, ?, ?)",
                ((job_id, start + i, json.dumps(face, separators=(",", ":"))) for i, face in enumerate(faces)),
            )
            self._db.execute("UPDATE jobs SET face_count = ? WHERE job_id = ?", (start + len(faces), job_id))
            self._db.execute("COMMIT")

    def finish(self, job_id: str, status: str, status_message: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = ?, status_message = ?, finished_ms = ? WHERE job_id = ?",
                (status, status_message, now_ms(), job_id),
            )

    def faces(self, job_id: str, offset: int, limit: int) -> Iterator[dict[str, Any]]:
        rows = self._query(
            "SELECT face FROM faces WHERE job_id = ? AND position >= ? ORDER BY position LIMIT ?",
            (job_id, offset, limit),
        )
        return (json.loads(row[0]) for row in rows)


_COLUMNS = (
    "job_id, client_token, request_hash, request, region, account_id, status, status_message,"
    " video_metadata, face_count, created_ms, finished_ms"
)


def _job(row: tuple) -> Job:
    (job_id, token, request_hash, request, region, account_id, status, message, metadata, count, created, finished) = (
        row
    )
    return Job(
        job_id,
        token,
        request_hash,
        json.loads(request),
        region,
        account_id,
        status,
        message,
        json.loads(metadata) if metadata else None,
        count,
        created,
        finished,
    )
