"""The functions' code imports only what the Lambda Python runtime has (the standard library and boto3),
checked with the local runtime's own import guard over the very zip the component uploads."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import scripts.redactor_layer as layer  # a script module: argparse and the standard library at import
from components import auto_processing
from components.auto_processing import function_package
from localaws.awslambda import bootstrap
from localaws.awslambda.runner import REDACTOR_LAYER_PACKAGES  # the endpoint's stand-in
from localaws.deploy import archives

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
sys.path.insert(0, {runtime_dir!r})
import bootstrap
sys.path.insert(0, {task_root!r})
sys.meta_path.insert(0, bootstrap.RuntimeOnlyFinder({task_root!r}))
import launcher.functions.starter, launcher.functions.collector
try:
    import av
except ModuleNotFoundError as error:
    print("refused", error.name)
"""


def test_handlers_import_with_only_the_runtimes_packages(tmp_path):
    task_root = tmp_path / "task"
    package = archives.build_zip(archives.describe(function_package()))
    zipfile.ZipFile(io.BytesIO(package)).extractall(task_root)
    script = CHECK.format(runtime_dir=str(Path(bootstrap.__file__).parent), task_root=str(task_root))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused av"  # the guard works: PyAV is not in the runtime


def test_the_package_holds_the_core_and_the_functions_only():
    """jobs/, functions/ and the service's limits: no CLI, batch scheduler, report or upload code."""
    package = zipfile.ZipFile(io.BytesIO(archives.build_zip(archives.describe(function_package()))))
    names = set(package.namelist())
    assert {"launcher/functions/starter.py", "launcher/functions/collector.py", "launcher/jobs/detection.py"} <= names
    assert {"launcher/__init__.py", "launcher/jobs/__init__.py", "launcher/functions/__init__.py"} <= names
    allowed = ("launcher/jobs/", "launcher/functions/")
    extra = {name for name in names if not name.startswith(allowed)} - {"launcher/__init__.py", "rekognition_limits.py"}
    assert not extra, sorted(extra)
    assert all(name.endswith(".py") for name in names)


REDACTOR_CHECK = """
import sys
sys.path.insert(0, {runtime_dir!r})
import bootstrap
sys.path.insert(0, {task_root!r})
sys.meta_path.insert(0, bootstrap.RuntimeOnlyFinder({task_root!r}, (), frozenset({packages!r})))
try:
    import launcher.functions.redactor
    from launcher.redact.audit import load_detector
    try:
        print("imported", load_detector("auto").name.split()[0])
    except Exception as error:  # BadInput: none installed; it names each refusal
        print("refused", "yuface" if "No module named 'yuface'" in str(error) else error)
except ModuleNotFoundError as error:
    print("refused", error.name)
"""


def redactor_import(tmp_path: Path, packages: tuple[str, ...]) -> str:
    task_root = tmp_path / "task"
    package = archives.build_zip(archives.describe(function_package(redactor=True)))
    zipfile.ZipFile(io.BytesIO(package)).extractall(task_root)
    script = REDACTOR_CHECK.format(
        runtime_dir=str(Path(bootstrap.__file__).parent), task_root=str(task_root), packages=set(packages)
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_redactor_imports_with_its_layer_and_not_without(tmp_path):
    """Its zip and the layer's three packages are enough; without the layer, PyAV is refused. The
    audit finds no detector there (the endpoint's RetinaFace and OpenCV are not in the zip, and
    libfacedetection is not in the layer), and with yuface beside it, uses that one."""
    assert redactor_import(tmp_path / "with", ("av", "numpy", "PIL")) == "refused yuface"
    assert redactor_import(tmp_path / "yuface", ("av", "numpy", "PIL", "yuface")) == "imported yuface"
    assert redactor_import(tmp_path / "without", ()) == "refused av"


def test_the_redactors_package_adds_the_redaction_and_the_thumbnails_only():
    package = zipfile.ZipFile(io.BytesIO(archives.build_zip(archives.describe(function_package(redactor=True)))))
    names = set(package.namelist())
    light = set(zipfile.ZipFile(io.BytesIO(archives.build_zip(archives.describe(function_package())))).namelist())
    assert "launcher/functions/redactor.py" not in light  # the light functions never carry it
    assert names - light == {
        "launcher/functions/redactor.py",
        "launcher/report/__init__.py",
        "launcher/report/thumbnails.py",
        *(f"launcher/redact/{path.name}" for path in (ROOT / "launcher" / "redact").glob("*.py")),
    }
    assert light < names and all(name.endswith(".py") for name in names)


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            found[name.strip().lower()] = version.split()[0].rstrip("\\")
    return found


def test_the_layer_pins_the_launchers_versions_each_by_hash_for_the_functions_runtime():
    """The layer holds the very versions the launcher (and the local endpoint's stand-in) runs, for
    the redactor's runtime and architecture."""
    layer_pins = pins(ROOT / "requirements-redactor-layer.txt")
    assert set(layer_pins) == {"av", "numpy", "pillow"}
    assert set(REDACTOR_LAYER_PACKAGES) == {"av", "numpy", "PIL"}  # the same packages, as imported
    assert {name: pins(ROOT / "requirements.txt")[name] for name in layer_pins} == layer_pins
    text = (ROOT / "requirements-redactor-layer.txt").read_text()
    assert text.count("--hash=sha256:") == len(layer_pins)
    assert f"python{layer.PYTHON_VERSION}" == auto_processing.RUNTIME
    assert auto_processing.ARCHITECTURE == layer.ARCHITECTURE
    command = layer.install_command(Path("/target"))
    assert {"--require-hashes", "--only-binary=:all:", "--no-deps"} <= set(command)
    assert command[command.index("--python-version") + 1] == "3.12"
