"""How often a fresh detector freezes on its first inferences (issue 18's race), many times over.

A race shows once in twenty or thirty runs, more than the test suite can afford to repeat: the suite
(tests/e2e/test_no_freeze.py) runs a dozen fresh detector processes; this runs --runs (30) of them,
two at a time (the machines have two cores), each ``python -m tests.e2e.first_inference``: the real
RetinaFace detector whose detecting threads start their first inferences together, after the
warm-up as the emulator does it. With --no-warm-up it measures the unprotected case (OpenVINO's
binding froze 2 of 30 here). A process that does not finish within --deadline seconds is killed and
counted as frozen. Target: 0 frozen with the warm-up.

    .venv/bin/python bench/no_freeze.py [--runs 30] [--no-warm-up] [--deadline 120]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(no_warm_up: bool, deadline: float) -> str:
    """'done', 'frozen' or 'failed' for one fresh process."""
    command = [sys.executable, "-m", "tests.e2e.first_inference", *(["--no-warm-up"] if no_warm_up else [])]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = process.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "frozen"
    return "done" if process.returncode == 0 and "done" in out else "failed"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-warm-up", action="store_true", help="the unprotected case, for comparison")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds before a process counts as frozen")
    args = parser.parse_args()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: run_one(args.no_warm_up, args.deadline), range(args.runs)))
    load = os.getloadavg()[0]
    case = "without the warm-up" if args.no_warm_up else "with the warm-up"
    print(
        f"{outcomes.count('frozen')} of {args.runs} fresh detectors froze {case} "
        f"({outcomes.count('failed')} failed otherwise; {time.monotonic() - started:.0f} s, load {load:.1f})"
    )


if __name__ == "__main__":
    main()
