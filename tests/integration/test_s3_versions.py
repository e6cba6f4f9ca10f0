"""Object versions on the local endpoint's S3, where moto differs from AWS (localaws/moto_fixes.py)."""

from __future__ import annotations

import uuid


def test_a_bucket_with_delete_markers_empties_after_its_versioning_is_suspended(aws):
    """As ``pulumi destroy`` empties a forceDestroy bucket: versioning suspended first, then every
    version and delete marker deleted by ID. moto failed with an internal error on the marker."""
    s3, name = aws("s3"), f"versions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="results/a.redacted.mp4", Body=b"copy")
    s3.delete_object(Bucket=name, Key="results/a.redacted.mp4")  # a delete marker on top
    s3.put_object(Bucket=name, Key="results/b.json", Body=b"{}")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    listing = s3.list_object_versions(Bucket=name)
    found = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in listing["Versions"] + listing["DeleteMarkers"]]
    assert len(found) == 3
    answer = s3.delete_objects(Bucket=name, Delete={"Objects": found, "Quiet": True})
    assert answer.get("Errors", []) == []
    after = s3.list_object_versions(Bucket=name)
    assert after.get("Versions", []) == [] and after.get("DeleteMarkers", []) == []
    s3.delete_bucket(Bucket=name)
