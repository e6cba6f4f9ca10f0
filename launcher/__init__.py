"""The launcher: scripts/launch.py --help."""

__version__ = "0.1.0"
