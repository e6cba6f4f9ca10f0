"""The emulator's Emotions (localaws/vision/emotions.py) against crowd-labelled photographs it was not
trained on (issue 22, item 4).

The set: muxspace/facial_expressions at a pinned commit (its legend, data/legend.csv, labels each
photograph of images/ with one expression; Apache-2.0 repository; the photographs are gathered from
the web and from Labeled Faces in the Wild, and are not redistributed here). Its labels map onto the
service's types: anger ANGRY, disgust DISGUSTED, fear FEAR, happiness HAPPY, neutral CALM, sadness
SAD, surprise SURPRISED; contempt, which the service has no type for, is left out, and so is a
photograph the legend lists twice with two labels.

The split, fixed before any result was seen: a photograph is "dev" when the first hex digit of the
sha256 of its file name is 0-7, "held-out" otherwise; of each label, each split keeps the
PER_LABEL photographs with the smallest such hashes (the set has thousands of happy and neutral
faces and a few dozen fearful ones). The dev half chooses the crop (--crop-scales); the held-out
half is reported with the crop the emulator uses.

Each photograph goes part of the emulator's way, centred in a grey 960x540 frame (downscaled only if
it does not fit): downscaled for detection as a video frame is (DecodedFrame.sampled; here it
need not be), RetinaFace (the largest face above the candidate threshold; a photograph with none is
counted apart), then the emotion crop on the full-resolution photograph and the model. The
emulator's minimum face size and its human check are skipped: every face RetinaFace finds is
classified, so the figures are the model's on faces the emulator might not report. Reported per
split: accuracy per label (the share of its photographs whose most confident type is the label),
overall and balanced (the mean over labels: chance is 1/7), and HAPPY against the rest (how often a
happy face reads HAPPY, and how often another reads HAPPY).

    .venv/bin/python bench/emotions.py --download          # clones the set (blobless) into the cache
    .venv/bin/python bench/emotions.py --clones DIR        # offline, from an existing clone
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from truth_set import DEFAULT_SOURCE, default_cache, git_dir  # beside this file

from localaws.vision import emotions
from localaws.vision.detector import DETECTION_SHORT_SIDE, RetinaFaceDetector, check_detector
from localaws.vision.face import DetectedFace
from localaws.vision.frames import DecodedFrame

REPO = "muxspace/facial_expressions"
COMMIT = "5fb9c13afac07c55eae8d25eb6b50af344ad60c9"
LICENCE = "Apache-2.0 (repository); photographs from the web and Labeled Faces in the Wild, not redistributed"
LABELS = {
    "anger": "ANGRY",
    "disgust": "DISGUSTED",
    "fear": "FEAR",
    "happiness": "HAPPY",
    "neutral": "CALM",
    "sadness": "SAD",
    "surprise": "SURPRISED",
}
PER_LABEL = 150
FRAME = (960, 540)  # a 1920x1080 video's frame as RetinaFace sees it
GREY = 110
SPLITS = ("dev", "held-out")


class SetUnavailable(Exception):
    """The clone cannot give the set (the pinned commit or a photograph is not in it); the message,
    one line, says what to do."""


def name_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def split_of(name: str) -> str:
    """The split rule, declared before any result: the first hex digit of sha256(file name)."""
    return "dev" if name_hash(name)[0] in "01234567" else "held-out"


def labelled(legend_csv: str) -> dict[str, str]:
    """File name -> the service's type, from the legend (contempt and contradictory duplicates left out)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(io.StringIO(legend_csv)):
        seen[row["image"].strip()].add(row["emotion"].strip().lower())
    return {
        name: LABELS[next(iter(labels))]
        for name, labels in seen.items()
        if len(labels) == 1 and labels <= LABELS.keys()
    }


