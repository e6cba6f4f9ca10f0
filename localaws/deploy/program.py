"""Running a Pulumi program in-process under Pulumi's mocks, with a stack's config.

The same runner serves the offline deployer (whose mocks create real resources in the local
endpoint) and the unit tests (whose mocks only record)."""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import Stack
from pulumi.runtime.sync_await import _ensure_event_loop  # the loop Pulumi runs programs on

from ..defaults import DEFAULT_REGION
from .errors import StackConfigError


def project_name(project_dir: Path) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The stack's config (``Pulumi.<stack>.yaml``) as the engine hands it to a program: namespaced
    keys, string values (structured values as JSON). ``aws:region`` defaults to the local endpoint's region."""
    project = project_name(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    raw = _config_section(path) if path.exists() else {}
    config = {"aws:region": DEFAULT_REGION}
    for key, value in raw.items():
        if isinstance(value, dict) and "secure" in value:
            raise StackConfigError(
                f"{path.name}: {key} is a secret; the in-process deployer cannot decrypt secrets. "
                "Deploy with the Pulumi CLI, or set it as plain config for the local stack."
            )
        namespaced = key if ":" in key else f"{project}:{key}"
        config[namespaced] = value if isinstance(value, str) else json.dumps(value)
    return config


def _config_section(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack's settings file, or StackConfigError in one line."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise StackConfigError(f"{path.name} is not UTF-8 text (a YAML file is): correct it, or move it away") from None
    except OSError as error:  # a folder of that name, a file one may not read
        raise StackConfigError(f"cannot read {path.name} ({error.strerror}): correct it, or move it away") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise StackConfigError(
            f"{path.name} is not readable YAML ({problem}{where}): correct it, or move it away"
        ) from None
    raw = document.get("config") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not (raw is None or isinstance(raw, dict)):  # not `config: []` either
        raise StackConfigError(
            f"{path.name}: expected a mapping with a config: mapping in it (as `pulumi config set` writes): correct "
            "it, or move it away"
        )
    return raw or {}


def run_program(
    mocks: pulumi.runtime.Mocks,
    project: str,
    stack: str,
    config: dict[str, str],
    body: Callable[[], Any],
    monitor: MockMonitor | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    """Run ``body`` (which declares resources) under ``mocks``; return the stack outputs it exported.
    ``monitor`` (default: Pulumi's own over ``mocks``) receives every registration as the engine would;
    ``preview`` runs it as ``pulumi preview`` does (values the mocks do not answer are unknown)."""
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    reports = LoopReports()
    _ensure_event_loop().set_exception_handler(reports)
    pulumi.runtime.set_all_config(config)
    root = pulumi.runtime.get_root_resource()
    assert isinstance(root, Stack), "set_mocks makes the root resource a Stack"
    root.outputs.clear()
    exported: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        body()
        return pulumi.Output.all(**root.outputs).apply(exported.update)

    try:
        program()
    except KeyboardInterrupt:
        reports.interrupted = True
        raise
    return exported


class LoopReports:
    """Report what asyncio reports, except a future's error nobody retrieved. A failed run leaves many
    Pulumi futures holding its one error, which this runner raises once. Logged when the futures are
    collected, it would come out again at a random later moment: in CPython 3.11 even inside another
    ``ast.parse`` (traceback formatting parses source), which then fails with "SystemError: AST
    constructor recursion depth mismatch". Nor, once Ctrl-C has stopped a task midway, the loop's
    complaint that this task is not the current one: a traceback after the command's one line (in
    a run Ctrl-C did not stop, that complaint is a bug's, and is reported)."""

    def __init__(self) -> None:
        self.interrupted = False  # Ctrl-C stopped the program

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "exception was never retrieved" in context.get("message", ""):
            return
        error = context.get("exception")
        if self.interrupted and isinstance(error, RuntimeError) and "does not match the current task" in str(error):
            return
        loop.default_exception_handler(context)


def main_program(project_dir: Path) -> Callable[[], Any]:
    """A body that runs the project's ``__main__.py`` as the Pulumi language host would."""

    def body() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return body


def run_main(
    mocks: pulumi.runtime.Mocks, project_dir: Path, stack: str, config: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the project's program with the given config (default: the stack's own)."""
    if config is None:
        config = stack_config(project_dir, stack)
    return run_program(mocks, project_name(project_dir), stack, config, main_program(project_dir))
