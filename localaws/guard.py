"""What the endpoint lets in, checked before any service sees a request (docs/security.md).

The endpoint runs code (Lambda functions) and reads and writes files for whoever reaches it, with no
real authentication: it must answer this machine's own tools only. A web page the developer opens
can reach 127.0.0.1 too, in two ways, and both are refused here:

- **From its own origin** (``fetch`` from ``https://evil.example`` to ``http://127.0.0.1:4566``): the
  browser sends an ``Origin`` header (and, in current browsers, ``Sec-Fetch-Site``). A request that
  carries either, from an origin not given with ``serve --allow-origin``, gets 403, whatever its
  method; so do CORS preflights. No CORS header is ever sent but to an allowed origin (moto's
  server allows every origin by default: ``disable_moto_cors``).
- **Through DNS rebinding** (``evil.example`` made to resolve to 127.0.0.1, so that the page's
  requests are "same-origin"): the browser then sends ``Host: evil.example:4566``. Only the
  endpoint's own names pass: ``localhost`` (and its subdomains, which resolve to loopback), loopback
  addresses, the address it is bound to (any IP address when bound to all of them: an address
  literal cannot be rebound), each with the endpoint's port.

Then limits no client of this machine needs to pass: a signature's region must be one botocore
knows (each region has its own backends in moto, and its own clients in the emulator), and a JSON
body may nest ``MAX_JSON_DEPTH`` levels.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable
from functools import cache
from io import BytesIO
from typing import Any
from urllib.parse import unquote

import botocore.session
from moto.moto_server import werkzeug_app

from . import not_emulated
from .wsgi_body import MAX_JSON_DEPTH, json_depth, too_deep_message

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
# What a browser page may read from an allowed origin's responses: the request ids and the S3 headers
# a client reads (ETag, versions).
EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-id-2, x-amzn-RequestId, x-amz-version-id, x-amzn-ErrorType"
PREFLIGHT_MAX_AGE = "600"
# SigV4: Credential=<key>/<date>/<region>/<service>/aws4_request, in the header or a presigned URL.
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data."""
    data = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def disable_moto_cors() -> None:
    """moto's server wraps each service's app in flask-cors with every origin allowed (its
    ``MOTO_DISABLE_GLOBAL_CORS`` setting, read once at import). Apps made after this have none."""
    werkzeug_app.DISABLE_GLOBAL_CORS = True


def signed_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, service) of a SigV4 signature (in the header or a presigned URL), or None if unsigned."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _CREDENTIAL_SCOPE.search(
        "Credential=" + _query_credential(environ)
    )
    return (match.group(1), match.group(2)) if match else None


def _query_credential(environ: dict[str, Any]) -> str:
    for part in environ.get("QUERY_STRING", "").split("&"):
        name, _, value = part.partition("=")
        if name == "X-Amz-Credential":
            return unquote(value)
    return ""


def split_host(host: str) -> tuple[str, int | None]:
    """``Host``'s name (lower case, without a final dot or IPv6 brackets) and port (None if absent)."""
    host = host.strip().lower()
    port: int | None = None
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    else:
        name, colon, digits = host.rpartition(":")
        if not colon:
            name = host
        elif digits.isdigit():
            port = int(digits)
        else:
            name = host  # not a port: an invalid name, refused below
    return name.removesuffix("."), port


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class RequestGuard:
    """WSGI middleware: refuses what is not this machine's own tools, then passes the rest to ``app``."""

    def __init__(self, app: App, bound_host: str, port: Callable[[], int], allow_origins: Collection[str] = ()) -> None:
        self._app = app
        self._bound_host = bound_host.lower().strip("[]")
        self._port = port
        self._allow_any_origin = "*" in allow_origins
        self._allow_origins = frozenset(origin.rstrip("/").lower() for origin in allow_origins if origin != "*")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refusal = self._host_refusal(environ.get("HTTP_HOST"))
        if refusal:
            return not_emulated.error(environ, start_response, 403, "AccessDenied", refusal)
        origin = environ.get("HTTP_ORIGIN")
        browser = origin is not None or environ.get("HTTP_SEC_FETCH_SITE") in ("cross-site", "same-site")
        if browser and not self._origin_allowed(origin):
            return not_emulated.error(
                environ,
                start_response,
                403,
                "AccessDenied",
                f"Requests from web pages ({'Origin ' + origin if origin else 'a cross-site request'}) are refused "
                "by the local endpoint; allow an origin with: scripts/local.py serve --allow-origin <origin>",
            )
        if browser and environ.get("REQUEST_METHOD") == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return self._preflight(environ, start_response)
        scope = signed_scope(environ)
        if scope is not None and scope[0] not in known_regions():
            region, service = scope
            text = f"Credential should be scoped to a valid region, not {region!r} (not an AWS region botocore knows)."
            if service == "s3":
                return not_emulated.error(environ, start_response, 400, "AuthorizationHeaderMalformed", text)
            code = "SignatureDoesNotMatch" if _is_form(environ) else "InvalidSignatureException"
            return not_emulated.error(environ, start_response, 403, code, text)
        if "json" in environ.get("CONTENT_TYPE", "") and environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
            depth = json_depth(body)
            if depth > MAX_JSON_DEPTH:
                return not_emulated.error(
                    environ, start_response, 400, "SerializationException", too_deep_message(depth)
                )
            environ["wsgi.input"] = BytesIO(body)
        return self._app(environ, self._cors_headers(origin if browser else None, start_response))

    # -- who may call ----------------------------------------------------------------------------

    def _host_refusal(self, host: str | None) -> str | None:
        if host is None:  # HTTP/1.0 without Host: not a browser, which always sends it
            return None
        name, port = split_host(host)
        own_port = self._port()
        if (port or 80) != own_port or not self._own_name(name):
            return (
                f"Host {host!r} is not the local endpoint's own address (localhost, a loopback address or "
                f"{self._bound_host or 'its bound address'}, port {own_port}): refused (DNS rebinding)"
            )
        return None

    def _own_name(self, name: str) -> bool:
        if name == "localhost" or name.endswith(".localhost") or name == self._bound_host:
            return True
        address = _ip(name)
        if address is None:
            return False
        return address.is_loopback or self._bound_host in WILDCARD_HOSTS or address == _ip(self._bound_host)

    def _origin_allowed(self, origin: str | None) -> bool:
        if self._allow_any_origin:
            return True
        return origin is not None and origin.rstrip("/").lower() in self._allow_origins

    def _preflight(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """A CORS preflight from an allowed origin: answered here, for any method and header."""
        headers = [
            ("Access-Control-Allow-Origin", environ["HTTP_ORIGIN"]),
            ("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE, PATCH"),
            ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*")),
            ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
            ("Vary", "Origin"),
            ("Content-Length", "0"),
        ]
        start_response("200 OK", headers)
        return [b""]

    def _cors_headers(self, origin: str | None, start_response: StartResponse) -> StartResponse:
        """``start_response`` with every CORS header dropped, and for an allowed origin, ours added."""

        def respond(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            if origin is not None:
                kept += [
                    ("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
                    ("Vary", "Origin"),
                ]
            return start_response(status, kept, *exc_info)

        return respond


def _is_form(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
