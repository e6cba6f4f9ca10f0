"""Regenerate components/schema.json from the code: make schema (a unit test fails when they differ)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/schema.py",
        description=__doc__ + "\n\nWrites components/schema.json; takes no options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.parse_args()  # --help answers before anything is written

    from components.provider import SCHEMA_FILE, schema_text

    SCHEMA_FILE.write_text(schema_text())
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
