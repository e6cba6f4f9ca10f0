"""A video in S3 as Rekognition reads it: one object version. Parsed from ``s3://bucket/key[?versionId=...]``
or from an S3 event, and pinned to a version. Standard library and botocore only: the serverless
functions use it too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
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
        raise BadInput(f"{uri!r} is not an S3 video URI: write s3://bucket/key or s3://bucket/key?versionId=ID")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"versionId"}
    if unknown or any(len(v) != 1 or not v[0] for v in query.values()):
        raise BadInput(f"{uri!r}: the only query parameter an S3 video URI takes is one versionId=ID")
    return S3Video(parts.netloc, key, query.get("versionId", [None])[0])


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
