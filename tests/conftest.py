"""For every test: the processes tests start can be interrupted as a terminal's would be."""

from __future__ import annotations

import signal

# A shell runs a background job (``make test &``, a CI step without a terminal) with SIGINT ignored,
# and an ignored signal stays ignored across fork and exec: a launcher a test starts would then get
# no KeyboardInterrupt from the Ctrl-C the test sends it, and wait on. Caught here instead, SIGINT is
# back to its default in every child (exec resets a caught signal), as in a terminal's foreground job.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
