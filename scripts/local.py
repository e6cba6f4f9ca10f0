"""The local AWS endpoint: python scripts/local.py {serve,deploy,destroy} --help"""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

# SIGTERM as Ctrl-C from the start (main() then takes it likewise, serve its own way), not a silent end.
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    from localaws.cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load (a second or two): nothing has started
    print("\ninterrupted before anything started", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    code = main()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # all is done: no KeyboardInterrupt while the process exits
    sys.exit(code)
