"""The batch's ledger, ``DIR/ledger.sqlite3``: what is known of each video, written the moment it is
known, so that a batch stopped in any way (Ctrl-C, ``kill -9``, a reboot) resumes without a second
job for a video version and without fetching again a result already written.

Each save is its own SQLite transaction (rollback journal, ``synchronous=FULL``): on disk before the
batch acts on it. The token and pinned version are saved before StartFaceDetection, the JobId right
after it, the outcome once the results file is in place.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..jobs.errors import BadInput

LEDGER_NAME = "ledger.sqlite3"
SUCCEEDED, FAILED, ERROR, SKIPPED = "SUCCEEDED", "FAILED", "ERROR", "SKIPPED"


@dataclass
class Entry:
    """One video of the batch. ``params`` is what its token depends on besides the video version
    (attributes, job tag, topic, role): when it changes, what was known no longer holds."""

    video: str
    name: str
    params: str
    bucket: str | None = None
    key: str | None = None
    version: str | None = None
    token: str | None = None
    job_id: str | None = None
    status: str | None = None  # SUCCEEDED, FAILED or ERROR once the video has ended
    faces: int | None = None
    results: str | None = None
    error: str | None = None

    def restarted(self) -> Entry:
        """The same video, known afresh (its name kept)."""
        return Entry(self.video, self.name, self.params)


_FIELDS = [field.name for field in dataclasses.fields(Entry)]


def _to_db(value: object) -> object:
    """A name that is not UTF-8 (a file name's undecodable bytes, kept by Python as surrogates) is
    stored as a BLOB of those bytes; every other value as it is. The same value is always stored
    the same way, so it is found again."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape")
    return value


def _from_db(value: Any) -> Any:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


_SCHEMA = f"CREATE TABLE IF NOT EXISTS videos ({', '.join(_FIELDS)}, PRIMARY KEY (video))"


class Ledger:
    def __init__(self, folder: Path) -> None:
        self.path = folder / LEDGER_NAME
        # Autocommit: every statement is a transaction of its own, synced before it returns.
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as error:
            if type(error) is sqlite3.DatabaseError:  # "file is not a database": damaged, or another file
                raise BadInput(
                    f"the batch's ledger {self.path} cannot be read ({error}): move it away (the same command then "
                    "re-attaches to the same jobs), or pick another --out-dir"
                ) from None
            raise BadInput(
                f"cannot keep the batch's ledger {self.path} ({error}); pick a folder you may write to for --out-dir"
            ) from None

    def names(self, videos: list[str]) -> dict[str, str]:
        """The results names already given to these videos."""
        rows = self._db.execute("SELECT video, name FROM videos").fetchall()
        wanted = set(videos)
        found = {_from_db(video): _from_db(name) for video, name in rows}
        return {video: name for video, name in found.items() if video in wanted and isinstance(name, str)}

    def get(self, video: str) -> Entry | None:
        row = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM videos WHERE video = ?", (_to_db(video),)).fetchone()
        return Entry(*map(_from_db, row)) if row else None

    def save(self, entry: Entry) -> None:
        values = tuple(map(_to_db, dataclasses.astuple(entry)))
        self._db.execute(
            f"INSERT OR REPLACE INTO videos ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})", values
        )

    def close(self) -> None:
        self._db.close()
