"""The redactor function's Lambda layer (redact: true): build it from pinned wheels, publish it.

The layer holds PyAV (with its FFmpeg), NumPy and Pillow for Lambda's python3.12 on x86_64, from
requirements-redactor-layer.txt (versions and file hashes pinned): ``build`` installs those wheels
for that platform (pip's --platform, whatever this machine is) into python/ and zips it with sorted
entries and fixed dates, so that the same pins give the same zip; ``publish`` uploads it to S3 (a
layer over 50 MB cannot be sent inline) and publishes a layer version, whose ARN is the stack's
redactLayerArn.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements-redactor-layer.txt"
DEFAULT_OUT = ROOT / "build" / "redactor-layer.zip"
PYTHON_VERSION = "3.12"  # components.auto_processing.RUNTIME (a test keeps them in step)
ARCHITECTURE = "x86_64"  # components.auto_processing.ARCHITECTURE
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
UNZIPPED_LIMIT = 262_144_000  # Lambda: a function and its layers unzipped, 250 MB
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
DEFAULT_LAYER_NAME = "faces-redactor"

EPILOG = """examples:
  python scripts/redactor_layer.py build
  python scripts/redactor_layer.py publish --bucket my-videos --region eu-west-1
  pulumi config set redact true && pulumi config set redactLayerArn ARN && pulumi up

exit codes: 0 done, 1 failed (the line says why and what to do), 2 bad arguments, zip or --out, 130 interrupted
"""


def install_command(target: Path) -> list[str]:
    """pip, installing the pinned wheels for Lambda's platform (not this machine's) into ``target``."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), "--no-deps", "--only-binary=:all:", "--require-hashes"]
    command += ["--implementation", "cp", "--python-version", PYTHON_VERSION]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    return [*command, "-r", str(REQUIREMENTS)]


def file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks (a layer is 60 MB)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def zip_folder(folder: Path, out: Path) -> tuple[int, int]:
    """Zip ``folder`` (entries sorted, fixed dates, no bytecode) into ``out``, written whole or not
    at all; (files' total size, the zip's size)."""
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    unzipped = 0
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), FIXED_TIME)
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = path.read_bytes()
                unzipped += len(data)
                archive.writestr(info, data)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return unzipped, out.stat().st_size


def out_problem(out: Path) -> str | None:
    """Why the zip could not be written at ``out``, found before minutes of pip."""
    if out.is_dir():
        return f"--out {out} is a folder: name the zip to write"
    if out.exists() and not out.is_file():  # /dev/null, a pipe: the zip's rename would replace it
        return f"--out {out} is not a regular file (a device or a pipe): name the zip to write"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".probe-", suffix=".partial"):
            pass
    except OSError as error:
        return f"cannot write {out}: {error.strerror or error}: pick a folder you may write to for --out"
    return None


def build(out: Path) -> int:
    if problem := out_problem(out):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "layer" / "python"
        done = subprocess.run(install_command(target), check=False)
        if done.returncode != 0:
            print(
                f"error: pip could not install {REQUIREMENTS.name} for {PYTHON_VERSION} {ARCHITECTURE}", file=sys.stderr
            )
            return 1
        unzipped, size = zip_folder(target.parent, out)
    digest = file_sha256(out)
    print(f"{out}: {size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped (sha256 {digest})")
    if unzipped > UNZIPPED_LIMIT:
        out.unlink()  # so that publish cannot upload a layer Lambda would refuse
        print(
            f"error: over Lambda's {UNZIPPED_LIMIT / 1e6:.0f} MB for a function and its layers unzipped; {out} removed",
            file=sys.stderr,
        )
        return 1
    print(f"room left for the function's own code: {(UNZIPPED_LIMIT - unzipped) / 1e6:.1f} MB")
    return 0


def zip_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as the layer's zip, checked before anything is sent."""
    if path.is_dir():
        return "is a folder"
    if not path.is_file():
        return "does not exist"
    if not zipfile.is_zipfile(path):
        return "is not a zip file"
    return None


def publish(args: argparse.Namespace) -> int:
    import boto3
    from boto3.exceptions import S3UploadFailedError
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    zipped = Path(args.zip)
    if problem := zip_problem(zipped):
        print(
            f"error: {zipped} {problem}: run `make redactor-layer` (or this script's build) first, or give the "
            "zip it wrote to --zip",
            file=sys.stderr,
        )
        return 2
    digest = file_sha256(zipped)
    key = args.key or f"lambda-layers/redactor-{digest[:16]}.zip"
    config = Config(retries={"mode": "standard"})
    try:  # a wrong --profile, a refused or failed upload: one line each
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        s3 = session.client("s3", endpoint_url=args.endpoint_url, config=config)
        s3.upload_file(str(zipped), args.bucket, key)  # multipart above 8 MB
        lam: Any = session.client("lambda", endpoint_url=args.endpoint_url, config=config)  # runtime names as str
        published = lam.publish_layer_version(
            LayerName=args.layer_name,
            Description=f"PyAV, NumPy and Pillow for the redactor function (sha256 {digest[:16]})",
            Content={"S3Bucket": args.bucket, "S3Key": key},
            CompatibleRuntimes=[f"python{PYTHON_VERSION}"],
            CompatibleArchitectures=[ARCHITECTURE],
        )
    except (BotoCoreError, ClientError, S3UploadFailedError) as error:
        print(
            f"error: could not publish the layer: {error}; check --bucket (a bucket of the layer's region that you "
            "may write to), --region, --profile and --endpoint-url",
            file=sys.stderr,
        )
        return 1
    arn = published["LayerVersionArn"]
    print(arn)
    print(
        f"next: pulumi config set redact true && pulumi config set redactLayerArn {arn} && pulumi up", file=sys.stderr
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redactor_layer.py",
        description="Build and publish the redactor function's layer (PyAV, NumPy, Pillow for python3.12, x86_64).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    built = commands.add_parser("build", help="install the pinned wheels for Lambda and zip them", allow_abbrev=False)
    built.add_argument("--out", default=str(DEFAULT_OUT), help="the zip to write (default: build/redactor-layer.zip)")
    sent = commands.add_parser("publish", help="upload the zip to S3 and publish a layer version", allow_abbrev=False)
    sent.add_argument("--bucket", required=True, help="an S3 bucket in the stack's region (the video bucket will do)")
    sent.add_argument("--key", help="its key (default: lambda-layers/redactor-<sha256>.zip)")
    sent.add_argument("--zip", default=str(DEFAULT_OUT), help="the layer zip (default: build/redactor-layer.zip)")
    sent.add_argument("--layer-name", default=DEFAULT_LAYER_NAME, help="the layer's name (default: faces-redactor)")
    sent.add_argument(
        "--region", help="AWS region (default: AWS_DEFAULT_REGION or the profile's; boto3 ignores AWS_REGION)"
    )
    sent.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default one)")
    sent.add_argument("--endpoint-url", help="another endpoint, such as the local one")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "build":
            return build(Path(args.out))
        return publish(args)
    except KeyboardInterrupt:  # build removes its partial zip; publish may have uploaded the zip, not said its ARN
        said = (
            "no zip half-written"
            if args.command == "build"
            else "no layer ARN printed (the zip may be uploaded, a layer version published)"
        )
        print(f"\ninterrupted: {said}; run the same command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
