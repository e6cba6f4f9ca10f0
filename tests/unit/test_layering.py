"""The dependency direction: the launcher and the emulator never import each other, the component
imports neither, and what they share (``rekognition_limits``) imports none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"components", "launcher", "localaws", "rekognition_limits"}
FORBIDDEN = {
    "launcher": {"localaws", "components"},
    "localaws": {"launcher"},
    "components": {"launcher", "localaws"},
    "rekognition_limits": PROJECT_PACKAGES - {"rekognition_limits"},
    # The policy pack installs on its own (policy/requirements.txt): it imports none of the project.
    "policy": PROJECT_PACKAGES,
}


def imported_packages(path: Path) -> set[str]:
    """The top-level names of every absolute import in a module, wherever it sits (function bodies
    and ``if TYPE_CHECKING:`` blocks included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules(package: str) -> list[Path]:
    single = ROOT / f"{package}.py"
    return [single] if single.exists() else sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_in_the_wrong_direction(package: str) -> None:
    found = modules(package)
    assert found, f"no modules found for {package}"
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in found
        for name in imported_packages(path) & FORBIDDEN[package]
    }
    assert not wrong, sorted(wrong)


def test_the_scan_sees_nested_and_type_checking_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from launcher.aws import Clients\n"
        "def f():\n    import localaws.endpoint\n"
        "from . import sibling\n"
    )
    assert imported_packages(module) == {"typing", "launcher", "localaws"}
