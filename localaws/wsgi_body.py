"""Reading a request body in the endpoint's WSGI apps (our Rekognition and Lambda services)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def json_object_body(environ: dict[str, Any], invalid: Callable[[str], Exception]) -> dict[str, Any]:
    """The body as a JSON object; anything else raises ``invalid(message)``, the service's own
    parameter error (each service names it differently)."""
    try:
        request = json.loads(read_body(environ) or b"{}")
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(request, dict):
        raise invalid("The request body must be a JSON object.")
    return request
