"""Face detection on one video with a deployed stack: python scripts/launch.py --help"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

try:
    from launcher.cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load (a second or two): nothing has started
    print("\ninterrupted before anything started", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
