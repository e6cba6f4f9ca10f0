# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint demo bench schema redactor-layer

venv: $(STAMP)

# Rebuilt whenever a requirements file changes.
$(STAMP): requirements.txt requirements-local.txt requirements-detector.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-detector.txt
	touch $(STAMP)

# Two test workers a core: most tests spend their time waiting on an endpoint or a process, not on a
# core. A test module stays on one worker, so its module-scoped fixtures (a deployed stack, the truth
# clips) are made once. TEST_WORKERS=0 runs them in this one process (for a debugger); the slowest are
# listed at the end.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=10

# Settings in pyproject.toml. CI runs this before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The whole flow offline: local endpoint, deploy, sample video, launcher, pictures in demo-output/.
demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) bench/emulator_speed.py
	$(PY) bench/detector_recall.py
	$(PY) bench/launcher_overhead.py
	$(PY) bench/auto_process.py
	$(PY) bench/batch.py
	$(PY) bench/shared_queue.py
	$(PY) bench/appearances.py
	$(PY) bench/redaction.py
	$(PY) bench/no_freeze.py

# The component's package schema (components/schema.json), inferred from its type annotations.
schema: $(STAMP)
	$(PY) scripts/schema.py

# The redactor function's layer (redact: true): PyAV, NumPy and Pillow for Lambda's python3.12 on
# x86_64, from pinned, hashed wheels; build/redactor-layer.zip. Publish it with
# `$(PY) scripts/redactor_layer.py publish --bucket BUCKET` (docs/redaction.md).
redactor-layer: $(STAMP)
	$(PY) scripts/redactor_layer.py build
