"""Face detection on one video with a deployed stack: python scripts/launch.py --help"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from launcher.cli import main

if __name__ == "__main__":
    sys.exit(main())
