"""The local AWS endpoint: python scripts/local.py {serve,deploy,destroy} --help"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from localaws.cli import main

if __name__ == "__main__":
    sys.exit(main())
