"""moto mocked inside the test process without wiping what moto already holds there.

``mock_aws()`` resets every moto backend of the process when it starts and again when it stops. The
integration and e2e tests run the local endpoint inside the pytest process (a thread serving moto),
and pytest-xdist may give one worker a unit module that mocks AWS as well as modules that use that
endpoint: the reset wiped the endpoint's state, and a bucket created a moment before answered
NoSuchBucket (seen in CI). Tests that need moto in-process use ``moto_kept()`` instead, with names of
their own (``tests.support.aws.unique``), since what they create is not wiped either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto import mock_aws


@contextmanager
def moto_kept() -> Iterator[None]:
    """``mock_aws`` that neither resets moto's backends when it starts nor removes their data when
    it stops."""
    mock = mock_aws()
    mock.start(reset=False)
    try:
        yield
    finally:
        mock.stop(remove_data=False)
