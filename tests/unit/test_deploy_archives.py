"""Pulumi archives as the offline deployer packages them: the same bytes for the same files."""

import io
import zipfile

import pulumi

from localaws.deploy import archives
from localaws.deploy.errors import UnsupportedResource


def test_a_folder_archive_is_deterministic_and_skips_bytecode(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    (tmp_path / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"junk")
    archive = pulumi.AssetArchive({"pkg": pulumi.FileArchive(str(tmp_path / "pkg")), "a.txt": pulumi.StringAsset("a")})
    first = archives.describe(archive)
    assert first == archives.describe(archive)
    names = zipfile.ZipFile(io.BytesIO(archives.build_zip(first))).namelist()
    assert names == ["a.txt", "pkg/mod.py"]
    (tmp_path / "pkg" / "mod.py").write_text("X = 2\n")
    assert archives.describe(archive)["sha256"] != first["sha256"]


def test_remote_assets_are_refused_with_a_clear_error():
    try:
        archives.describe(pulumi.RemoteArchive("https://example.invalid/code.zip"))
    except UnsupportedResource as error:
        assert "RemoteArchive" in str(error)
    else:
        raise AssertionError("a remote archive was accepted")
