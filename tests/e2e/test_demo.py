"""make demo as a user behind a company's proxy, with an AWS set-up of their own, runs it: every
request stays on 127.0.0.1 (scripts/demo.py, localaws.defaults.isolated_environment)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from localaws.process import ROOT


def test_the_demo_runs_whatever_the_users_shell_says(tmp_path: Path) -> None:
    """An AWS_PROFILE that ~/.aws does not hold stopped the endpoint the demo starts (it inherited the
    shell's environment: ProfileNotFound as localaws.clients was imported), and an HTTP_PROXY sent the
    deploy's and the launcher's requests, then the endpoint's own, to the proxy. The proxy here is a
    real listening socket: nothing may reach it."""
    with closing(socket.socket()) as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(8)
        url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        env = {
            **os.environ,
            "AWS_PROFILE": "not-in-any-file",
            "AWS_ENDPOINT_URL_S3": "https://s3.example.invalid",
            **dict.fromkeys(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"), url),
        }
        done = subprocess.run(
            [sys.executable, "scripts/demo.py", "--output", str(tmp_path / "out"), "--seconds", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert (tmp_path / "out" / "faces.json").is_file()
        assert select.select([proxy], [], [], 0)[0] == [], "nothing was sent to the proxy"
