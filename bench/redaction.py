"""Redaction (--redact): speed, the leak audit's cost, and memory against the video's length.

1. Speed: frames per second of the whole redaction (decode, cover, H.264 encode, audio copy) with
   the default settings, at 640x360, 1280x720 and 1920x1080, on 30 fps clips of faces from real
   photographs crossing a panning photographic background (so the encoder has real detail to
   code), with AAC audio; the boxes come from the clip's known face positions sampled every 200 ms
   and grouped as the launcher groups results. Beside it: the CPU time per frame (every thread of
   the process), the cores used (CPU over wall time: at most 2 here), the load average before and
   after (other work on the shared cores slows the wall clock, not the CPU figure), decoding alone
   and decoding plus covering (no encoding), so the bottleneck shows; real time = 30 fps.
2. H.264 settings: libx264 presets and CRFs at 1920x1080 (speed, size, PSNR): why the default.
3. The audit: frames per second of the leak audit with each detector installed, at its default k.
4. Memory: peak resident memory of a redaction (with its audit) of a 1-minute and of a 10-minute
   640x360 clip, each in a fresh process: flat in the video's length.
5. Coverage against the sampling interval: the tests' crossing scene (synthetic/scenes.py: a face
   crossing the 640 px frame in 1.65 s, another crossing it back over the first, a third
   accelerating in from the top), its results sampled every 200, 300, 400 and 500 ms: how many
   faces are still recognisable in the copy (SSIM of their visible pixels against the original's
   0.35 or more; encoding alone gives 0.98), and how much of the frame the boxes cover.

    .venv/bin/python bench/redaction.py [--seconds 10] [--repeat 2] [--sizes 640x360,1280x720,1920x1080]
        [--skip-speed] [--skip-presets] [--skip-audit] [--skip-coverage] [--skip-memory] [--memory-minutes 1,10]

The last line says whether the issue's target (1920x1080 at 2x real time or more by the wall clock,
default settings) is MET or NOT MET, with the load average when the machine was busy. The target
alone, three runs: --sizes 1920x1080 --repeat 3 --skip-presets --skip-audit --skip-coverage --skip-memory
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "True")

import av
import numpy as np

from launcher.jobs.appearances import Appearance, Detection, group_appearances
from launcher.jobs.errors import BadInput
from launcher.redact.audit import audit_video, default_every, load_detector
from launcher.redact.boxes import Timeline
from launcher.redact.options import Quality
from launcher.redact.writer import cover_frame, redact_video
from synthetic.scenes import (
    RECOGNISABLE_SSIM,
    Scene,
    crossing_movers,
    face_similarities,
    make_scene,
    panning_photographs,
    scene_faces,
)

SIZES = ((640, 360), (1280, 720), (1920, 1080))
FPS = 30
# (preset, x264-params, CRF): the default (launcher/redact/options.py Quality) and the alternatives.
PRESETS = (
    ("ultrafast", "", 18),
    ("superfast", "", 18),
    ("superfast", "mbtree=1:rc-lookahead=10", 18),
    ("veryfast", "", 20),
    ("veryfast", "", 18),
    ("faster", "", 20),
)


def clip(folder: Path, width: int, height: int, seconds: float, name: str = "") -> Scene:
    times = [index * 1000 / FPS for index in range(round(seconds * FPS))]
    movers = crossing_movers(width, height, seconds=min(seconds, 4.0))
    # The movers cross in the first 4 s; repeated every 4 s for longer clips.
    repeated = [
        type(mover)(
            mover.start_ms + start,
            mover.end_ms + start,
            mover.start,
            mover.end,
            mover.scale,
            mover.mirrored,
            mover.ease,
        )
        for start in range(0, round(seconds * 1000) - 3999, 4000)
        for mover in movers
    ]
    path = folder / f"{name or 'clip'}-{width}x{height}-{seconds:g}s.mp4"
    return make_scene(
        path,
        repeated or movers,
        width=width,
        height=height,
        timestamps_ms=times,
        backdrop=panning_photographs(width, height),
        crf=20,
    )


def appearances(scene: Scene) -> list[Appearance]:
    return group_appearances(Detection.from_face(face) for face in scene_faces(scene, 200)).appearances


def decode_only(path: Path) -> float:
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = sum(1 for _ in container.decode(stream))
    return count / (time.perf_counter() - started)


def decode_and_cover(path: Path, found: list[Appearance]) -> float:
    timeline = Timeline(found)
    started = time.perf_counter()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            cover_frame(frame, timeline.boxes_at(float(frame.time or 0) * 1000), "blur")
            count += 1
    return count / (time.perf_counter() - started)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def redaction_fps(
    scene: Scene, found: list[Appearance], folder: Path, quality: Quality | None = None
) -> tuple[float, int, float]:
    """(wall-clock fps, output bytes, CPU ms per frame)."""
    out = folder / "redacted.mp4"
    started, cpu = time.perf_counter(), cpu_seconds()
    written = redact_video(scene.path, out, Timeline(found), quality=quality, overwrite=True)
    elapsed, cpu_used = time.perf_counter() - started, cpu_seconds() - cpu
    return written.frames / elapsed, out.stat().st_size, cpu_used * 1000 / written.frames


TARGET = 2.0  # times real time at 1920x1080 30 fps, by the wall clock, with the default settings (issue 24)


def load_average() -> float:
    return os.getloadavg()[0]


def speed(folder: Path, seconds: float, repeat: int, sizes: list[tuple[int, int]]) -> float | None:
    """The speed table; returns 1920x1080's median times real time (None if not measured)."""
    print(f"## 1. Redaction speed ({seconds:g} s clips at {FPS} fps, default settings: {Quality()})")
    print(
        "| size | redaction fps, wall clock (runs) | x real time (median) | CPU ms per frame | cores used "
        "(CPU / wall) | fps on 2 free cores (2000 / CPU ms) | load average (before, after) | decode only fps "
        "| decode + cover fps |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    result = None
    for width, height in sizes:
        scene = clip(folder, width, height, seconds)
        found = appearances(scene)
        before = load_average()
        runs = [redaction_fps(scene, found, folder) for _ in range(repeat)]
        after = load_average()
        median = statistics.median(run[0] for run in runs)
        cpu = statistics.median(run[2] for run in runs)
        if (width, height) == (1920, 1080):
            result = median / FPS
        print(
            f"| {width}x{height} | {', '.join(f'{run[0]:.1f}' for run in runs)} | {median / FPS:.2f}x "
            f"| {cpu:.1f} | {cpu * median / 1000:.2f} | {2000 / cpu:.0f} ({2000 / cpu / FPS:.1f}x) "
            f"| {before:.1f}, {after:.1f} | {decode_only(scene.path):.0f} "
            f"| {decode_and_cover(scene.path, found):.0f} |",
            flush=True,
        )
    return result


def verdict(real_time: float | None) -> None:
    """One line the lead can grep for: is the issue's target met at 1920x1080 by the wall clock?"""
    if real_time is None:
        return
    cores = len(os.sched_getaffinity(0))
    met = "MET" if real_time >= TARGET else "NOT MET"
    busy = load_average()
    note = ""
    if busy >= cores:
        note = f" (load average {busy:.1f} on {cores} cores: other work shared them"
        note += "; a quiet machine can only do better)" if met == "MET" else "; rerun on a quiet machine)"
    print(f"\nTARGET {met}: 1920x1080 at {real_time:.2f}x real time by the wall clock (target {TARGET:g}x){note}")


def psnr(source: Path, copy: Path) -> float:
    """Mean luma PSNR (dB) of the copy against the source, frame by frame."""
    values = []
    with av.open(str(source)) as first, av.open(str(copy)) as second:
        for a, b in zip(first.decode(video=0), second.decode(video=0), strict=True):
            height = a.height
            luma_a = a.to_ndarray(format="yuv420p")[:height].astype(np.float32)
            luma_b = b.to_ndarray(format="yuv420p")[:height].astype(np.float32)
            values.append(10 * math.log10(255**2 / max(1e-6, float(((luma_a - luma_b) ** 2).mean()))))
    return statistics.mean(values)


def presets(folder: Path, seconds: float) -> None:
    print("\n## 2. libx264 settings at 1920x1080 (PSNR: re-encoding with nothing covered, against the source)")
    print("| preset, x264-params, CRF | fps, wall | CPU ms per frame | fps on 2 free cores | MB per minute | PSNR dB |")
    print("|---|---|---|---|---|---|")
    scene = clip(folder, 1920, 1080, seconds)
    found = appearances(scene)
    for preset, params, crf in PRESETS:
        quality = Quality(crf=crf, preset=preset, x264_params=params)
        fps, size, cpu = redaction_fps(scene, found, folder, quality)
        plain = folder / "plain.mp4"
        redact_video(scene.path, plain, Timeline([]), quality=quality, overwrite=True)
        default = " (default)" if quality == Quality() else ""
        print(
            f"| {preset}, {params or '-'}, {crf}{default} | {fps:.1f} | {cpu:.1f} | {2000 / cpu:.0f} "
            f"({2000 / cpu / FPS:.1f}x) | {size / 1e6 * 60 / seconds:.1f} | {psnr(scene.path, plain):.2f} |",
            flush=True,
        )


def audit_cost(folder: Path, seconds: float) -> None:
    print("\n## 3. Leak audit")
    print("| detector | size | every k-th frame | audited frames per second | x real time | CPU ms per audited frame |")
    print("|---|---|---|---|---|---|")
    detectors = []
    for name in ("retinaface", "yuface", "opencv"):
        try:
            detectors.append(load_detector(name))
        except BadInput as error:  # a detector not installed: say so, go on
            print(f"| {name} | not installed: {error} | | | | |")
    for width, height in SIZES:
        scene = clip(folder, width, height, seconds)
        found = appearances(scene)
        out = folder / f"audited-{width}.mp4"
        redact_video(scene.path, out, Timeline(found), overwrite=True)
        every = default_every(width, height)
        for detector in detectors:
            started, cpu = time.perf_counter(), cpu_seconds()
            audit = audit_video(out, detector, every)
            elapsed, cpu_used = time.perf_counter() - started, cpu_seconds() - cpu
            real = audit.frames / FPS / elapsed
            print(
                f"| {detector.name.split(' (')[0]} | {width}x{height} | {every} | {audit.audited / elapsed:.1f} "
                f"| {real:.2f}x (leaks: {len(audit.leaks)}) | {cpu_used * 1000 / audit.audited:.1f} |",
                flush=True,
            )


def memory_child(path: str, appearances_file: str, out: str) -> None:
    """In a fresh process: redact and audit, then print the peak resident memory (MB)."""
    from launcher.jobs.formats import read_summary

    found = read_summary(Path(appearances_file), "json").appearances
    started = time.perf_counter()
    written = redact_video(Path(path), Path(out), Timeline(found), overwrite=True)
    redacted = time.perf_counter() - started
    redact_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    audit = audit_video(Path(out), load_detector("auto"), default_every(written.width, written.height))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"frames": written.frames, "audited": audit.audited, "peak_mb": peak_mb, "redact_s": redacted}
    print(json.dumps({**figures, "redact_peak_mb": redact_peak_mb, "detector": audit.detector}))


