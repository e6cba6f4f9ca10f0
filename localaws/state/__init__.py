"""The endpoint's state kept across restarts (``keeper.py``), on disk (``files.py``), pickled (``pickling.py``)."""

from .files import StateError
from .keeper import Restored, StateKeeper, changes_state

__all__ = ["Restored", "StateError", "StateKeeper", "changes_state"]
