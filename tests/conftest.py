"""For every test: the processes tests start can be interrupted as a terminal's would be, and nothing
reaches real AWS."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.support.no_real_aws import real_aws_blocked

# A shell runs a background job (``make test &``, a CI step without a terminal) with SIGINT ignored,
# and an ignored signal stays ignored across fork and exec: a launcher a test starts would then get
# no KeyboardInterrupt from the Ctrl-C the test sends it, and wait on. Caught here instead, SIGINT is
# back to its default in every child (exec resets a caught signal), as in a terminal's foreground job.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def no_real_aws() -> Iterator[None]:
    """Every test, and every process a test starts with this environment, uses dummy credentials and no
    AWS profile or config file; in this process an AWS hostname does not resolve
    (``tests/support/no_real_aws.py``)."""
    with real_aws_blocked():
        yield
