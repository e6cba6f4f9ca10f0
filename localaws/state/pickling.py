"""Pickling moto's backends for the state snapshots: what plain ``pickle`` cannot do with them.

- Locks and conditions (an SQS queue's ``Condition``, per-object locks) are saved as new, free ones:
  a lock's state means nothing in another process.
- A ``defaultdict`` whose factory is a lambda making an empty container (moto's Lambda aliases:
  ``defaultdict(lambda: {})``) is saved with that container's type as its factory.
- Weak dictionaries (moto's Lambda backend keeps one of its functions by ARN) are saved with their
  items; the functions they point to are saved anyway, so the restored dictionary holds the same ones.
- A bucket's keys (``_VersionedKeyStore``) are saved with every version: its ``items()`` gives only
  the latest one, which is all plain pickling would save.
- A private key made with ``cryptography`` (each of moto's KMS keys holds one, an RSA key even for a
  symmetric key) is saved as its PKCS#8 DER bytes and loaded back from them: without this no KMS key
  (the stack's SNS topic key) could be saved, every snapshot failed on it, and the snapshot thread
  pickled every backend again each second and a half, closing the request gate each time, for as
  long as the endpoint ran.
- An S3 object's bytes (``FakeKey``) are not in the pickle: each object gets a blob name once, its
  bytes go to a file of that name (``blobs/``) written once, and the restored object reads that file
  (``BlobFile``) instead of holding a copy in memory. moto never writes an object's buffer after
  creating it (``FakeKey.value`` is set in its constructor and in ``__setstate__`` only), so a blob
  never goes stale; a copy of an object (``copy.deepcopy``) shares its blob name and its bytes.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import threading
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

BLOB_ATTRIBUTE = "_localaws_blob"  # set on each FakeKey once it has a blob name
_SKIPPED = frozenset({"_value_buffer", "lock", BLOB_ATTRIBUTE})
_PRIVATE_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)


class BlobFile(io.RawIOBase):
    """A read-only stand-in for a restored S3 object's buffer: opens its blob file for each read, so
    that thousands of restored objects hold no file descriptors and no memory."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            self._position = self.path.stat().st_size + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of closed file")
        with self.path.open("rb") as blob:
            blob.seek(self._position)
            data = blob.read() if size is None or size < 0 else blob.read(size)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _new_lock() -> Any:
    return threading.Lock()


def _new_rlock() -> Any:
    return threading.RLock()


def _new_condition() -> threading.Condition:
    return threading.Condition()


def _default_dict(factory: Any, items: dict[Any, Any]) -> defaultdict[Any, Any]:
    return defaultdict(factory, items)


def _reduce_default_dict(d: defaultdict[Any, Any]) -> tuple[Any, ...]:
    factory = d.default_factory
    if factory is not None and getattr(factory, "__name__", "") == "<lambda>":
        made = factory()
        if type(made) not in (dict, list, set) or made:
            raise pickle.PicklingError(f"a defaultdict's factory {factory!r} cannot be saved")
        factory = type(made)
    return _default_dict, (factory, dict(d))


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _weak_keys(items: dict[Any, Any]) -> weakref.WeakKeyDictionary[Any, Any]:
    return weakref.WeakKeyDictionary(items)


def _private_key(der: bytes) -> Any:
    return serialization.load_der_private_key(der, password=None)


def _reduce_private_key(key: Any) -> tuple[Any, ...]:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _private_key, (der,)


def _versioned_store(
    cls: type[_VersionedKeyStore], lists: dict[str, list[Any]], attributes: dict[str, Any]
) -> _VersionedKeyStore:
    store = cls()
    for name, versions in lists.items():
        dict.__setitem__(store, name, versions)
    store.__dict__.update(attributes)
    return store


def rebuild_key(blob: str, state: dict[str, Any]) -> FakeKey:
    """Only for the pickle's reference: ``SnapshotUnpickler`` hands out one bound to its blob folder."""
    raise RuntimeError("a FakeKey is restored by SnapshotUnpickler only")


def _restore_key(blob_dir: Path, blob: str, state: dict[str, Any]) -> FakeKey:
    key = cast(FakeKey, FakeKey.__new__(FakeKey))  # as unpickling makes it (moto tracks its instances)
    # A read-only buffer (see BlobFile), a new lock, and the blob name, so its bytes are not saved again.
    key.__dict__.update(state, _value_buffer=BlobFile(blob_dir / blob), lock=threading.Lock())
    key.__dict__[BLOB_ATTRIBUTE] = blob
    return key


class SnapshotPickler(pickle.Pickler):
    """Collects the S3 objects it meets in ``keys`` (blob name -> object), for their bytes to be saved."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[type(threading.Lock())] = lambda _: (_new_lock, ())
    dispatch_table[type(threading.RLock())] = lambda _: (_new_rlock, ())
    dispatch_table[threading.Condition] = lambda _: (_new_condition, ())
    dispatch_table[defaultdict] = _reduce_default_dict
    dispatch_table[weakref.WeakValueDictionary] = lambda d: (_weak_values, (dict(d.items()),))
    dispatch_table[weakref.WeakKeyDictionary] = lambda d: (_weak_keys, (dict(d.items()),))

    def __init__(self, file: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.keys: dict[str, FakeKey] = {}

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _VersionedKeyStore):
            return _versioned_store, (type(obj), {name: list(v) for name, v in dict.items(obj)}, vars(obj))
        if isinstance(obj, _PRIVATE_KEYS):  # Rust-backed classes: the dispatch table cannot name them
            return _reduce_private_key(obj)
        if type(obj) is not FakeKey:
            return NotImplemented
        blob = obj.__dict__.get(BLOB_ATTRIBUTE)
        if blob is None:
            blob = uuid.uuid4().hex
            setattr(obj, BLOB_ATTRIBUTE, blob)
        self.keys[blob] = obj
        state = {name: value for name, value in obj.__dict__.items() if name not in _SKIPPED}
        return rebuild_key, (blob, state)


class SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, blob_dir: Path) -> None:
        super().__init__(file)
        self._blob_dir = blob_dir

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == rebuild_key.__name__:
            blob_dir = self._blob_dir

            def rebuild(blob: str, state: dict[str, Any]) -> FakeKey:
                return _restore_key(blob_dir, blob, state)

            return rebuild
        return super().find_class(module, name)


def dumps(obj: Any) -> tuple[bytes, dict[str, FakeKey]]:
    """The pickle, and the S3 objects (by blob name) whose bytes it refers to."""
    buffer = io.BytesIO()
    pickler = SnapshotPickler(buffer)
    pickler.dump(obj)
    return buffer.getvalue(), pickler.keys


def loads(data: bytes, blob_dir: Path) -> Any:
    return SnapshotUnpickler(io.BytesIO(data), blob_dir).load()


def copy_key_bytes(key: FakeKey, write: Callable[[bytes], Any], chunk: int = 8 * 1024 * 1024) -> None:
    """Copy an S3 object's bytes, under its lock as moto reads them (ValueError if it was deleted)."""
    with key.lock:
        buffer = key._value_buffer
        buffer.seek(0)
        while block := buffer.read(chunk):
            write(block)
