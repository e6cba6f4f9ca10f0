"""The endpoint's state kept across restarts: ``keeper.py`` (when and what to save, the restore),
``files.py`` (the folder on disk, all or nothing), ``pickling.py`` (moto's values)."""
