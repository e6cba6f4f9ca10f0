"""A video in S3 as Rekognition reads it: one object version. Parsed from ``s3://bucket/key[?versionId=...]``
or from an S3 event, and pinned to a version. Standard library and botocore only: the serverless
functions use it too."""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.exceptions import ClientError

from .errors import BadInput, error_code, from_client_error

if TYPE_CHECKING:  # type stubs only: not needed at run time (nor in the Lambda runtime)
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef


@dataclass(frozen=True)
class S3Video:
    """An object version Rekognition will read."""

    bucket: str
    key: str
    version: str | None

    def as_s3_object(self) -> dict[str, str]:
        s3_object = {"Bucket": self.bucket, "Name": self.key}
        if self.version:
            s3_object["Version"] = self.version
        return s3_object

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" + (f"?versionId={self.version}" if self.version else "")


def is_s3_uri(video: str) -> bool:
    """A malformed s3:/ URI is refused as a URI, not looked for as a local path."""
    return video.lower().startswith("s3:")


def parse_s3_uri(uri: str) -> S3Video:
    parts = urlsplit(uri)
    key = unquote(parts.path.lstrip("/"))
    if parts.scheme != "s3" or not parts.netloc or not key or parts.fragment:
        raise BadInput(
            f"{uri!r} is not an S3 video URI: write s3://bucket/key or s3://bucket/key?versionId=ID{_escapes(uri)}"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"versionId"}
    if unknown or any(len(v) != 1 or not v[0] for v in query.values()):
        raise BadInput(f"{uri!r}: the only query parameter an S3 video URI takes is one versionId=ID{_escapes(uri)}")
    return S3Video(parts.netloc, key, query.get("versionId", [None])[0])


def _escapes(uri: str) -> str:
    """How to write a key with #, ? or % in it, when the URI has one (a URI's key is percent-decoded)."""
    return " (in a key, write # as %23, ? as %3F and % as %25)" if any(c in uri for c in "#?%") else ""


def head_object(s3: S3Client, video: S3Video) -> HeadObjectOutputTypeDef | None:
    """The object version's metadata, or None if it does not exist."""
    try:
        if video.version:
            return s3.head_object(Bucket=video.bucket, Key=video.key, VersionId=video.version)
        return s3.head_object(Bucket=video.bucket, Key=video.key)
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound") or (
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        ):
            return None
        raise from_client_error(error, f"reading {video.uri}") from None


def pin_s3_video(s3: S3Client, video: S3Video) -> S3Video:
    """The URI's object must exist; without a versionId, pin the version that is current now."""
    head = head_object(s3, video)
    if head is None:
        raise BadInput(f"{video.uri} does not exist (or you may not read it)")
    return S3Video(video.bucket, video.key, video.version or head.get("VersionId"))


def job_video(header: Any, video: str) -> S3Video | None:
    """The S3 object version a job read, from its results' ``Video`` member (a local file's upload is
    pinned there), else the video argument if it is an s3:// URI; None for a local file the results
    do not name."""
    s3_object = header.get("Video", {}).get("S3Object", {})
    if s3_object:
        return S3Video(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"))
    return parse_s3_uri(video) if is_s3_uri(video) else None


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only file over one S3 object version, read in ``block_size`` ranges with a
    small cache of recent blocks: PyAV reads the index (often at the end of an MP4) and the frames
    it decodes, and nothing else is fetched."""

    def __init__(self, s3: S3Client, video: S3Video, block_size: int = 1024**2, cached_blocks: int = 16) -> None:
        super().__init__()
        self._s3, self._video = s3, video
        if video.version:
            head = s3.head_object(Bucket=video.bucket, Key=video.key, VersionId=video.version)
        else:
            head = s3.head_object(Bucket=video.bucket, Key=video.key)
        self.size = int(head["ContentLength"])
        self._block_size, self._cached_blocks = block_size, cached_blocks
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._position = 0
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self._position)
        done = 0
        while done < wanted:
            number, offset = divmod(self._position, self._block_size)
            block = self._block(number)
            chunk = block[offset : offset + wanted - done]
            if not chunk:
                break
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._position += len(chunk)
        return done

    def _block(self, number: int) -> bytes:
        if number in self._blocks:
            self._blocks.move_to_end(number)
            return self._blocks[number]
        first = number * self._block_size
        last = min(self.size, first + self._block_size) - 1
        video, wanted = self._video, f"bytes={first}-{last}"
        if video.version:
            response = self._s3.get_object(Bucket=video.bucket, Key=video.key, VersionId=video.version, Range=wanted)
        else:
            response = self._s3.get_object(Bucket=video.bucket, Key=video.key, Range=wanted)
        data = response["Body"].read()
        self.bytes_fetched += len(data)
        self._blocks[number] = data
        if len(self._blocks) > self._cached_blocks:
            self._blocks.popitem(last=False)
        return data
