"""The endpoint's state snapshots: the state folder's all-or-nothing commits (also under ``kill -9``),
what the pickler does for moto's values, and the gate that keeps snapshots between requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections import defaultdict
from pathlib import Path

import pytest
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from localaws.state import pickling
from localaws.state.files import Manifest, Part, StateError, StateFolder
from localaws.state.keeper import RequestGate, changes_state

ROOT = Path(__file__).resolve().parents[2]


def folder_with(tmp_path: Path, data: bytes, blobs: dict[str, bytes] | None = None) -> tuple[StateFolder, Manifest]:
    folder = StateFolder(tmp_path / "state")
    folder.prepare()
    for name, content in (blobs or {}).items():
        folder.write_blob(name, lambda write, content=content: write(content))
    part = Part(folder.write_part(data), tuple(sorted(blobs or {})))
    manifest = Manifest({"moto.s3.models:s3_backends": part}, 1, {"moto": "5.2.5"})
    folder.commit(manifest)
    return folder, manifest


def test_a_commit_is_read_back_and_removes_what_it_does_not_name(tmp_path):
    folder, _ = folder_with(tmp_path, b"first", {"blob-a": b"A"})
    (folder.path / ".manifest.json.123.tmp").write_text("left by a crash")
    second = Manifest({"p": Part(folder.write_part(b"second"), ("blob-b",))}, 2, {})
    folder.write_blob("blob-b", lambda write: write(b"B"))
    folder.commit(second)
    assert folder.manifest() == second
    assert folder.read_part(second.parts["p"]) == b"second"
    assert sorted(p.name for p in folder.parts_dir.iterdir()) == [second.parts["p"].file]
    assert sorted(p.name for p in folder.blobs_dir.iterdir()) == ["blob-b"]
    assert not list(folder.path.glob("*.tmp"))


def test_no_manifest_is_no_state(tmp_path):
    assert StateFolder(tmp_path / "nothing").manifest() is None


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda folder, part: (folder.parts_dir / part.file).write_bytes(b"changed"), "does not match its checksum"),
        (lambda folder, part: (folder.parts_dir / part.file).unlink(), "cannot read"),
        (lambda folder, part: (folder.blobs_dir / "blob-a").unlink(), r"S3 object file\(s\) missing"),
        (lambda folder, part: (folder.path / "manifest.json").write_text("{"), "cannot read"),
        (lambda folder, part: (folder.path / "manifest.json").write_text("[]"), "is not a state manifest"),
    ],
    ids=["changed-part", "missing-part", "missing-blob", "broken-manifest", "not-a-manifest"],
)
def test_damage_is_refused_naming_the_file(tmp_path, damage, message):
    folder, manifest = folder_with(tmp_path, b"data", {"blob-a": b"A"})
    damage(folder, manifest.parts["moto.s3.models:s3_backends"])
    with pytest.raises(StateError, match=message):
        for part in (folder.manifest() or manifest).parts.values():
            folder.read_part(part)


CRASHING_WRITER = """
import sys, time
from pathlib import Path
from localaws.state.files import Manifest, Part, StateFolder
folder = StateFolder(Path(sys.argv[1])); folder.prepare()
generation = 0
while True:
    generation += 1
    blob = f"blob-{generation}"
    folder.write_blob(blob, lambda write: write(bytes([generation % 256]) * 200_000))
    part = Part(folder.write_part(str(generation).encode() * 50_000), (blob,))
    folder.commit(Manifest({"p": part}, generation, {}))
    print(generation, flush=True)
