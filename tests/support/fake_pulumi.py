"""A stand-in for the Pulumi CLI (which cannot be installed offline, nor its AWS provider) in what
``localaws.deploy.pulumi_cli`` relies on when it is interrupted; ``install`` puts it on a PATH.

``up`` and ``destroy`` behave as Pulumi's documented cancellation does: they take the stack's lock (a
file under the backend's .pulumi/locks, as the file backend keeps it), and on a first SIGINT let the
operations in flight finish (``CANCEL_SECONDS``), record them and release the lock, exiting non-zero;
a second SIGINT ends them at once, the lock left behind. Every step is appended to $FAKE_PULUMI_LOG.
The short commands (stack select, config, stack output, stack ls, stack rm) answer at once; stack
select --create and stack rm keep a file a stack under the backend's .pulumi/stacks, which stack ls lists.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

CANCEL_SECONDS = 0.8
# How long an up or destroy not interrupted takes, and each short command ($FAKE_PULUMI_RUN_SECONDS,
# $FAKE_PULUMI_SHORT_SECONDS, to widen the moments a stress run can hit).
RUN_SECONDS = float(os.environ.get("FAKE_PULUMI_RUN_SECONDS", "60"))
SHORT_SECONDS = float(os.environ.get("FAKE_PULUMI_SHORT_SECONDS", "0"))


def install(folder: Path) -> Path:
    """An executable ``pulumi`` in ``folder`` that runs this file with this interpreter; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pulumi"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    script.chmod(0o755)
    return folder


def make_stack(backend: Path, stack: str) -> None:
    """The stack as deploy's ``stack select --create`` leaves it."""
    (backend / ".pulumi" / "stacks").mkdir(parents=True, exist_ok=True)
    (backend / ".pulumi" / "stacks" / f"{stack}.json").write_text("{}")


def locks(backend: Path) -> list[Path]:
    return sorted((backend / ".pulumi" / "locks").rglob("*.json"))


def _note(text: str) -> None:
    with Path(os.environ["FAKE_PULUMI_LOG"]).open("a") as log:
        log.write(text + "\n")


def _run_interruptibly(command: str, backend: Path, stack: str) -> int:
    interrupts: list[float] = []
    signal.signal(signal.SIGINT, lambda *_: interrupts.append(time.monotonic()))
    lock = backend / ".pulumi" / "locks" / "organization" / "project" / stack / f"{uuid.uuid4()}.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("{}")
    _note(f"{command} started")
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline and not interrupts:
        time.sleep(0.01)
    if not interrupts:
        lock.unlink()
        _note(f"{command} done")
        return 0
    _note("cancelling")
    deadline = time.monotonic() + CANCEL_SECONDS
    while time.monotonic() < deadline:
        if len(interrupts) > 1:
            _note("stopped at once")
            return 1
        time.sleep(0.01)
    lock.unlink()
    _note("cancelled cleanly")
    return 255


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if arg != "--non-interactive"]
    if args[0] not in ("up", "destroy"):
        time.sleep(SHORT_SECONDS)
    backend = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
    stack = args[args.index("--stack") + 1] if "--stack" in args else "local"
    if args[:2] == ["config", "get"]:
        return 1  # not set
    if args[:2] == ["stack", "output"]:
        print(json.dumps({"bucketName": "videos"}))
        return 0
    if args[0] in ("up", "destroy"):
        return _run_interruptibly(args[0], backend, stack)
    stacks = backend / ".pulumi" / "stacks"
    if args[:2] == ["stack", "select"] and "--create" in args:
        make_stack(backend, args[args.index("--create") + 1])
    if args[:2] == ["stack", "rm"]:
        (stacks / f"{args[-1]}.json").unlink()
    if args[:2] == ["stack", "ls"]:
        print(json.dumps([{"name": path.stem, "current": False} for path in sorted(stacks.glob("*.json"))]))
        return 0
    _note(" ".join(args[:2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
