"""Rekognition's wire protocol (AWS JSON 1.1) as a WSGI app: parse, call the backend, render.

``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>``; errors are HTTP 400 (500 for
InternalServerError) with ``{"__type": "<ExceptionName>", "Message": "..."}``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from ..defaults import DEFAULT_REGION
from ..wsgi_body import json_object_body
from .exceptions import InternalServerError, InvalidParameterException, RekognitionError
from .models import RekognitionBackend

log = logging.getLogger(__name__)

TARGET_PREFIX = "RekognitionService."
OPERATIONS = ("StartFaceDetection", "GetFaceDetection")
HANDLED_TARGETS = frozenset(TARGET_PREFIX + operation for operation in OPERATIONS)
CONTENT_TYPE = "application/x-amz-json-1.1"
# SigV4: Credential=<key>/<date>/<region>/<service>/aws4_request
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/rekognition/")

StartResponse = Callable[..., Any]


def request_region(environ: dict[str, Any]) -> str:
    """The region the client signed for: Rekognition works in the region it is called in."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else DEFAULT_REGION


class RekognitionApp:
    def __init__(self, backend: RekognitionBackend) -> None:
        self.backend = backend

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "")[len(TARGET_PREFIX) :]
        try:
            self.backend.faults.raise_for(operation)
            request = json_object_body(environ, InvalidParameterException)
            if operation == "StartFaceDetection":
                body = self.backend.start_face_detection(request, request_region(environ), DEFAULT_ACCOUNT_ID)
            else:
                body = self.backend.get_face_detection(request)
            status = "200 OK"
        except RekognitionError as error:
            body, status = {"__type": error.code, "Message": error.message}, f"{error.status} Error"
        except Exception as error:  # never a bare traceback on the wire
            log.exception("%s failed", operation)
            failure = InternalServerError(f"Internal error: {error}")
            body, status = {"__type": failure.code, "Message": failure.message}, "500 Internal Server Error"
        payload = json.dumps(body).encode()
        start_response(
            status,
            [
                ("Content-Type", CONTENT_TYPE),
                ("Content-Length", str(len(payload))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [payload]
