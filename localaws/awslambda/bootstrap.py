"""The worker process of a local Lambda function: one execution environment, reused while warm.

Started by ``runner.py`` as ``python bootstrap.py`` with the function's environment (the Lambda
variables, the function's own, and the local endpoint as ``AWS_ENDPOINT_URL``) and its unzipped code
as ``LAMBDA_TASK_ROOT``. It imports the handler once (the init phase), then answers invocations: one
JSON line in on stdin, one JSON line out on the original stdout. Whatever the handler prints goes to
stderr, which the runner logs, as Lambda sends it to CloudWatch Logs.

Like the managed Python runtime, it offers only the standard library and boto3 (with its own
dependencies); anything else must come in the function's zip. So a handler that imports a package
the runtime lacks fails here as it would on AWS, instead of quietly using the endpoint's virtualenv.

Standard library only: it runs before anything else is importable.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import logging
import os
import sys
import threading
import time
import traceback
from types import ModuleType
from typing import Any

# How often a worker checks that the endpoint that started it is still there.
PARENT_CHECK_SECONDS = 1.0

# What the managed Python runtime ships besides the standard library: boto3 and its dependencies.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})


class RuntimeOnlyFinder(importlib.abc.MetaPathFinder):
    """Refuses a top-level import that neither the runtime, the function's zip nor its layers provide.
    ``endpoint_packages``: names a layer stands for (runner.ENDPOINT_PACKAGES_FILE), imported from
    the endpoint's environment."""

    def __init__(
        self, task_root: str, layer_paths: tuple[str, ...] = (), endpoint_packages: frozenset[str] = frozenset()
    ) -> None:
        self._roots = [task_root, *layer_paths]
        self._endpoint_packages = endpoint_packages

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> None:
        if path is not None or fullname in RUNTIME_PACKAGES or fullname in sys.stdlib_module_names:
            return  # a submodule (its package was allowed), or the runtime's own
        if fullname in self._endpoint_packages:
            return  # a layer stands for it
        if importlib.machinery.PathFinder.find_spec(fullname, self._roots) is not None:
            return  # packaged with the function, or in one of its layers
        raise ModuleNotFoundError(
            f"No module named '{fullname}' (the Lambda Python runtime has only the standard library and "
            "boto3: package it in the function's zip or a layer)",
            name=fullname,
        )


class LambdaContext:
    """The context object a Python handler receives."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["LOCAL_LAMBDA_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _load_handler() -> Any:
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        raise InitError(
            _error(error, "Runtime.ImportModuleError"), f"Unable to import module '{module_name}'"
        ) from error
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError(
            {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'"},
            "Runtime.HandlerNotFound",
        )
    return handler


class InitError(Exception):
    def __init__(self, detail: dict[str, Any], message: str) -> None:
        super().__init__(message)
        self.detail = {**detail, "errorMessage": f"{message}: {detail.get('errorMessage', '')}".rstrip(": ")}
        self.detail.setdefault("errorType", "Runtime.ImportModuleError")


def _exit_with_parent(parent: int) -> None:
    """End this execution environment when the endpoint is gone, even in the middle of a handler (the
    endpoint killed outright cannot kill its workers; an idle worker would also see its stdin close)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def main() -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints join its logs on stderr
    sys.stdout = sys.stderr
    # As the managed runtime does: a handler on the root logger (its level left at WARNING), so a
    # function that sets its logger's level to INFO is heard.
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
    logging.getLogger().addHandler(log_handler)
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    layer_paths = tuple(filter(None, os.environ.get("LOCAL_LAMBDA_LAYER_PATHS", "").split(os.pathsep)))
    endpoint_packages = frozenset(filter(None, os.environ.get("LOCAL_LAMBDA_ENDPOINT_PACKAGES", "").split(",")))
    sys.path[0:0] = [task_root, *layer_paths]  # as Lambda's: the function's code, then /opt/python
    sys.meta_path.insert(0, RuntimeOnlyFinder(task_root, layer_paths, endpoint_packages))
    os.chdir(task_root)
    try:
        handler, init_error = _load_handler(), None
    except InitError as error:
        handler, init_error = None, error.detail
        print(f"[ERROR] {error.detail['errorType']}: {error.detail['errorMessage']}", file=sys.stderr)
    protocol.write(json.dumps({"ready": True}) + "\n")  # the init phase is over
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            response: dict[str, Any] = {"error": init_error}
        else:
            context = LambdaContext(request["request_id"], request["deadline_ms"])
            try:
                result = handler(request["event"], context)
            except Exception as error:
                traceback.print_exc()
                response = {"error": _error(error)}
            else:
                try:
                    response = {"result": json.loads(json.dumps(result))}
                except (TypeError, ValueError) as error:
                    response = {"error": _error(error, "Runtime.MarshalError")}
        sys.stderr.flush()
        protocol.write(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
