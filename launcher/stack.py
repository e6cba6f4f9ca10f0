"""The stack outputs the launcher runs on: from `pulumi stack output --json`, or its saved JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .jobs.errors import BadInput, LauncherError, unreadable


@dataclass(frozen=True)
class StackOutputs:
    """The outputs of this project's stack that a launch needs (names as the program exports them)."""

    bucket_name: str
    topic_arn: str
    role_arn: str
    queue_url: str
    region: str
    # Present when the stack has autoProcess on: uploads under incoming_prefix are processed by the
    # stack itself, and their results appear under results_prefix.
    incoming_prefix: str | None = None
    results_prefix: str | None = None
    starter_function_name: str | None = None

    KEYS: ClassVar[dict[str, str]] = {
        "bucket_name": "bucketName",
        "topic_arn": "topicArn",
        "role_arn": "roleArn",
        "queue_url": "queueUrl",
        "region": "region",
    }
    AUTO_PROCESS_KEYS: ClassVar[dict[str, str]] = {
        "incoming_prefix": "incomingPrefix",
        "results_prefix": "resultsPrefix",
        "starter_function_name": "starterFunctionName",
    }

    @property
    def auto_process(self) -> bool:
        return self.starter_function_name is not None

    @classmethod
    def from_dict(cls, outputs: Any, source: str) -> StackOutputs:
        if not isinstance(outputs, dict):
            raise BadInput(f"{source} is not a JSON object of stack outputs (`pulumi stack output --json`)")
        missing = [key for key in cls.KEYS.values() if not isinstance(outputs.get(key), str) or not outputs[key]]
        if missing:
            raise BadInput(
                f"{source} lacks the stack output(s) {', '.join(missing)}: is it this project's stack? "
                "Run `pulumi up` with this project, then `pulumi stack output --json`"
            )
        auto = {
            field: outputs[key] for field, key in cls.AUTO_PROCESS_KEYS.items() if isinstance(outputs.get(key), str)
        }
        if auto and set(auto) != set(cls.AUTO_PROCESS_KEYS):
            raise BadInput(
                f"{source} has only some of the autoProcess outputs ({', '.join(cls.AUTO_PROCESS_KEYS.values())}): "
                "run `pulumi up` again with this project"
            )
        return cls(**{field: outputs[key] for field, key in cls.KEYS.items()}, **auto)


def load_outputs_file(path: Path) -> StackOutputs:
    try:
        outputs = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(
            f"outputs file {path} does not exist: write it with `pulumi stack output --json > {path}`"
        ) from None
    except IsADirectoryError:
        raise BadInput(
            f"outputs file {path} is a folder: give the file `pulumi stack output --json > FILE` wrote"
        ) from None
    except OSError as error:  # its permissions, or a disk's read error: writing it again would not help
        reason, fix = unreadable(error, "the outputs file")
        raise BadInput(f"outputs file {path} cannot be read ({reason}): {fix}") from None
    except ValueError as error:
        raise BadInput(
            f"outputs file {path} is not readable JSON ({error}): write it again with "
            f"`pulumi stack output --json > {path}`"
        ) from None
    return StackOutputs.from_dict(outputs, f"outputs file {path}")


def load_stack(stack: str) -> StackOutputs:
    """Ask the Pulumi CLI, as a user would."""
    if shutil.which("pulumi") is None:
        raise BadInput(
            "--stack needs the Pulumi CLI, which is not on PATH: install it, or pass --outputs FILE "
            "(written by `pulumi stack output --json > FILE` where the CLI is)"
        )
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LauncherError(f"`pulumi stack output --json --stack {stack}` failed: {result.stderr.strip()}")
    try:
        outputs = json.loads(result.stdout)
    except ValueError:
        raise LauncherError(f"`pulumi stack output --json --stack {stack}` did not print JSON") from None
    return StackOutputs.from_dict(outputs, f"stack {stack}")
