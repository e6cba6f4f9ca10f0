"""Reading a request body in the endpoint's WSGI apps (our Rekognition and Lambda services), and the
JSON nesting limit every JSON request is checked against (``guard.py``, before any service parses it).

Python's JSON parser recurses once per level and gives up with RecursionError near 1,000 levels,
which a service would report as an internal error (HTTP 500). AWS documents no nesting limit for its
JSON protocols; no request of a service the endpoint answers comes near ``MAX_JSON_DEPTH`` (a Lambda
event is the deepest, and 64 levels is far beyond any AWS event source's), so a deeper body is the
client's error: HTTP 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_JSON_DEPTH = 64
# A JSON string, escapes included (possessive, so a long string costs one pass); what remains of a
# body once strings are removed has its brackets only where they nest.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class TooDeep(ValueError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH``."""


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar), read without parsing it:
    strings are skipped, so a bracket inside one does not count. An unbalanced text gets the depth
    its opening brackets reach; the parser then reports it as invalid."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def too_deep_message(depth: int) -> str:
    return f"The request body nests JSON {depth} levels deep; the local endpoint accepts at most {MAX_JSON_DEPTH}."


def check_json_depth(body: bytes) -> None:
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise TooDeep(too_deep_message(depth))


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def json_object_body(environ: dict[str, Any], invalid: Callable[[str], Exception]) -> dict[str, Any]:
    """The body as a JSON object; anything else raises ``invalid(message)``, the service's own
    parameter error (each service names it differently)."""
    body = read_body(environ)
    try:
        check_json_depth(body)
        request = json.loads(body or b"{}")
    except TooDeep as error:
        raise invalid(str(error)) from None
    except (ValueError, RecursionError):
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(request, dict):
        raise invalid("The request body must be a JSON object.")
    return request
