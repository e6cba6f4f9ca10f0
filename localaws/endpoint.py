"""One local endpoint for the whole stack: moto answers S3, SNS, SQS, IAM, STS and CloudWatch Logs; our
emulator answers Rekognition's StartFaceDetection and GetFaceDetection; moto keeps Lambda functions
and ``awslambda`` runs them, with their SQS event source mappings. Any other Rekognition operation,
or a service moto does not know, gets an AWS-shaped "not emulated" error (``not_emulated.py``). Point
any AWS client at it with ``AWS_ENDPOINT_URL=http://127.0.0.1:<port>``."""

from __future__ import annotations

import functools
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from io import BytesIO
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, get_sockaddr, make_server, select_address_family

from . import moto_fixes, not_emulated
from .awslambda.models import LambdaBackend, LambdaSettings
from .awslambda.responses import LambdaApp
from .clients import ClientFactory, local_client
from .defaults import DEFAULT_REGION
from .guard import RequestGuard, disable_moto_cors
from .rekognition.models import EmulatorSettings, RekognitionBackend
from .rekognition.responses import HANDLED_TARGETS, OPERATIONS, TARGET_PREFIX, RekognitionApp
from .state.keeper import NotingChanges, Restored, StateKeeper
from .status import STATUS_PATH, StatusApp
from .vision.detector import FaceDetector
from .wsgi_body import read_body

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
# A connection that sends nothing for this long (between requests, or within one) is closed: an idle
# or half-sent request holds a server thread until then.
READ_TIMEOUT_SECONDS = 60.0
# The emulator's own clients of the endpoint (one per service and region it is called in), made from
# one shared botocore session (about 0.5 MB each); the least recently used beyond this are dropped.
MAX_CACHED_CLIENTS = 32
EMULATED = (
    f"Rekognition's {' and '.join(OPERATIONS)}, Lambda, and through moto S3, SNS, SQS, IAM, STS, CloudWatch"
    " Logs and the other services moto implements"
)


class _RequestHandler(MotoRequestHandler):
    """moto's request handler with a read timeout (``timeout``, set per endpoint): a connection idle
    that long is closed, which is routine for a client's pooled connection, so not logged as an error."""

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            log.debug("closed a connection idle for %s s", self.timeout)
            return
        super().log_error(format, *args)


@functools.lru_cache(maxsize=64)
def _service_model(signing_name: str) -> ServiceModel | None:
    """botocore's model of the service a request is signed for, where its name is the signing name."""
    try:
        return botocore.session.get_session().get_service_model(signing_name)
    except UnknownServiceError:
        return None


