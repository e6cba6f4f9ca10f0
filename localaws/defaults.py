"""The region and credentials a client uses with the local endpoint, defined once.

The endpoint, the deployer, the demo, the benchmarks and the tests read them from here; the README's
exports say the same. moto accepts any credentials: these only make clients sign their requests.
"""

from __future__ import annotations

from typing import Final, TypedDict

DEFAULT_REGION: Final = "us-east-1"
ACCESS_KEY_ID: Final = "testing"
SECRET_ACCESS_KEY: Final = "testing"


class Credentials(TypedDict):
    """boto3.client(...)'s credential keyword arguments."""

    aws_access_key_id: str
    aws_secret_access_key: str


DUMMY_CREDENTIALS: Final[Credentials] = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}


def client_environment(url: str) -> dict[str, str]:
    """What a user exports to point the AWS SDK and CLI at the endpoint (boto3 and the AWS CLI v1 read
    the region from AWS_DEFAULT_REGION only)."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }
