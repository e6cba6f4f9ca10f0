"""Run the component or the whole program under Pulumi's mocks and record what it declares."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from localaws.deploy import program as pulumi_program

from .support import REGION, ROOT, Declared, run_body


@pytest.fixture
def run_component() -> Callable[..., Declared]:
    """Declare a FaceDetectionPipeline with the given args and record it."""
    from components import FaceDetectionPipeline, FaceDetectionPipelineArgs

    def run(name: str = "faces", args: FaceDetectionPipelineArgs | None = None) -> Declared:
        return run_body(lambda: FaceDetectionPipeline(name, args or {}), config={"aws:region": REGION})

    return run


@pytest.fixture
def run_program() -> Callable[..., Declared]:
    """Run the project's __main__.py with the given stack config and record it."""

    def run(config: dict[str, str] | None = None) -> Declared:
        return run_body(pulumi_program.main_program(ROOT), config)

    return run


@pytest.fixture
def failed_deployment() -> Iterator[None]:
    """For a test whose deployment fails on purpose. Pulumi leaves futures holding the error; collect
    them when the test ends, so their finalizers do not run inside a later test's allocations (seen once
    inside ast.parse: "SystemError: AST constructor recursion depth mismatch", CPython 3.11)."""
    yield
    gc.collect()