def unknown_operation(environ: dict[str, Any]) -> str | None:
    """The target of a JSON-protocol request that names no operation of the service it is signed for
    (in botocore's model), else None."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    service = not_emulated.signed_service(environ)
    model = _service_model(service) if target and service else None
    if model is None or not model.metadata.get("targetPrefix"):
        return None
    prefix, _, operation = target.rpartition(".")
    if prefix == model.metadata["targetPrefix"] and operation in model.operation_names:
        return None
    return target


def _check_can_listen(host: str, port: int) -> None:
    """OSError (EADDRINUSE, or socket.gaierror for an unknown host) unless ``host:port`` can be bound
    now, exactly as werkzeug's server will bind it (its choice of address family and address; address
    reuse on, so a port in TIME_WAIT is not taken for busy)."""
    family = select_address_family(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(get_sockaddr(host, port, family))


class LocalEndpoint:
    """The endpoint, served from a background thread; use as a context manager or start()/stop().

    ``allow_origins``: the browser origins whose pages may call it (none by default; ``guard.py``).
    """

    def __init__(
        self,
        settings: EmulatorSettings,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        detector: FaceDetector | None = None,
        allow_origins: Collection[str] = (),
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.settings = settings
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._clients_lock = threading.Lock()
        self._handler = type("RequestHandler", (_RequestHandler,), {"timeout": read_timeout})
        moto_fixes.apply()
        disable_moto_cors()
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._app = RequestGuard(self._dispatch, host, self._server_port, allow_origins)
        # One line per request is noise here; set the "werkzeug" logger to INFO to see them.
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            werkzeug_log.setLevel(logging.WARNING)
        self.rekognition = RekognitionBackend(settings, self.client, detector)
        self._rekognition_app = RekognitionApp(self.rekognition)
        self.awslambda = LambdaBackend(LambdaSettings(settings.data_dir / "lambda"), self.client, lambda: self.url)
        self._lambda_app = LambdaApp(self.awslambda)
        self.state: StateKeeper | None = None  # keep_state() turns it on
        self._restored: Restored | None = None
        self._status_app = StatusApp(settings.data_dir, self.rekognition.store, lambda: self.state)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the endpoint is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host  # an IPv6 address, as a URL writes it
        return f"http://{host}:{self._server.server_port}"

    def _server_port(self) -> int:
        if self._server is None:
            raise RuntimeError("the endpoint is not started")
        return self._server.server_port

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in HANDLED_TARGETS:
            return self._rekognition_app(environ, start_response)
        if unknown_operation(environ):
            service = not_emulated.signed_service(environ)
            text = f"The operation {target!r} is not an operation of {service}."
            return not_emulated.error(environ, start_response, 400, "UnknownOperationException", text)
        if target.startswith(TARGET_PREFIX):  # moto's canned Rekognition answers would mislead
            operation = target[len(TARGET_PREFIX) :]
            return not_emulated.respond(environ, start_response, "rekognition", operation, EMULATED)
        if LambdaApp.handles(environ):
            return self._lambda_app(environ, start_response)
        if environ.get("PATH_INFO") == STATUS_PATH:
            return self._status_app(environ, start_response)
        service = not_emulated.signed_service(environ)
        if service is not None and not self._moto_serves(environ):
            operation = not_emulated.operation_name(environ)
            return not_emulated.respond(environ, start_response, service, operation, EMULATED)
        return self._moto_answer(environ, start_response)

    def _moto_answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """moto's answer, except for an exception in moto or its HTML error page: an operation moto
        does not implement is "not emulated" (501, as ``not_emulated.py`` answers), anything else an
        AWS-shaped InternalFailure (500) that names the operation."""
        answer: list[Any] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer[:] = [status, headers, exc_info]
            return lambda data: None  # moto's Flask apps return their body; they never write it

        service = not_emulated.signed_service(environ) or "s3"  # moto takes an unsigned request for S3's
        form = b""
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form = read_body(environ)  # kept, to name the operation if moto fails
            environ["wsgi.input"] = BytesIO(form)

        def operation() -> str:
            return not_emulated.operation_name({**environ, "wsgi.input": BytesIO(form)}) or environ["REQUEST_METHOD"]

        try:
            body = self._moto(environ, hold)
        except NotImplementedError:  # moto's Flask apps let exceptions through (debug mode)
            return not_emulated.respond(environ, start_response, service, operation(), EMULATED)
        except Exception as error:
            log.exception("moto failed on %s (%s)", operation(), service)
            text = f"{operation()} ({service}) failed inside the local endpoint (moto): {error}"
            return not_emulated.error(environ, start_response, 500, "InternalFailure", text)
        status, headers, exc_info = answer
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        if status.startswith("5") and content_type.startswith("text/html"):
            if hasattr(body, "close"):
                body.close()
            text = f"{operation()} ({service}) failed inside the local endpoint (moto); its log has the details."
            return not_emulated.error(environ, start_response, status, "InternalFailure", text)
        start_response(status, headers, exc_info)
        return body

    def _moto_serves(self, environ: dict[str, Any]) -> bool:
        """Whether moto has a backend for this signed request (as its own dispatcher decides)."""
        host = self._moto.infer_service_region_host(environ, environ.get("PATH_INFO", ""))
        return host is None or any(
            host == name or pattern.match(f"http://{host}") for name, pattern in self._moto.backend_url_patterns
        )

    def start(self) -> LocalEndpoint:
        """Serve; OSError if the address cannot be listened on (werkzeug itself would print two lines
        and exit the process when the port is taken)."""
        _check_can_listen(self._host, self._port)
        self._server = make_server(self._host, self._port, self._app, threaded=True, request_handler=self._handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-endpoint", daemon=True)
        self._thread.start()
        self._start_keeping_state()
        resumed = self.rekognition.resume_interrupted()
        if resumed:
            log.info("resumed %d interrupted face-detection job(s)", len(resumed))
        return self

    def stop(self) -> None:
        """Stop the Lambda pollers and workers, then the face-detection workers (an unfinished job resumes
        at the next start), then stop serving: all of them reach the services through this very endpoint."""
        self.awslambda.shutdown()
        self.rekognition.shutdown()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self.state is not None:
            self.state.stop()  # nothing serves any more: the last save is complete

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def keep_state(self) -> LocalEndpoint:
        """Keep moto's services and the event source mappings under the data dir (``state/``) across
        restarts: restore the saved state now, before ``start()``, and save changes from then on. Raises
        ``StateError`` for a saved state it cannot read. One endpoint per process may (moto's state is global)."""
        self.state = StateKeeper(self.settings.data_dir / "state", self.awslambda.saved_mappings)
        self._restored = self.state.restore()
        # Requests into moto pass the gate that keeps snapshots between them; our Lambda app only says
        # what changed (an invocation runs for minutes and calls this endpoint).
        # (the wrapper stands in for each: same call, other attributes passed through)
        self._moto = NotingChanges(self._moto, self.state, gated=True)  # type: ignore[assignment]
        self._lambda_app = NotingChanges(self._lambda_app, self.state, gated=False)  # type: ignore[assignment]
        return self

    def _start_keeping_state(self) -> None:
        if self.state is None or self._restored is None:
            return
        self.awslambda.restore_mappings(self._restored.mappings)
        self.state.start()
        if self._restored.parts:
            log.info("state restored from %s (saved at %d ms)", self.state.folder.path, self._restored.saved_ms)

    def clients_in(self, region: str) -> ClientFactory:
        """This endpoint's clients, in ``region`` unless a call names another (the deployer's view)."""

        def client(service: str, region_name: str = region) -> Any:
            return self.client(service, region_name)

        return client

    def client(self, service: str, region_name: str = DEFAULT_REGION) -> Any:
        """A boto3 client of this endpoint (cached, ``MAX_CACHED_CLIENTS`` at most: boto3 clients are
        thread-safe, and one dropped from the cache still serves whoever holds it)."""
        key = (service, region_name)
        with self._clients_lock:
            if key in self._clients:
                self._clients.move_to_end(key)
            else:
                self._clients[key] = local_client(service, self.url, region_name, Config(retries={"mode": "standard"}))
                while len(self._clients) > MAX_CACHED_CLIENTS:
                    self._clients.popitem(last=False)
            return self._clients[key]
