"""Every script answers --help (and a launcher, --version) without side effects: nothing written,
nothing run; help texts have examples where they are tools, and no markup or empty defaults. Long
options are never matched by prefix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import launcher.cli
import localaws.cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.glob("scripts/*.py"), *ROOT.glob("bench/*.py")])
SCHEMA = ROOT / "components" / "schema.json"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_help_answers_without_side_effects(script, tmp_path):
    schema = (SCHEMA.read_bytes(), SCHEMA.stat().st_mtime_ns)
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "Traceback" not in done.stderr
    assert "(default: None)" not in done.stdout and "``" not in done.stdout and "`" not in done.stdout
    assert (SCHEMA.read_bytes(), SCHEMA.stat().st_mtime_ns) == schema, "--help rewrote components/schema.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "--help wrote files"


@pytest.mark.parametrize("parser", [launcher.cli.build_parser, localaws.cli.build_parser])
def test_tools_show_examples_run_by_this_interpreter(parser):
    text = parser().format_help()
    assert "examples:" in text and "exit codes:" in text
    assert f"{launcher.cli.python()} scripts/" in text


def test_launch_version(capsys):
    with pytest.raises(SystemExit) as exited:
        launcher.cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"scripts/launch.py {launcher.__version__} Python/")


@pytest.mark.parametrize(
    "argv, unknown",
    [
        (["clip.mp4", "--outputs", "o.json", "--output", "x.json"], "--output"),
        (["clip.mp4", "--outputs", "o.json", "--out-d", "x"], "--out-d"),
        (["clip.mp4", "--outputs", "o.json", "--over"], "--over"),
    ],
)
def test_launch_takes_no_prefix_of_a_long_option(capsys, argv, unknown):
    with pytest.raises(SystemExit) as exited:
        launcher.cli.main(argv)
    assert exited.value.code == 2
    assert f"unrecognized arguments: {unknown}" in capsys.readouterr().err


def test_local_takes_no_prefix_of_a_long_option(capsys):
    with pytest.raises(SystemExit) as exited:
        localaws.cli.main(["deploy", "--outputs", "x.json"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --outputs" in capsys.readouterr().err