def chosen(labels: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Per split, the (file name, type) pairs: ``PER_LABEL`` per type, the smallest name hashes."""
    by_split_and_type: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, kind in labels.items():
        by_split_and_type[split_of(name), kind].append(name)
    result: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for (split, kind), names in sorted(by_split_and_type.items()):
        result[split] += [(name, kind) for name in sorted(names, key=name_hash)[:PER_LABEL]]
    return result


def clone(cache: Path, source: str) -> Path:
    """A blobless bare clone of the set under ``cache``/clones (git then fetches only what is read)."""
    clones = cache / "clones"
    existing = git_dir(clones, REPO)
    if existing is not None:
        return existing
    target = clones / REPO.replace("/", "+")
    clones.mkdir(parents=True, exist_ok=True)
    url = source.format(repo=REPO)
    done = subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"could not clone {url}: {done.stderr.strip()[-200:]}; offline, use --clones DIR")
    return target


def git(repository: Path, *args: str, request: bytes | None = None) -> bytes:
    """A git command's output; SetUnavailable, in one line, when it fails (a clone lacking the pinned
    commit: ``git show`` exits 128)."""
    done = subprocess.run(["git", "--git-dir", str(repository), *args], input=request, capture_output=True, check=False)
    if done.returncode != 0:
        said = " ".join(done.stderr.decode(errors="replace").split())[-200:]
        if git_ok(repository, "cat-file", "-e", f"{COMMIT}^{{commit}}"):
            raise SetUnavailable(f"git {args[0]} failed in the clone at {repository} ({said}): run it again online")
        raise SetUnavailable(
            f"the clone at {repository} lacks commit {COMMIT}: delete it and run bench/emotions.py --download again"
        )
    return done.stdout


def git_ok(repository: Path, *args: str) -> bool:
    return (
        subprocess.run(["git", "--git-dir", str(repository), *args], capture_output=True, check=False).returncode == 0
    )


def blob_id(data: bytes) -> str:
    """Git's id of a file's content (sha1 of ``blob <size>\\0`` and the bytes)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """The whole file or none: an interrupted run leaves no truncated photograph behind."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as partial:
        partial.write(data)
    os.replace(partial.name, path)


def fill(repository: Path, cache: Path, names: list[str]) -> None:
    """Copies the named photographs, at the pinned commit, into ``cache``: those not there yet, and
    those whose content is not the commit's (a file cut short by an earlier, interrupted run), checked
    against the commit's tree (which a blobless clone holds)."""
    cache.mkdir(parents=True, exist_ok=True)
    listing = git(repository, "ls-tree", "-z", f"{COMMIT}:images")
    ids: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        if entry:
            meta, _, file_name = entry.partition(b"\t")
            ids[file_name.decode()] = meta.split()[2].decode()
    for name in names:
        if name not in ids:
            raise SetUnavailable(f"{REPO}@{COMMIT[:10]}: images/{name} is not in the clone at {repository}")
    wanted = [
        name for name in names if not (cache / name).is_file() or blob_id((cache / name).read_bytes()) != ids[name]
    ]
    if not wanted:
        return
    out = git(repository, "cat-file", "--batch", request="".join(f"{ids[name]}\n" for name in wanted).encode())
    position = 0
    for name in wanted:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        if header[-1] == b"missing":
            raise SetUnavailable(f"{REPO}@{COMMIT[:10]}: images/{name} missing from the clone at {repository}")
        size = int(header[2])
        write_atomically(cache / name, out[header_end + 1 : header_end + 1 + size])
        position = header_end + 1 + size + 1


