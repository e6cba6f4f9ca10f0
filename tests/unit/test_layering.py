"""The dependency direction, the contract of who may import whom:

- the launcher and the emulator never import each other, the component imports neither, and what
  they share (``rekognition_limits``) imports none of them;
- ``launcher/jobs`` is Lambda-safe (the standard library, boto3/botocore, ``rekognition_limits``);
  ``launcher/functions`` adds only ``jobs``, but for the redactor, which adds ``redact`` (its own zip
  and layer); the batch never imports the single launch; the report
  never imports the batch, the single launch or the upload;
- the emulator's vision engine knows pixels, not the service layer; the endpoint package never
  imports the demo or the synthetic test media;
- no import circle anywhere, and no test module imports another.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"components", "launcher", "localaws", "rekognition_limits", "synthetic", "offline_demo"}
FORBIDDEN = {
    "launcher": {"localaws", "components", "synthetic", "offline_demo"},
    "localaws": {"launcher", "synthetic", "offline_demo"},
    "components": {"launcher", "localaws", "synthetic", "offline_demo"},
    "rekognition_limits": PROJECT_PACKAGES - {"rekognition_limits"},
    # The policy pack installs on its own (policy/requirements.txt): it imports none of the project.
    "policy": PROJECT_PACKAGES,
}
# What the Lambda Python runtime has besides the standard library (type stubs are read by mypy only).
LAMBDA_RUNTIME = {"boto3", "botocore", "rekognition_limits"}
# Subpackage rules: the modules of the key may import project modules only from the allowed prefixes
# (None: any), and never from the forbidden ones.
ALLOWED_INSIDE = {
    "launcher.jobs": ("launcher.jobs",),
    "launcher.functions": ("launcher.jobs", "launcher.functions"),
    # The redactor function ships with launcher/redact and a layer of PyAV, NumPy and Pillow.
    "launcher.functions.redactor": ("launcher.jobs", "launcher.functions", "launcher.redact"),
    # Lambda's asynchronous-invocation rules (config limits, when to retry): pure, on Lambda's errors only.
    "localaws.awslambda.event_invoke": ("localaws.awslambda.exceptions",),
    # The emotion model knows a face's box and pixels, and nothing else of the emulator (but how to
    # reinstall it, in the words every bundled model's error uses).
    "localaws.vision.emotions": ("localaws.vision.face", "localaws.vision.installation"),
    "localaws.vision.installation": (),
    # Signal handlers set for a while (local.py's, the in-process deployer's): nothing of the emulator.
    "localaws.signals": (),
    # The face mesh knows a face's box, its five points and pixels (the upright crop is the human
    # check's), and nothing else of the emulator; what its points measure is ``mesh_landmarks``',
    # which works on the points alone, with the pose fit and the expressions' measures it shares with
    # the 68-point model (``landmarks``).
    "localaws.vision.face_mesh": ("localaws.vision.face", "localaws.vision.humans", "localaws.vision.installation"),
    "localaws.vision.mesh_landmarks": ("localaws.vision.landmarks",),
    # The registry of landmark models names each model's modules, and nothing else of the emulator.
    "localaws.vision.landmark_models": (
        "localaws.vision.face",
        "localaws.vision.face_mesh",
        "localaws.vision.landmarks",
        "localaws.vision.mesh_landmarks",
    ),
    # Standard output as a terminal command sees it: the standard library only.
    "launcher.terminal": (),
    # The head renderer is the truth the emulator's pose is measured against: geometry and pixels,
    # no project module (least of all the estimator it judges).
    "synthetic.head_render": (),
}
FORBIDDEN_INSIDE = {
    "launcher.batch": ("launcher.single", "launcher.cli", "launcher.report"),
    "launcher.report": ("launcher.batch", "launcher.single", "launcher.upload", "launcher.cli", "launcher.options"),
    "launcher.jobs": ("launcher.functions",),
    # Redaction serves the single launch and the batch alike, from their results: it imports neither.
    "launcher.redact": (
        "launcher.batch",
        "launcher.single",
        "launcher.cli",
        "launcher.upload",
        "launcher.options",
        "launcher.functions",
    ),
    # Cuts and people (PyAV, NumPy, dlib): used by the single launch and the batch, using neither.
    "launcher.people": (
        "launcher.single",
        "launcher.cli",
        "launcher.batch",
        "launcher.options",
        "launcher.report.html",
    ),
    "localaws.vision": ("localaws.rekognition", "localaws.awslambda", "localaws.deploy", "localaws.endpoint"),
    # The endpoint's state keeping knows moto and the disk, not the services it saves (they hand it values).
    "localaws.state": (
        "localaws.rekognition",
        "localaws.awslambda",
        "localaws.deploy",
        "localaws.vision",
        "localaws.endpoint",
        "localaws.status",
    ),
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, known: set[str]) -> Iterator[str]:
    """The project modules a module imports (relative imports resolved, ``from package import module``
    read as the module), wherever the import sits."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target
                break


def modules(package: str) -> list[Path]:
    single = ROOT / f"{package}.py"
    return [single] if single.exists() else sorted((ROOT / package).rglob("*.py"))


def project_graph() -> dict[str, set[str]]:
    paths = [path for package in sorted(PROJECT_PACKAGES | {"policy"}) for path in modules(package)]
    known = {module_name(path) for path in paths}
    return {module_name(path): set(project_imports(path, known)) for path in paths}


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


@pytest.mark.parametrize("package", ["launcher.jobs", "launcher.functions"])
def test_the_lambda_code_imports_only_what_the_lambda_runtime_has(package: str) -> None:
    paths = sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
    assert paths
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in imported_packages(path)
        if name not in sys.stdlib_module_names
        and name not in LAMBDA_RUNTIME | {"launcher"}
        and not name.startswith("mypy_boto3_")  # type stubs, under TYPE_CHECKING
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("package", sorted(set(ALLOWED_INSIDE) | set(FORBIDDEN_INSIDE)))
def test_subpackages_import_only_what_their_layer_may(package: str) -> None:
    graph = project_graph()
    allowed = ALLOWED_INSIDE.get(package)
    forbidden = FORBIDDEN_INSIDE.get(package, ())
    narrower = [key for key in ALLOWED_INSIDE if key.startswith(f"{package}.")]  # a module with rules of its own
    inside = {
        name: targets
        for name, targets in graph.items()
        if (name == package or name.startswith(f"{package}."))
        and not any(name == key or name.startswith(f"{key}.") for key in narrower)
    }
    assert inside, f"no modules in {package}"
    wrong = set()
    for name, targets in inside.items():
        for target in targets:
            outside = allowed is not None and not target.startswith(allowed) and target != "rekognition_limits"
            if outside or target.startswith(forbidden):
                wrong.add(f"{name} imports {target}")
    assert not wrong, sorted(wrong)


def test_no_import_circle() -> None:
    graph = project_graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            # a package's __init__ importing its own modules is how packages re-export, not a circle
            if node.startswith(f"{target}.") or target.startswith(f"{node}."):
                continue
            if state.get(target) == 1:
                circles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, circles


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support (or conftest fixtures), so each test module stands alone."""
    wrong = set()
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import | ast.ImportFrom) else []
            for target in [module or "", *names]:
                if target.rpartition(".")[2].startswith("test_") or ".test_" in target:
                    wrong.add(f"{path.relative_to(ROOT)} imports {target}")
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


def test_the_graph_resolves_relative_imports() -> None:
    graph = project_graph()
    assert "launcher.jobs.errors" in graph["launcher.jobs.detection"]
    assert "launcher.jobs.notifications" in graph["launcher.batch.scheduler"]
