"""The endpoint's answer to a request for something it does not emulate: an AWS-shaped error that
names the service and operation, in the wire format the client's protocol parses, instead of an
HTML page with status 500.

HTTP 501 Not Implemented with the code ``NotImplemented`` (S3's code for the same meaning): botocore
raises it as a ``ClientError`` carrying the message and, since 501 is not a transient status, does
not retry it. The query and EC2 protocols (a form-encoded request) get the XML
``<ErrorResponse><Error>`` document their parsers read; every other request gets
``{"__type": ..., "message": ...}`` and the ``x-amzn-ErrorType`` header, which the AWS JSON and
REST-JSON parsers read. (The REST-XML services, S3, Route 53 and CloudFront, are all moto's.)
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

CODE = "NotImplemented"
STATUS = "501 Not Implemented"
# SigV4: Credential=<key>/<date>/<region>/<service>/aws4_request
_SIGNED_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[a-z0-9-]+/([a-z0-9-]+)/aws4_request")


def signed_service(environ: dict[str, Any]) -> str | None:
    """The service a SigV4-signed request is for (its signing name), or None if unsigned."""
    match = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


def operation_name(environ: dict[str, Any]) -> str | None:
    """The operation, where the request names it: ``X-Amz-Target``'s suffix, or a query ``Action``.
    Reading a form body here is safe: the request is answered here, not passed on."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rpartition(".")[2]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
        action = parse_qs(body).get("Action")
    return action[0] if action else None


def message(service: str, operation: str | None, emulated: str) -> str:
    what = f"{operation} ({service})" if operation else f"The service {service!r}"
    return f"{what} is not emulated by the local endpoint, which emulates {emulated}."


def respond(
    environ: dict[str, Any], start_response: Callable[..., Any], service: str, operation: str | None, emulated: str
) -> Iterable[bytes]:
    """The WSGI answer: the error in the wire format of the request's protocol."""
    return error(environ, start_response, STATUS, CODE, message(service, operation, emulated))


REASONS = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 501: "Not Implemented"}


def error(
    environ: dict[str, Any], start_response: Callable[..., Any], status: str | int, code: str, text: str
) -> Iterable[bytes]:
    """An AWS-shaped error in the wire format the request's protocol parses: S3's ``<Error>`` document
    for S3 (a request signed for S3, or an unsigned one that is neither JSON nor a form, as moto
    takes it for S3), the query protocol's ``<ErrorResponse>`` for a form, and otherwise the JSON
    protocols' ``__type`` body with the ``x-amzn-ErrorType`` header."""
    if isinstance(status, int):
        status = f"{status} {REASONS.get(status, 'Error')}"
    request_id = str(uuid.uuid4())
    content_type = environ.get("CONTENT_TYPE", "")
    service = signed_service(environ)
    is_json = "json" in content_type or "HTTP_X_AMZ_TARGET" in environ
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(text)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif service == "s3" or (service is None and not is_json):
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(text)}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        body = json.dumps({"__type": code, "message": text, "Message": text}).encode()
        headers = [("Content-Type", content_type or "application/json"), ("x-amzn-ErrorType", code)]
    start_response(status, [*headers, ("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)])
    return [body]
