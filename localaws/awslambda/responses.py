"""Lambda's wire protocol (REST-JSON) for the operations this package serves: the event source
mappings, Invoke and the event invoke configs. Every other Lambda operation (the functions
themselves) goes to moto.

Errors are rendered as botocore reads them: the HTTP status, ``x-amzn-ErrorType`` and a JSON body
with ``__type`` and ``message``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID

from ..wsgi_body import TooDeep, check_json_depth, json_object_body, read_body
from .exceptions import InvalidParameterValueException, LambdaError
from .models import LambdaBackend
from .runner import UnsupportedRuntime

log = logging.getLogger(__name__)

API_VERSION_PREFIX = "/2015-03-31"
DEFAULT_REGION = "us-east-1"
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/lambda/")
_MAPPINGS = re.compile(rf"^{API_VERSION_PREFIX}/event-source-mappings/?(?P<uuid>[^/]*)$")
_INVOKE = re.compile(rf"^{API_VERSION_PREFIX}/functions/(?P<function>[^/]+)/invocations$")
# Put, Update (POST), Get, Delete; and List (``/list``). A later API version than the others.
_EVENT_INVOKE_CONFIG = re.compile(r"^/2019-09-25/functions/(?P<function>[^/]+)/event-invoke-config(?P<list>/list)?$")

StartResponse = Callable[..., Any]
Response = tuple[int, dict[str, str], bytes]


def signed_region(environ: dict[str, Any]) -> str | None:
    """The region of a request signed for Lambda, or None if it is not a Lambda request."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


def _json(status: int, body: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class LambdaApp:
    def __init__(self, backend: LambdaBackend) -> None:
        self.backend = backend

    @staticmethod
    def handles(environ: dict[str, Any]) -> bool:
        path = environ.get("PATH_INFO", "")
        return signed_region(environ) is not None and bool(
            _MAPPINGS.match(path) or _INVOKE.match(path) or _EVENT_INVOKE_CONFIG.match(path)
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        region = signed_region(environ) or DEFAULT_REGION
        try:
            status, headers, body = self._route(environ, region)
        except LambdaError as error:
            status, headers, body = _json(error.status, {"__type": error.code, "message": error.message})
            headers["x-amzn-ErrorType"] = error.code
        except Exception as error:  # never a bare traceback on the wire
            log.exception("Lambda request failed")
            status, headers, body = _json(500, {"__type": "ServiceException", "message": f"Internal error: {error}"})
            headers["x-amzn-ErrorType"] = "ServiceException"
        reason = {200: "OK", 202: "Accepted", 204: "No Content"}.get(status, "Error")
        start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]

    def _route(self, environ: dict[str, Any], region: str) -> Response:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        backend, account = self.backend, DEFAULT_ACCOUNT_ID
        invoke = _INVOKE.match(path)
        if invoke:
            return self._invoke(environ, unquote(invoke["function"]), region)
        config = _EVENT_INVOKE_CONFIG.match(path)
        if config:
            return self._event_invoke_config(environ, method, unquote(config["function"]), bool(config["list"]), region)
        mapping_uuid = unquote(_MAPPINGS.match(path)["uuid"])  # type: ignore[index]  # handles() matched
        if not mapping_uuid:
            if method == "POST":
                return _json(202, backend.create_event_source_mapping(_body(environ), region, account))
            query = _query(environ)
            mappings = backend.list_event_source_mappings(
                region, account, query.get("EventSourceArn"), query.get("FunctionName")
            )
            return _json(200, {"EventSourceMappings": mappings})
        if method == "GET":
            return _json(200, backend.get_event_source_mapping(mapping_uuid))
        if method == "PUT":
            return _json(202, backend.update_event_source_mapping(mapping_uuid, _body(environ), region, account))
        if method == "DELETE":
            return _json(202, backend.delete_event_source_mapping(mapping_uuid))
        raise InvalidParameterValueException(f"{method} is not an event source mapping operation")

    def _event_invoke_config(
        self, environ: dict[str, Any], method: str, function: str, listing: bool, region: str
    ) -> Response:
        backend, account = self.backend, DEFAULT_ACCOUNT_ID
        qualifier = _query(environ).get("Qualifier")
        if listing and method == "GET":  # at most one config: $LATEST's (no versions or aliases)
            configs = backend.list_event_invoke_configs(function, region, account)
            return _json(200, {"FunctionEventInvokeConfigs": configs})
        if listing:
            raise InvalidParameterValueException(f"{method} is not an event invoke config operation")
        if method == "PUT":
            return _json(200, backend.put_event_invoke_config(function, qualifier, _body(environ), region, account))
        if method == "POST":
            return _json(200, backend.update_event_invoke_config(function, qualifier, _body(environ), region, account))
        if method == "GET":
            return _json(200, backend.get_event_invoke_config(function, qualifier, region, account))
        if method == "DELETE":
            backend.delete_event_invoke_config(function, qualifier, region, account)
            return 204, {}, b""
        raise InvalidParameterValueException(f"{method} is not an event invoke config operation")

    def _invoke(self, environ: dict[str, Any], function: str, region: str) -> Response:
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        raw = read_body(environ)
        try:
            check_json_depth(raw)
            event = json.loads(raw) if raw else {}
        except TooDeep as error:
            raise InvalidParameterValueException(str(error)) from None
        except (ValueError, RecursionError):
            raise InvalidParameterValueException("Could not parse request body into json") from None
        if invocation_type == "DryRun":
            self.backend.function_spec(function, region, DEFAULT_ACCOUNT_ID)
            return 204, {}, b""
        try:
            if invocation_type == "Event":
                request_id = self.backend.invoke_async(function, event, region, DEFAULT_ACCOUNT_ID)
                return 202, {"x-amzn-RequestId": request_id}, b""
            result = self.backend.invoke(function, event, region, DEFAULT_ACCOUNT_ID)
        except UnsupportedRuntime as error:
            raise InvalidParameterValueException(str(error)) from None
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "x-amzn-RequestId": result.request_id,
        }
        if result.failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return 200, headers, json.dumps(result.error).encode()
        return 200, headers, json.dumps(result.payload).encode()


def _body(environ: dict[str, Any]) -> dict[str, Any]:
    return json_object_body(environ, InvalidParameterValueException)


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
