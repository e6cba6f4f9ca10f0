"""A unit test that mocks AWS in-process must not wipe the local endpoint running in the same process
(pytest-xdist may put both on one worker): ``mock_aws()`` does, ``tests.support.moto_inprocess.moto_kept``
does not. Each case runs in a process of its own, since the wipe would reach this worker's endpoint."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.support.aws import ROOT

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    import boto3
    from localaws.endpoint import LocalEndpoint
    from localaws.rekognition.models import EmulatorSettings
    from tests.support.moto_inprocess import moto_kept
    from moto import mock_aws

    mocked = moto_kept if sys.argv[1] == "moto_kept" else mock_aws
    with tempfile.TemporaryDirectory() as folder:
        with LocalEndpoint(EmulatorSettings(data_dir=Path(folder)), port=0) as endpoint:
            endpoint.client("s3").create_bucket(Bucket="kept")
            with mocked():
                boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="a-unit-test-s")
            names = [bucket["Name"] for bucket in endpoint.client("s3").list_buckets()["Buckets"]]
    print("kept" in names)
    """
)


@pytest.mark.parametrize("mocked, kept", [("moto_kept", True), ("mock_aws", False)])
def test_moto_kept_leaves_the_in_process_endpoint_s_buckets(mocked, kept):
    done = subprocess.run([sys.executable, "-c", SCRIPT, mocked], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(kept)
