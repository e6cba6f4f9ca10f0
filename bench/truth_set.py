"""The emulator's independent evaluation set (issue 22): fills a cache directory with its images.

The set's labels, sources and licences are in bench/truth_set.json; its images are not in this
repository (most may not be redistributed). Each comes from a public repository at a pinned commit:
give this script a folder of clones of those repositories (bare or not), named owner+name or
owner/name, and it copies every image into the cache and checks its sha256. Nothing is downloaded.

    git clone --bare https://<host>/davisking/dlib clones/davisking+dlib   # one per repository
    .venv/bin/python bench/truth_set.py --clones clones            # then bench/emulator_truth.py

The cache defaults to $XDG_CACHE_HOME/rekognition-truth (~/.cache/rekognition-truth).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).with_name("truth_set.json")


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rekognition-truth"


def load_manifest() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["items"]
    return items


def image_path(cache: Path, item: dict[str, Any]) -> Path:
    return cache / f"{item['id']}{Path(item['path']).suffix}"


def git_dir(clones: Path, repo: str) -> Path | None:
    for name in (repo.replace("/", "+"), repo):
        for candidate in (
            clones / name / "repo",
            clones / name / "repo" / ".git",
            clones / name / ".git",
            clones / name,
        ):
            if (candidate / "objects").is_dir():
                return candidate
    return None


def fetch(clones: Path, cache: Path) -> list[str]:
    """Copies every image of the set into ``cache``; returns what could not be had, one line each."""
    cache.mkdir(parents=True, exist_ok=True)
    problems = []
    for item in load_manifest():
        target = image_path(cache, item)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == item["sha256"]:
            continue
        repository = git_dir(clones, item["repo"])
        if repository is None:
            problems.append(f"{item['id']}: no clone of {item['repo']} under {clones}")
            continue
        shown = subprocess.run(
            ["git", "--git-dir", str(repository), "show", f"{item['commit']}:{item['path']}"],
            capture_output=True,
            check=False,
        )
        if shown.returncode != 0:
            shown = subprocess.run(
                ["git", "--git-dir", str(repository), "show", f"HEAD:{item['path']}"], capture_output=True, check=False
            )
        if shown.returncode != 0 or hashlib.sha256(shown.stdout).hexdigest() != item["sha256"]:
            problems.append(f"{item['id']}: {item['repo']}:{item['path']} missing or changed (sha256 differs)")
            continue
        target.write_bytes(shown.stdout)
    return problems


def missing(cache: Path) -> list[str]:
    """The set's images not (or not intact) in ``cache``."""
    return [
        item["id"]
        for item in load_manifest()
        if not image_path(cache, item).exists()
        or hashlib.sha256(image_path(cache, item).read_bytes()).hexdigest() != item["sha256"]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--clones", type=Path, required=True, help="folder holding one clone per source repository")
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args()
    problems = fetch(args.clones, args.cache)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(load_manifest()) - len(problems)} images in {args.cache}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
