"""HTTPS server, dispatch, request and access logs, and the public ``Emulator``."""

from __future__ import annotations

import collections
import datetime as _dt
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Sequence, TextIO
from urllib.parse import parse_qs, urlsplit

from .assertions import Certificates, ClientAuthenticator, FederatedIssuer
from .config import DEFAULT_FEDERATED_SUBJECT, DEFAULT_ROLES, Config
from .control import ControlSurface
from .credentials_kit import CredentialHelpers, read_certificate_files
from .graph import GraphApi, GraphError, odata_error
from .identity import FEDERATED_TOKEN_PATH, IdentityEndpoints
from .jws import RsaSigner
from .pipeline import Context, Pipeline, Request, Response
from .store import KeySetStore
from .sts import App, TokenService
from .tls import LOOPBACK_NAMES, make_tls_files, server_context

DEFAULT_TENANT_DOMAIN = "contoso.onmicrosoft.com"
MAX_BODY = 1 << 20
MAX_LOGGED_REQUESTS = 100_000
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], family: int, context: ssl.SSLContext,
                 dispatch: Callable[["_Handler", Request], Response]):
        self.address_family = family
        self.ssl_context, self.dispatch = context, dispatch
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake on the request thread, so a stalled client blocks no one."""
        request.settimeout(10)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._open_lock:
            self._open.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def close_connections(self) -> None:
        with self._open_lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "b2ckeys-emulator"
    sys_version = ""
    timeout = 30
    server: _TlsServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: the stdlib line would carry the query string; we log our own."""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        cid = self.headers.get("client-request-id") or str(uuid.uuid4())
        req = Request(self.command, split.path or "/",
                      parse_qs(split.query, keep_blank_values=True), self.headers, b"",
                      client_request_id=cid)
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if self.headers.get("Transfer-Encoding") or not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            answer = Response.json(413 if length.isdigit() else 411,
                                   {"error": {"code": "BadRequest", "message":
                                              "A body needs a Content-Length of at most 1 MiB."}})
        else:
            req.body = self.rfile.read(int(length))
            answer = self.server.dispatch(self, req)
        if answer.drop:
            self.close_connection = True
            return
        self.send_response(answer.status)
        headers = {**answer.headers, "request-id": req.request_id,
                   "client-request-id": req.client_request_id}
        for name, value in headers.items():
            self.send_header(name, value)
        if answer.status != 204:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD" and answer.status != 204:
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class Emulator(CredentialHelpers):
    """A local, strict Microsoft Graph (trustFramework/keySets) + Entra token service.

    ``client_certificates``: PEM files whose certificates are registered on the app (client
    assertions signed with their keys are accepted); ``federated_subject``: the subject of
    the app's federated identity credential (see ``identity.py`` and ``assertions.py``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 tenant_domain: str = DEFAULT_TENANT_DOMAIN,
                 roles: tuple[str, ...] | list[str] = DEFAULT_ROLES, page_size: int = 2,
                 client_certificates: Sequence[str] = (),
                 federated_subject: str = DEFAULT_FEDERATED_SUBJECT,
                 workdir: Optional[str] = None, log_stream: Optional[TextIO] = None):
        self.host, self.port, self.tenant_domain = host, port, tenant_domain
        self.workdir, self.log_stream = workdir, log_stream
        self.config = Config(page_size=page_size, roles=list(roles),
                             federated_subject=federated_subject)
        self.certificates = Certificates(read_certificate_files(client_certificates))
        self.pipeline = Pipeline()
        self.store = KeySetStore(tenant_domain)
        self.url = self.tenant_id = self.client_id = self.client_secret = self.ca_path = ""
        self._server: Optional[_TlsServer] = None
        self._thread: Optional[threading.Thread] = None
        self._own_workdir = False
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_LOGGED_REQUESTS)
        self._log_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> "Emulator":
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if self.workdir is None:
            self.workdir, self._own_workdir = tempfile.mkdtemp(prefix="b2ckeys-emulator-"), True
        os.makedirs(self.workdir, exist_ok=True)
        self.reset()
        bind = self.host or "0.0.0.0"
        shown = _WILDCARDS.get(bind, bind)
        extra = () if shown in LOOPBACK_NAMES else (shown,)
        files = make_tls_files(self.workdir, extra)
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self._server = _TlsServer((bind, self.port), family, server_context(files), self._dispatch)
        self.port = self._server.server_address[1]
        self.url = f"https://{'[' + shown + ']' if ':' in shown else shown}:{self.port}"
        self.ca_path = files.ca_path
        self.tenant_id, self.client_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.client_secret = "emu8Q~" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.tokens = TokenService(self.url, self.tenant_id, self.tenant_domain,
                                   App(self.client_id, self.client_secret, str(uuid.uuid4())),
                                   RsaSigner(), lambda: self.config.current)
        self.federated = FederatedIssuer(self.url)
        self.tokens.verify_credential = ClientAuthenticator(
            base_url=self.url, tenant_id=self.tenant_id, tenant_domain=self.tenant_domain,
            certificates=self.certificates, federated=self.federated,
            settings=lambda: self.config.current)
        self.identity_header = uuid.uuid4().hex
        self.identity = IdentityEndpoints(self.tokens, self.federated, self.identity_header,
                                          lambda: self.config.current)
        self.graph = GraphApi(self.url, self.store, self.tokens, self.config, self.pipeline)
        self.control = ControlSurface(reset=self.reset, state=self.state,
                                      requests=self.requests, config=self.config)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="b2ckeys-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_workdir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir, self._own_workdir = None, False

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what clients need -------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        return {"AZURE_TENANT_ID": self.tenant_id, "AZURE_CLIENT_ID": self.client_id,
                "AZURE_CLIENT_SECRET": self.client_secret, "AZURE_AUTHORITY_HOST": self.url,
                "B2CKEYS_GRAPH_URL": self.url, "B2CKEYS_CA_BUNDLE": self.ca_path}

    def write_env_file(self, path: str) -> None:
        """KEY=VALUE lines, mode 0600, written to a temporary file then renamed, so a
        script that waits for ``path`` never reads half a file."""
        target = os.path.abspath(path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target),
                                   prefix="." + os.path.basename(target) + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.writelines(f"{k}={v}\n" for k, v in self.env.items())
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def make_token(self, **claims: Any) -> str:
        """A signed Graph token like the token endpoint's, with ``claims`` overridden
        (for tests of expired or foreign tokens)."""
        return self.tokens.make_token(**claims)

    # -- control (same as /_emulator/...) ----------------------------------------------
    def reset(self) -> None:
        """Empty the store, clear the request log, restore the start configuration
        (and the start set of registered client certificates)."""
        self.store.reset()
        self.config.reset()
        self.certificates.reset()
        with self._log_lock:
            self._log.clear()

    def state(self) -> dict[str, Any]:
        return {"tenantId": self.tenant_id, "tenantDomain": self.tenant_domain,
                "keySets": self.store.dump()}

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(entry) for entry in self._log]

    # -- dispatch ----------------------------------------------------------------------
    def _dispatch(self, handler: _Handler, req: Request) -> Response:
        started = time.perf_counter()
        path = req.path
        control = path == "/_emulator" or path.startswith("/_emulator/")
        try:
            if path == FEDERATED_TOKEN_PATH:
                answer = self.identity.federated_token(req)
            elif control:
                answer = self.control.handle(req)
            elif (path.split("/") + [""])[1].lower() in ("beta", "v1.0"):
                answer = self.pipeline.run(Context(req, "graph"), self.graph.handle)
            elif self.tokens.route(path):
                answer = self.pipeline.run(Context(req, "sts"), self.tokens.handle)
            elif self.identity.serves(path):
                answer = self.pipeline.run(Context(req, "sts"), self.identity.handle)
            else:
                answer = odata_error(Context(req, "graph"), GraphError(
                    404, "NotFound", "The requested resource was not found."))
        except Exception as exc:  # noqa: BLE001 - answer 500, log where (never what)
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self._access(f"internal error {type(exc).__name__} at "
                         f"{os.path.basename(frame.filename)}:{frame.lineno}")
            answer = odata_error(Context(req, "graph"), GraphError(
                500, "InternalServerError", "The emulator failed on this request."))
        status = 0 if answer.drop else answer.status
        if not control:
            with self._log_lock:
                self._log.append({"method": req.method, "path": path, "status": status,
                                  "requestId": req.request_id})
        self._access(f"{req.method} {path} {status} request-id={req.request_id} "
                     f"{(time.perf_counter() - started) * 1000:.1f}ms")
        return answer

    def _access(self, line: str) -> None:
        if self.log_stream is None:
            return
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._log_lock:
            self.log_stream.write(f"{stamp} b2ckeys-emulator {line}\n")
            self.log_stream.flush()
