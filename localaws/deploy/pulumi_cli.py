"""Deploying into the local endpoint with the real Pulumi CLI, when it is installed.

A local stack on a file backend under the data dir (no Pulumi Cloud login), a passphrase secrets
provider with a fixed local passphrase, and the AWS provider pointed at the endpoint. Then
``pulumi up --yes`` and ``pulumi stack output --json``, exactly as a user would type them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from ..defaults import ACCESS_KEY_ID, DEFAULT_REGION, SECRET_ACCESS_KEY
from .errors import PulumiCliError

# Only protects the local stack's secrets from nobody in particular: this stack lives on a laptop.
LOCAL_PASSPHRASE = "local-endpoint-only"
# The provider's endpoint keys for what the stack declares (with autoProcess: Lambda and CloudWatch Logs;
# with alarms, the default: CloudWatch and KMS, the alarm topic's key).
SERVICES = ("s3", "sns", "sqs", "iam", "sts", "rekognition", "lambda", "cloudwatchlogs", "cloudwatch", "kms")


def cli_available() -> bool:
    return shutil.which("pulumi") is not None


def provider_config(endpoint: str, region: str) -> dict[str, str]:
    """The AWS provider pointed at the local endpoint, with dummy credentials."""
    config = {
        "aws:region": region,
        "aws:accessKey": ACCESS_KEY_ID,
        "aws:secretKey": SECRET_ACCESS_KEY,
        "aws:skipCredentialsValidation": "true",
        "aws:skipRequestingAccountId": "true",
        "aws:skipMetadataApiCheck": "true",
        "aws:s3UsePathStyle": "true",
    }
    for service in SERVICES:
        config[f"aws:endpoints[0].{service}"] = endpoint
    return config


def run_to_the_end(
    argv: list[str], cwd: Path, env: dict[str, str], cancellable: bool
) -> subprocess.CompletedProcess[str]:
    """Runs ``argv`` to its end; Ctrl-C (KeyboardInterrupt) is raised only once it has ended.

    subprocess.run would kill the child 0.25 s after a Ctrl-C: a ``pulumi up`` killed mid-cancel
    leaves the stack locked and its operations in flight unrecorded. The child runs in a session of its
    own, so that the terminal's Ctrl-C reaches it only through here: a ``cancellable`` one (``up``,
    ``destroy``) gets one SIGINT, on which Pulumi finishes what is in flight, records it and releases the
    lock; another (a short command) ends by itself. Each further Ctrl-C is passed on (Pulumi's second
    one stops it at once)."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    interrupts = 0
    while True:
        try:
            stdout, stderr = process.communicate()
            break
        except KeyboardInterrupt:
            interrupts += 1
            if (cancellable or interrupts > 1) and process.poll() is None:
                process.send_signal(signal.SIGINT)
    if interrupts:
        raise KeyboardInterrupt
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


class PulumiCli:
    def __init__(self, project_dir: Path, data_dir: Path, stack: str) -> None:
        self.project_dir = project_dir
        self.stack = stack
        self.backend = backend = (data_dir / "pulumi-backend").resolve()
        backend.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": LOCAL_PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }

    def run(self, *args: str, cancellable: bool = False) -> str:
        """``pulumi <args>``'s standard output (``run_to_the_end``: an ``up`` or ``destroy`` is
        ``cancellable``)."""
        done = run_to_the_end(["pulumi", *args, "--non-interactive"], self.project_dir, self.env, cancellable)
        if done.returncode != 0:
            raise PulumiCliError(f"pulumi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def deploy(self, endpoint: str) -> dict[str, Any]:
        self.run("stack", "select", "--create", self.stack, "--secrets-provider", "passphrase")
        region = self._config_value("aws:region") or DEFAULT_REGION
        for key, value in provider_config(endpoint, region).items():
            self.run("config", "set", "--stack", self.stack, "--path", key, value)
        self.run("up", "--yes", "--skip-preview", "--stack", self.stack, cancellable=True)
        return json.loads(self.run("stack", "output", "--json", "--show-secrets", "--stack", self.stack))

    def has_stack(self) -> bool:
        """Whether the backend holds the stack (``pulumi stack ls --json``, as Pulumi's Automation API
        lists stacks; a name may come fully qualified, org/project/stack)."""
        stacks = json.loads(self.run("stack", "ls", "--json") or "[]")
        return any(str(entry.get("name", "")).rsplit("/", 1)[-1] == self.stack for entry in stacks)

    def destroy(self, outputs_path: Path) -> None:
        """Destroy the stack, remove its outputs file, then the stack: stopped in between, the (empty)
        stack is left for the next destroy to remove, never the outputs alone."""
        self.run("destroy", "--yes", "--skip-preview", "--stack", self.stack, cancellable=True)
        outputs_path.unlink(missing_ok=True)
        self.run("stack", "rm", "--yes", "--preserve-config", self.stack)

    def _config_value(self, key: str) -> str:
        try:
            return self.run("config", "get", "--stack", self.stack, key).strip()
        except PulumiCliError:
            return ""
