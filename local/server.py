"""moto in server mode on loopback: the local AWS that every client (boto3, aws CLI) talks to."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local.emulator import (
    enforce_post_policies,
    evaluate_bucket_policy_conditions,
    transactions_cost_what_they_touch,
)

HOST = "127.0.0.1"
# moto accepts any credentials; these never leave the machine.
LOCAL_KEY_ID = LOCAL_SECRET = "local"  # noqa: S105 - not a secret: moto takes any


def local_client(service: str, endpoint_url: str, region: str) -> Any:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=LOCAL_KEY_ID, aws_secret_access_key=LOCAL_SECRET, region_name=region
    )
    return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (for tests and benchmarks that start clouds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class PortInUseError(RuntimeError):
    pass


def ensure_port_free(port: int, host: str = HOST) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server will: a port a previous run just closed (TIME_WAIT) is free to reuse.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} on {host} is already in use; stop whatever listens there "
                f"(another `python -m local up`?) or pass --port"
            ) from None


class _OneRequestAtATime:
    """AWS applies each request atomically; moto's backends do not lock (see local/emulator.py)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.RLock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            # Materialise the body inside the lock: moto may build it lazily from backend state.
            return list(self._app(environ, start_response))


class MotoServer:
    def __init__(self, port: int, host: str = HOST) -> None:
        ensure_port_free(port, host)
        evaluate_bucket_policy_conditions(secure_transport=True)
        enforce_post_policies()
        transactions_cost_what_they_touch()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
        self.host, self.port = host, port
        app = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            host, port, _OneRequestAtATime(app), threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        self._thread.start()
        self.reset()
        return self

    def reset(self) -> None:
        """Forget every resource: moto keeps its backends per process, not per server."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback endpoint
            pass

    def stop(self) -> None:
        self.reset()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
