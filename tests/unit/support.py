"""Names the unit tests share: the project, its root, the account and region the mocks answer with, and a
fake clock."""

from __future__ import annotations

from pathlib import Path

PROJECT = "rekognition-faces"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "111122223333"
REGION = "eu-west-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
