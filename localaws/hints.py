"""The commands the endpoint's messages suggest, run by the interpreter that is running now (a pasted
``python`` may be another one, without this project's packages)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local.py"


def python() -> str:
    """This interpreter, as short as it can be said from the current folder."""
    relative = os.path.relpath(sys.executable)
    return relative if not relative.startswith("..") and len(relative) < len(sys.executable) else sys.executable


def local_command(*args: str) -> str:
    """``<this python> scripts/local.py ARGS``, the script's path relative when it is below the current folder."""
    script = os.path.relpath(SCRIPT)
    return shlex.join([python(), script if not script.startswith("..") else str(SCRIPT), *args])
