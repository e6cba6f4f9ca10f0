"""One local endpoint for the whole stack: moto answers S3, SNS, SQS, IAM, STS and CloudWatch Logs; our
emulator answers Rekognition's StartFaceDetection and GetFaceDetection; moto keeps Lambda functions
and ``awslambda`` runs them, with their SQS event source mappings. Any other Rekognition operation,
or a service moto does not know, gets an AWS-shaped "not emulated" error (``not_emulated.py``). Point
any AWS client at it with ``AWS_ENDPOINT_URL=http://127.0.0.1:<port>``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import moto_fixes, not_emulated
from .awslambda.models import LambdaBackend, LambdaSettings
from .awslambda.responses import LambdaApp
from .clients import ClientFactory, local_client
from .defaults import DEFAULT_REGION
from .rekognition.models import EmulatorSettings, RekognitionBackend
from .rekognition.responses import HANDLED_TARGETS, OPERATIONS, TARGET_PREFIX, RekognitionApp
from .state.keeper import NotingChanges, Restored, StateKeeper
from .status import STATUS_PATH, StatusApp
from .vision.detector import FaceDetector

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
EMULATED = (
    f"Rekognition's {' and '.join(OPERATIONS)}, Lambda, and through moto S3, SNS, SQS, IAM, STS, CloudWatch"
    " Logs and the other services moto implements"
)


class LocalEndpoint:
    """The endpoint, served from a background thread; use as a context manager or start()/stop()."""

    def __init__(
        self,
        settings: EmulatorSettings,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        detector: FaceDetector | None = None,
    ) -> None:
        self.settings = settings
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        moto_fixes.apply()
        self._moto = DomainDispatcherApplication(create_backend_app)
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
        return f"http://{self._host}:{self._server.server_port}"

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in HANDLED_TARGETS:
            return self._rekognition_app(environ, start_response)
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
        return self._moto(environ, start_response)

    def _moto_serves(self, environ: dict[str, Any]) -> bool:
        """Whether moto has a backend for this signed request (as its own dispatcher decides)."""
        host = self._moto.infer_service_region_host(environ, environ.get("PATH_INFO", ""))
        return host is None or any(
            host == name or pattern.match(f"http://{host}") for name, pattern in self._moto.backend_url_patterns
        )

    def start(self) -> LocalEndpoint:
        self._server = make_server(
            self._host, self._port, self._dispatch, threaded=True, request_handler=MotoRequestHandler
        )
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
        """A boto3 client of this endpoint (cached: boto3 clients are thread-safe)."""
        key = (service, region_name)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = local_client(service, self.url, region_name, Config(retries={"mode": "standard"}))
            return self._clients[key]
