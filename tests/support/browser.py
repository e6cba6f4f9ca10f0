"""Debian's headless chromium, as the browser tests run it (they skip where it is not installed;
.ci/run installs it on CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "no chromium here (CI installs it: apt-get install chromium)"


def chromium_command(profile: Path, *arguments: str) -> list[str]:
    """A headless chromium with its own throw-away profile, no first-run work, no background
    traffic (updates, sync), then ``arguments`` (flags, and the page last)."""
    assert CHROMIUM is not None, NO_CHROMIUM
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *arguments,
    ]


def chromium_environment(profile: Path) -> dict[str, str]:
    """Its environment: HOME in the profile, so that nothing is written to the user's."""
    return dict(os.environ, HOME=str(profile))
