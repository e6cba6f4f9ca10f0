"""The emulator's independent evaluation set (issue 22): fills a cache directory with its images.

The set's labels, sources and licences are in bench/truth_set.json; its images are not in this
repository (most may not be redistributed). Each comes from a public repository at a pinned commit.
On a machine with access to those repositories, --download clones each one into the cache (blobless where the server
allows it, so only the images the set names are fetched) and copies the images out;
offline, give --clones a folder of existing clones (bare or not), named owner+name or owner/name.
Either way every image's sha256 is checked against the manifest.

    .venv/bin/python bench/truth_set.py --download                 # then bench/emulator_truth.py
    .venv/bin/python bench/truth_set.py --clones DIR               # offline, from clones

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
# Where --download clones each repository from ({repo} is owner/name); --source changes it.
DEFAULT_SOURCE = "https://github.com/{repo}.git"


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


def fetch(clones: Path, cache: Path, skip: frozenset[str] = frozenset()) -> list[str]:
    """Copies every image of the set (but those of the repositories in ``skip``) into ``cache``;
    returns what could not be had, one line each."""
    cache.mkdir(parents=True, exist_ok=True)
    problems = []
    for item in load_manifest():
        if item["repo"] in skip:
            continue
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


def download(cache: Path, source: str) -> dict[str, str]:
    """Blobless bare clones of every repository the set names, under ``cache``/clones (git then
    fetches only the blobs ``fetch`` reads); returns, per repository that could not be had, one line."""
    clones = cache / "clones"
    clones.mkdir(parents=True, exist_ok=True)
    problems = {}
    for repo in sorted({item["repo"] for item in load_manifest()}):
        if git_dir(clones, repo) is not None:
            continue
        url = source.format(repo=repo)
        cloned = subprocess.run(
            ["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, str(clones / repo.replace("/", "+"))],
            capture_output=True,
            text=True,
            check=False,
        )
        if cloned.returncode != 0:
            lines = cloned.stderr.strip().splitlines()
            reason = next((line for line in lines if line.startswith("fatal:")), lines[-1] if lines else "failed")
            problems[repo] = f"{repo}: could not clone {url} ({reason}); offline, use --clones DIR"
    return problems


def fill_command() -> str:
    """The one command that fills the cache, for messages."""
    return ".venv/bin/python bench/truth_set.py --download (offline: --clones DIR)"


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
    origin = parser.add_mutually_exclusive_group(required=True)
    origin.add_argument("--clones", type=Path, help="folder holding one clone per source repository (offline)")
    origin.add_argument(
        "--download", action="store_true", help="clone the source repositories into the cache first (needs network)"
    )
    parser.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        help=f"clone URL for --download, {{repo}} standing for owner/name; default: {DEFAULT_SOURCE}",
    )
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where the images go; default: %(default)s")
    args = parser.parse_args()
    failed = download(args.cache, args.source) if args.download else {}
    problems = list(failed.values())
    problems += fetch(args.cache / "clones" if args.download else args.clones, args.cache, frozenset(failed))
    for line in problems:
        print(line, file=sys.stderr)
    absent = missing(args.cache)
    print(f"{len(load_manifest()) - len(absent)} of {len(load_manifest())} images in {args.cache}")
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
