"""The functions' code imports only what the Lambda Python runtime has (the standard library and boto3),
checked with the local runtime's own import guard over the very zip the component uploads."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from components.auto_processing import function_package
from localaws.awslambda import bootstrap
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