def in_frame(rgb: np.ndarray) -> np.ndarray:
    """The photograph centred in a grey ``FRAME`` (downscaled only if it does not fit): one frame size,
    so RetinaFace is compiled once, not once per photograph's size."""
    width, height = FRAME
    scale = min(1.0, width / rgb.shape[1], height / rgb.shape[0])
    if scale < 1:
        rgb = cv2.resize(rgb, (int(rgb.shape[1] * scale), int(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), GREY, np.uint8)
    top, left = (height - rgb.shape[0]) // 2, (width - rgb.shape[1]) // 2
    frame[top : top + rgb.shape[0], left : left + rgb.shape[1]] = rgb
    return frame


def largest_face(detector: RetinaFaceDetector, rgb: np.ndarray) -> DetectedFace | None:
    """The photograph's largest face, found as the emulator finds it in a frame (the frame downscaled
    for detection, the box scaled back), without its minimum-size and human checks."""
    sample = DecodedFrame(0, rgb, planar=False).sampled(DETECTION_SHORT_SIDE)
    faces = detector.detect(sample.detection_rgb)
    if not faces:
        return None
    return max(faces, key=lambda f: f.width * f.height).scaled(sample.detection_scale)


def predictions(
    cache: Path, items: list[tuple[str, str]], scales: tuple[float, ...]
) -> tuple[dict[float, list[tuple[str, str]]], int]:
    """Per crop scale, the (label, top type) pairs; and how many photographs had no face."""
    detector = RetinaFaceDetector()
    classifier = emotions.EmotionClassifier()
    results: dict[float, list[tuple[str, str]]] = {scale: [] for scale in scales}
    no_face = 0
    for name, kind in items:
        bgr = cv2.imread(str(cache / name))
        rgb = in_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if bgr is not None else None
        face = largest_face(detector, rgb) if rgb is not None else None
        if rgb is None or face is None:
            no_face += 1
            continue
        for scale in scales:
            top = emotions.as_emotions(classifier.probabilities(emotions.face_crop(rgb, face, scale)))[0]["Type"]
            results[scale].append((kind, top))
    return results, no_face


def report(split: str, scale: float, pairs: list[tuple[str, str]], no_face: int) -> list[str]:
    totals = Counter(kind for kind, _ in pairs)
    right = Counter(kind for kind, top in pairs if kind == top)
    per_label = {kind: right[kind] / totals[kind] for kind in sorted(totals)}
    overall = sum(right.values()) / len(pairs)
    balanced = sum(per_label.values()) / len(per_label)
    happy = sum(1 for kind, top in pairs if kind == "HAPPY" and top == "HAPPY")
    others_as_happy = sum(1 for kind, top in pairs if kind != "HAPPY" and top == "HAPPY")
    others = len(pairs) - totals["HAPPY"]
    confusion = Counter(top for kind, top in pairs if kind != top)
    return [
        f"{split} (crop {scale}): {len(pairs)} faces ({no_face} photographs without a face), "
        f"accuracy {overall:.3f}, balanced {balanced:.3f} (chance 0.143)",
        "  per label: "
        + ", ".join(f"{kind} {right[kind]}/{totals[kind]} = {per_label[kind]:.2f}" for kind in per_label),
        f"  HAPPY vs rest: happy read HAPPY {happy}/{totals['HAPPY']}, others read HAPPY {others_as_happy}/{others}",
        "  wrong answers given: " + ", ".join(f"{kind} {count}" for kind, count in confusion.most_common()),
    ]


def run(repository: Path, cache: Path, splits: tuple[str, ...], dev_scales: tuple[float, ...]) -> list[str]:
    legend = git(repository, "show", f"{COMMIT}:data/legend.csv").decode()
    sets = chosen(labelled(legend))
    lines = [f"Emotions: {REPO}@{COMMIT[:10]} ({LICENCE}); {PER_LABEL} per label and split at most"]
    for split in splits:
        fill(repository, cache, [name for name, _ in sets[split]])
        scales = dev_scales if split == "dev" else (emotions.CROP_SCALE,)
        started, cpu = time.perf_counter(), time.process_time()
        results, no_face = predictions(cache, sets[split], scales)
        for scale in scales:
            lines += report(split, scale, results[scale], no_face)
        lines.append(
            f"  {len(sets[split])} photographs in {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU), load {Path('/proc/loadavg').read_text().split()[0]}"
        )
    return lines


def figures(cache: Path) -> list[str]:
    """The held-out figures, for bench/emulator_truth.py: from the clone ``--download`` left in
    ``cache``, or one line saying what is missing and how to get it (never an exception, so that the
    rest of emulator_truth's report is not lost)."""
    repository = git_dir(cache / "clones", REPO)
    if repository is None:
        return [f"Emotions: no clone of {REPO} in {cache / 'clones'}: run bench/emotions.py --download"]
    problem = emotions.check_emotion_model()
    if problem is None:
        try:
            check_detector()
        except ValueError as error:
            problem = str(error)
    if problem is not None:
        return [f"Emotions: not measured: {problem}"]
    try:
        return run(repository, cache / "expressions", ("held-out",), ())
    except (SetUnavailable, emotions.EmotionModelUnavailable, OSError) as error:
        return [f"Emotions: not measured: {error}"]


def crop_scales(text: str) -> tuple[float, ...]:
    """``--crop-scales``: positive finite numbers separated by commas."""
    try:
        scales = tuple(float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 1.0,1.2") from None
    for scale in scales:
        if not math.isfinite(scale) or scale <= 0:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {scale} is not a positive number (a crop's side, times the box's)"
            )
    return scales


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    origin = parser.add_mutually_exclusive_group(required=True)
    origin.add_argument("--clones", type=Path, help="folder holding a clone of the set (owner+name or owner/name)")
    origin.add_argument("--download", action="store_true", help="clone the set into the cache first (needs network)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="clone URL for --download, {repo} for owner/name")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--split", action="append", choices=SPLITS, help="default: both")
    parser.add_argument(
        "--crop-scales",
        type=crop_scales,
        default="0.9,1.0,1.15,1.3",
        help="crop scales compared on the dev split (positive, comma-separated; default: %(default)s)",
    )
    args = parser.parse_args(argv)
    problem = emotions.check_emotion_model()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if args.download:
        repository = clone(args.cache, args.source)
    else:
        found = git_dir(args.clones, REPO)
        if found is None:
            parser.error(f"no clone of {REPO} under {args.clones} (expected {REPO.replace('/', '+')} or {REPO})")
        repository = found
    try:
        lines = run(repository, args.cache / "expressions", tuple(args.split or SPLITS), args.crop_scales)
    except (SetUnavailable, emotions.EmotionModelUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
