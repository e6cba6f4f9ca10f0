"""The functions' code imports only what the Lambda Python runtime has (the standard library and boto3),
checked with the local runtime's own import guard over the package the component uploads."""

import shutil
import subprocess
import sys
from pathlib import Path

from localaws.awslambda import bootstrap

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import sys
sys.path.insert(0, {runtime_dir!r})
import bootstrap
sys.path.insert(0, {task_root!r})
sys.meta_path.insert(0, bootstrap.RuntimeOnlyFinder({task_root!r}))
import launcher.starter, launcher.collector
try:
    import launcher.video
except ModuleNotFoundError as error:
    print("refused", error.name)
"""


def test_handlers_import_with_only_the_runtimes_packages(tmp_path):
    task_root = tmp_path / "task"
    shutil.copytree(ROOT / "launcher", task_root / "launcher", ignore=shutil.ignore_patterns("__pycache__"))
    script = CHECK.format(runtime_dir=str(Path(bootstrap.__file__).parent), task_root=str(task_root))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused av"  # the guard works: PyAV is not in the runtime
