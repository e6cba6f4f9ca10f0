"""The whole flow offline, end to end: python scripts/demo.py --help (or: make demo)"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from offline_demo.run import main

if __name__ == "__main__":
    sys.exit(main())
