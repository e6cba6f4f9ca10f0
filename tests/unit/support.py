"""Names the unit tests share: the project, its root, and the account and region the mocks answer with."""

from __future__ import annotations

from pathlib import Path

PROJECT = "rekognition-faces"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "111122223333"
REGION = "eu-west-1"