"""


def test_kill_9_at_any_moment_leaves_a_complete_state(tmp_path):
    """A writer committing in a loop is killed at five moments; each time the manifest names a complete
    generation (its part checks out, its blob is whole), never an older one than the last it reported."""
    state = tmp_path / "state"
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        writer = subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITER, str(state)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        writer.stdout.readline()  # it has committed once
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        reported = [int(line) for line in writer.stdout.read().split()]
        writer.wait()
        folder = StateFolder(state)
        manifest = folder.manifest()
        assert manifest is not None
        generation = manifest.saved_ms
        assert generation >= max(reported, default=0)
        assert folder.read_part(manifest.parts["p"]) == str(generation).encode() * 50_000
        assert (folder.blobs_dir / f"blob-{generation}").read_bytes() == bytes([generation % 256]) * 200_000


def make_key(name: str, value: bytes) -> FakeKey:
    return FakeKey(name, value, account_id="123456789012", region_name="us-east-1", bucket_name="b", version_id=name)


def save_and_load(tmp_path: Path, value: object) -> object:
    data, keys = pickling.dumps(value)
    blobs = tmp_path / "blobs"
    blobs.mkdir(exist_ok=True)
    for blob, key in keys.items():
        if (blobs / blob).exists():  # as the keeper does: a blob's bytes never change
            continue
        with (blobs / blob).open("wb") as file:
            pickling.copy_key_bytes(key, file.write)
    return pickling.loads(data, blobs)


def test_every_version_of_a_key_and_its_bytes_come_back(tmp_path):
    store = _VersionedKeyStore()
    store["video.mp4"] = make_key("v1", b"first version")
    store["video.mp4"] = make_key("v2", b"second version" * 1000)
    loaded = save_and_load(tmp_path, store)
    assert isinstance(loaded, _VersionedKeyStore)
    versions = loaded.getlist("video.mp4")
    assert [key.version_id for key in versions] == ["v1", "v2"]
    assert [key.value for key in versions] == [b"first version", b"second version" * 1000]
    assert versions[1].etag == store["video.mp4"].etag
    copy = save_and_load(tmp_path, loaded)  # a restored key is saved again under its blob, not re-read
    assert copy.getlist("video.mp4")[0].value == b"first version"  # type: ignore[attr-defined]


def test_a_keys_blob_is_written_once(tmp_path):
    key = make_key("v1", b"bytes")
    _, first = pickling.dumps([key])
    _, second = pickling.dumps([key])
    assert list(first) == list(second)


def test_locks_weak_dictionaries_and_lambda_defaultdicts(tmp_path):
    value = {
        "lock": threading.Lock(),
        "rlock": threading.RLock(),
        "condition": threading.Condition(),
        "aliases": defaultdict(lambda: {}, {"f": {"live": 1}}),
        "key": make_key("k", b"x"),
    }
    value["lock"].acquire()  # a held lock comes back free
    value["by_arn"] = weakref.WeakValueDictionary({"arn": value["key"]})
    loaded = save_and_load(tmp_path, value)
    assert isinstance(loaded, dict)
    assert loaded["lock"].acquire(blocking=False)
    with loaded["condition"]:
        loaded["condition"].notify_all()
    assert loaded["aliases"]["f"] == {"live": 1} and loaded["aliases"]["new"] == {}
    assert loaded["by_arn"]["arn"] is loaded["key"]


def test_a_defaultdict_factory_that_cannot_be_saved_is_named():
    with pytest.raises(Exception, match="cannot be saved"):
        pickling.dumps(defaultdict(lambda: 5))


@pytest.mark.parametrize(
    "method, query, changes",
    [
        ("GET", "", False),
        ("HEAD", "", False),
        ("GET", "Action=CreateQueue&QueueName=q", True),
        ("POST", "", True),
        ("PUT", "", True),
        ("DELETE", "", True),
    ],
)
def test_what_may_change_state(method, query, changes):
    assert changes_state({"REQUEST_METHOD": method, "QUERY_STRING": query}) is changes


def test_a_snapshot_waits_for_requests_and_a_long_poll_steps_out():
    gate = RequestGate()
    inside, release = threading.Event(), threading.Event()

    def request() -> None:
        with gate.request():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=request)
    thread.start()
    inside.wait(5)
    with gate.alone(timeout=0.1) as alone:
        assert not alone, "a request is inside: the snapshot lets it finish"
    release.set()
    thread.join()
    with gate.alone(timeout=1) as alone:
        assert alone

    waiting, resumed = threading.Event(), threading.Event()

    def long_poll() -> None:
        with gate.request():
            with gate.stepped_out():
                waiting.set()
                release.wait(5)
            resumed.set()

    release.clear()
    thread = threading.Thread(target=long_poll)
    thread.start()
    waiting.wait(5)
    with gate.alone(timeout=1) as alone:
        assert alone, "a request waiting inside moto does not hold snapshots off"
        release.set()
        assert not resumed.wait(0.2), "it comes back in only after the snapshot"
    thread.join(5)
    assert resumed.is_set()


def test_manifest_json_is_plain(tmp_path):
    folder, manifest = folder_with(tmp_path, b"data")
    raw = json.loads((folder.path / "manifest.json").read_text())
    assert raw["parts"]["moto.s3.models:s3_backends"]["file"] == manifest.parts["moto.s3.models:s3_backends"].file


def test_kms_keys_come_back_with_their_private_keys(tmp_path, monkeypatch):
    """moto's KMS keys hold a ``cryptography`` private key, which plain pickling refuses: the stack's
    key was never saved, and the snapshot thread retried for ever (pickling everything each time)."""
    boto3 = pytest.importorskip("boto3")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kms.models import kms_backends

    from tests.support.moto_inprocess import moto_kept

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with moto_kept():
        kms = boto3.client("kms", region_name="us-east-1")
        signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        sealed = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
        backend = kms_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        material = backend.keys[symmetric].key_material
        loaded = save_and_load(tmp_path, backend)
    keys = loaded.keys  # type: ignore[attr-defined]
    assert keys[signing].private_key.verify(b"m", signature, "ECDSA_SHA_256")
    assert sealed and keys[symmetric].key_material == material
