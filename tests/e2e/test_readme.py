"""The README's "Locally, step by step" block, run as written: serve, the exports, deploy, launch,
destroy. Only the port (a free one) and the video (a synthetic one) are rewritten, so a recipe that
drifts from the code fails here. The run is piped, as in CI: no progress bar may be drawn."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from localaws.process import READY, ROOT, free_port
from synthetic import make_video

DEFAULT_URL = "127.0.0.1:4566"
README_VIDEO = "my-video.mp4"


def readme_block(heading: str) -> list[str]:
    """The commands of the first bash block under ``heading``: comments dropped, continuations joined."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n## {heading}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"no bash block under '## {heading}'"
    commands, pending = [], ""
    for line in block.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", line).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        if line := (pending + line).strip():
            commands.append(line)
        pending = ""
    return commands


def test_the_step_by_step_commands_are_the_ones_this_test_knows():
    commands = readme_block("Locally, step by step")
    kinds = [
        next((k for k in ("make", "serve", "export", "deploy", "launch", "destroy") if k in c), c) for c in commands
    ]
    assert kinds == ["make", "serve", "export", "deploy", "launch", "destroy"], commands


@pytest.mark.skipif(sys.platform == "win32", reason="the recipe is bash")
def test_the_local_step_by_step_recipe_runs_as_written(tmp_path: Path):
    commands = readme_block("Locally, step by step")
    make_venv, serve, *steps = commands
    assert make_venv == "make venv"  # the environment this test runs in is that .venv
    port = free_port()
    video = make_video(tmp_path / "clip.mp4", seconds=1.0).path
    # The recipe runs in a folder of its own (its .local/ and results land there) beside a checkout.
    for name in (".venv", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_") and key != "PULUMI_HOME"}
    env |= {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}

    serve_argv = [*shlex.split(serve), "--port", str(port)]
    server = subprocess.Popen(
        serve_argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        assert ready.startswith(READY), ready
        script = "\n".join(["set -euo pipefail", *steps]).replace(DEFAULT_URL, f"127.0.0.1:{port}")
        script = script.replace(README_VIDEO, shlex.quote(str(video)))
        # After the exports, plain boto3 must reach the endpoint with only what the README exported.
        check = ".venv/bin/python -c \"import boto3; boto3.client('sts').get_caller_identity()\""
        script = script.replace(
            "\n.venv/bin/python scripts/local.py deploy", f"\n{check}\n.venv/bin/python scripts/local.py deploy", 1
        )
        result = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    results = json.loads((tmp_path / f"{video.name}.faces.json").read_text())
    assert results["JobStatus"] == "SUCCEEDED" and results["Faces"], "the synthetic video has a face"
    assert not (tmp_path / ".local" / "outputs-local.json").exists(), "destroy removes the outputs file"
    assert "%|" not in output and "\r" not in output, "a progress bar was drawn into a pipe"
