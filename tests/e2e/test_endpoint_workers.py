"""The endpoint's Lambda workers end with it: a Ctrl-C in its terminal (SIGINT to its process group) or
a SIGTERM stops the endpoint, which ends every worker, busy or idle, with no traceback in its log."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from pathlib import Path

import pytest

from localaws.clients import local_client
from localaws.process import EndpointProcess, is_running

HANDLER = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def wait_until_ended(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if is_running(pid)]


def lambda_workers(parent: int) -> list[int]:
    """The Lambda worker processes (bootstrap.py) the endpoint started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            if b"bootstrap.py" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:  # it ended meanwhile
            continue
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_endpoint_ends_its_idle_and_busy_workers(tmp_path, signum):
    with EndpointProcess(tmp_path / "endpoint", own_process_group=True) as endpoint:
        lam, iam = local_client("lambda", endpoint.url), local_client("iam", endpoint.url)
        role = iam.create_role(RoleName="worker-test", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", HANDLER)
        for name in ("idle", "busy"):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler="app.handler",
                Code={"ZipFile": code.getvalue()},
                Timeout=300,
            )
        idle = json.load(lam.invoke(FunctionName="idle")["Payload"])
        lam.invoke(FunctionName="busy", InvocationType="Event", Payload=json.dumps({"sleep": 120}).encode())
        deadline = time.monotonic() + 20
        workers = lambda_workers(endpoint.pid)
        while len(workers) < 2 and time.monotonic() < deadline:  # the busy one starts in the background
            time.sleep(0.1)
            workers = lambda_workers(endpoint.pid)
        assert idle in workers
        assert len(workers) == 2, workers
        if signum == signal.SIGINT:  # what the terminal does on Ctrl-C
            os.killpg(endpoint.pid, signum)
        else:
            os.kill(endpoint.pid, signum)
        assert wait_until_ended([endpoint.pid], timeout=20) == [], "the endpoint"
        assert wait_until_ended(workers, timeout=5) == [], "its workers"
    log = endpoint.log_path.read_text()
    assert "KeyboardInterrupt" not in log and "Traceback" not in log
