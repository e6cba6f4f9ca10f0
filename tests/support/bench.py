"""Helpers for the tests of bench/ scripts: load one as a module of its own, and run git in a
throw-away repository (the benchmarks fetch their photographs from git clones)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench(monkeypatch: pytest.MonkeyPatch, script: str) -> ModuleType:
    """bench/``script``.py loaded afresh under a name of its own (its siblings importable, as when it
    runs), so a test may patch its constants without touching another test's copy."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"{script}_under_test", BENCH / f"{script}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def git(*args: str, cwd: Path) -> str:
    """git's output, with an identity and a branch name of its own (a fresh machine has neither)."""
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