def memory(folder: Path, minutes: list[float]) -> None:
    print("\n## 4. Peak memory against length (640x360, redaction then audit, each in a fresh process)")
    print("| length | frames | frames audited | peak MB after the redaction | ... after the audit | redaction fps |")
    print("|---|---|---|---|---|---|")
    for length in minutes:
        scene = clip(folder, 640, 360, length * 60, name="long")
        faces = scene_faces(scene, 200)
        results = folder / "long.faces.json"
        results.write_text(json.dumps({"JobStatus": "SUCCEEDED", "Faces": faces}))
        out = folder / "long.redacted.mp4"
        run = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(scene.path), str(results), str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(run.stdout.strip().splitlines()[-1])
        print(
            f"| {length:g} min | {figures['frames']} | {figures['audited']} | {figures['redact_peak_mb']:.0f} "
            f"| {figures['peak_mb']:.0f} | {figures['frames'] / figures['redact_s']:.0f} |",
            flush=True,
        )
        scene.path.unlink()


def coverage(folder: Path) -> None:
    print("\n## 5. Coverage against the sampling interval (the crossing scene, 640x360, blur)")
    print("| sampled every | appearances | faces still recognisable | share of the frame covered (mean, max) |")
    print("|---|---|---|---|")
    scene = make_scene(folder / "crossing.mp4", crossing_movers(640, 360))
    for interval in (200, 300, 400, 500):
        found = group_appearances(Detection.from_face(face) for face in scene_faces(scene, interval)).appearances
        timeline = Timeline(found)
        out = folder / "crossing-redacted.mp4"
        redact_video(scene.path, out, timeline, overwrite=True)
        covered = []
        for timestamp in scene.timestamps_ms:
            mask = np.zeros((360, 640), dtype=bool)
            for box in timeline.boxes_at(timestamp - scene.timestamps_ms[0]):
                if (pixels := box.pixels(640, 360)) is not None:
                    mask[pixels[1] : pixels[3], pixels[0] : pixels[2]] = True
            covered.append(float(mask.mean()))
        measured = face_similarities(scene, out)
        recognisable = sum(ssim >= RECOGNISABLE_SSIM for _frame, _mover, ssim in measured)
        print(
            f"| {interval} ms | {len(found)} | {recognisable} of {len(measured)} "
            f"| {statistics.mean(covered):.0%}, {max(covered):.0%} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the speed clips (default: 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each speed figure (default: 2)")
    parser.add_argument("--skip-speed", action="store_true", help="skip the redaction's speed")
    parser.add_argument("--skip-presets", action="store_true", help="skip the H.264 settings")
    parser.add_argument("--skip-audit", action="store_true", help="skip the leak audit's cost")
    parser.add_argument("--skip-memory", action="store_true", help="skip memory against the length")
    parser.add_argument("--skip-coverage", action="store_true", help="skip coverage against the sampling interval")
    parser.add_argument(
        "--memory-minutes", default="1,10", help="clip lengths for the memory figure, in minutes (default: 1,10)"
    )
    parser.add_argument(
        "--sizes",
        default=",".join(f"{w}x{h}" for w, h in SIZES),
        help="sizes of the speed figure (default: 640x360,1280x720,1920x1080); --sizes 1920x1080 for the target alone",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    sizes = [(int(w), int(h)) for w, h in (size.split("x") for size in args.sizes.split(","))]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; cores: {len(os.sched_getaffinity(0))}")
    real_time = None
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if not args.skip_speed:
            real_time = speed(work, args.seconds, args.repeat, sizes)
        if not args.skip_presets:
            presets(work, args.seconds)
        if not args.skip_audit:
            audit_cost(work, args.seconds)
        if not args.skip_coverage:
            coverage(work)
        if not args.skip_memory:
            memory(work, [float(value) for value in args.memory_minutes.split(",")])
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    verdict(real_time)


if __name__ == "__main__":
    main()
