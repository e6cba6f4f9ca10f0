"""Request validation from botocore's own service model: the limits, patterns and enums the real
service enforces (botocore's client checks only types and required members)."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StringShape, StructureShape

from .exceptions import InvalidParameterException


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("rekognition")


@cache
def operation_model(operation: str) -> OperationModel:
    return service_model().operation_model(operation)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def validate_request(operation: str, request: Any) -> None:
    """Raise InvalidParameterException naming the first member that breaks the model."""
    input_shape = operation_model(operation).input_shape
    assert input_shape is not None, f"{operation} takes no input"
    validate_shape(input_shape, request)


def _fail(path: str, problem: str) -> None:
    raise InvalidParameterException(f"{path or 'request'}: {problem}")


def validate_shape(shape: Shape, value: Any, path: str = "") -> None:
    """Raise InvalidParameterException if ``value`` (a request, a response, or a part at ``path``)
    breaks ``shape``."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            _fail(path, "must be an object")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            _fail(f"{path}.{unknown[0]}".lstrip("."), "is not a member of " + shape.name)
        for name in shape.required_members:
            if value.get(name) is None:
                _fail(f"{path}.{name}".lstrip("."), "is required")
        for name, member_value in value.items():
            if member_value is not None:
                validate_shape(shape.members[name], member_value, f"{path}.{name}".lstrip("."))
    elif isinstance(shape, StringShape):
        if not isinstance(value, str):
            _fail(path, "must be a string")
        _check_range(shape, len(value), path, "length")
        if shape.enum and value not in shape.enum:
            _fail(path, f"{value!r} is not one of {', '.join(shape.enum)}")
        pattern = shape.metadata.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            _fail(path, f"{value!r} does not match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, "must be an integer")
        _check_range(shape, value, path, "value")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(path, "must be a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            _fail(path, "must be true or false")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            _fail(path, "must be a list")
        _check_range(shape, len(value), path, "length")
        for index, item in enumerate(value):
            validate_shape(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            _fail(path, "must be an object")
        for key, item in value.items():
            validate_shape(shape.key, key, f"{path}.{key}")
            validate_shape(shape.value, item, f"{path}.{key}")


def _check_range(shape: Shape, measured: int, path: str, what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measured < low:
        _fail(path, f"{what} {measured} is below the minimum {low}")
    if high is not None and measured > high:
        _fail(path, f"{what} {measured} is above the maximum {high}")
