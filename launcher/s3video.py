"""An S3 object version as Rekognition reads it, and the ``s3://`` URIs that name one. Standard library
only (no video or progress-bar libraries), so the start logic runs where only boto3 is installed (an
AWS Lambda function)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import BadInput


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
