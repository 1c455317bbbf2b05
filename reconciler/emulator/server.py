"""The public ``Emulator``: life cycle, dispatch, request and access logs, control."""

from __future__ import annotations

import collections
import datetime as _dt
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from typing import Any, Iterable, Optional, Sequence, TextIO, Union

from .assertions import Certificates, ClientAuthenticator, FederatedIssuer
from .config import DEFAULT_FEDERATED_SUBJECT, DEFAULT_ROLES, Config
from .control import ControlSurface
from .credentials_kit import CredentialHelpers, read_certificate_files
from .faults import FaultSet
from .graph import GraphApi, GraphError, odata_error
from .httpd import Handler, TlsServer
from .identity import FEDERATED_TOKEN_PATH, IdentityEndpoints
from .jws import RsaSigner
from .network import Network
from .pipeline import Context, Pipeline, Request, Response
from .store import KeySetStore
from .sts import App, TokenService
from .tls import LOOPBACK_NAMES, make_tls_files, server_context
from .vault import VaultApi, vault_error
from .vaultstore import SecretVersion, VaultError, VaultStore, new_version, now

DEFAULT_TENANT_DOMAIN = "contoso.onmicrosoft.com"
MAX_LOGGED_REQUESTS = 100_000
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class Emulator(CredentialHelpers):
    """A local, strict Microsoft Graph (trustFramework/keySets) + Entra token service.

    ``throttle`` and ``latency`` are start values of those settings (``config.py``; a
    ``throttle`` object turns throttling on), ``faults`` the start fault rules (spec
    strings or dicts, ``faults.py``). ``client_certificates``: PEM files whose certificates
    are registered on the app (client assertions signed with their keys are accepted);
    ``federated_subject``: the subject of the app's federated identity credential (see
    ``identity.py`` and ``assertions.py``). ``readings``: the start readings, names from
    ``readings.py`` (e.g. ``["not-found-404", "read-lag=3"]``). ``reset`` comes back to
    all of them.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 tenant_domain: str = DEFAULT_TENANT_DOMAIN,
                 roles: tuple[str, ...] | list[str] = DEFAULT_ROLES, page_size: int = 2,
                 throttle: Optional[dict[str, Any]] = None,
                 latency: Optional[dict[str, Any]] = None,
                 faults: Iterable[Union[str, dict[str, Any]]] = (),
                 client_certificates: Sequence[str] = (),
                 federated_subject: str = DEFAULT_FEDERATED_SUBJECT,
                 readings: Sequence[str] = (), vaults: Sequence[str] = (),
                 workdir: Optional[str] = None, log_stream: Optional[TextIO] = None):
        self.host, self.port, self.tenant_domain = host, port, tenant_domain
        self.workdir, self.log_stream = workdir, log_stream
        self.config = Config(page_size=page_size, roles=list(roles),
                             federated_subject=federated_subject, readings=list(readings),
                             **({"throttle": throttle} if throttle is not None else {}),
                             **({"latency": latency} if latency is not None else {}))
        self.certificates = Certificates(read_certificate_files(client_certificates))
        self.faults = FaultSet(faults)
        self.network = Network(self.config, self.faults, self._error)
        self.pipeline = Pipeline((self.network.before,), (self.network.after_auth,),
                                 (self.network.after_commit,))
        self.store = KeySetStore(tenant_domain, lag=lambda: self.config.current.read_lag)
        self.vaults = VaultStore(list(vaults))
        self.url = self.tenant_id = self.client_id = self.client_secret = self.ca_path = ""
        self._server: Optional[TlsServer] = None
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
        self._server = TlsServer((bind, self.port), family, server_context(files), self._dispatch)
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
        self.vault = VaultApi(self.url, self.vaults, self.tokens, lambda: self.config.current)
        self.control = ControlSurface(reset=self.reset, state=self.state, seed=self.seed,
                                      requests=self.requests, config=self.config,
                                      faults=self.faults, stats=self.stats, vaults=self.vaults)
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
                "B2CKEYS_GRAPH_URL": self.url, "B2CKEYS_CA_BUNDLE": self.ca_path,
                "B2CKEYS_KEYVAULT_URL": self.url + "/vaults/{name}"}

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
        """Empty the store, clear the request log and the throttle's counters, restore the
        start configuration, the start fault rules (re-armed) and the start set of
        registered client certificates."""
        self.store.reset()
        self.vaults.reset()
        self.config.reset()
        self.network.reset()
        self.certificates.reset()
        with self._log_lock:
            self._log.clear()

    def seed(self, keysets: Iterable[dict[str, Any]]) -> int:
        """Load key sets straight into the store (no Graph request, no throttle, no RSA
        generation), for tests and benchmarks that need a large tenant fast. Items have
        the shape of ``state()["keySets"]``; see ``KeySetStore.seed``. Returns the count."""
        return self.store.seed(keysets)

    def state(self) -> dict[str, Any]:
        return {"tenantId": self.tenant_id, "tenantDomain": self.tenant_domain,
                "keySets": self.store.dump(), "vaults": self.vaults.dump()}

    def add_vault(self, name: str) -> str:
        """Serve one more vault (empty, default roles) until the next reset; its URL."""
        self.vaults.add_vault(name)
        return f"{self.url}/vaults/{name}"

    def set_secret(self, vault: str, name: str, value: str, *, nbf: Optional[int] = None,
                   exp: Optional[int] = None, enabled: bool = True,
                   content_type: Optional[str] = None) -> str:
        """A new version of secret ``name`` straight into the store (no request, as ``seed``
        for key sets); its version id. Clients should use Set Secret, as they would on Azure."""
        item = SecretVersion(new_version(), value, content_type, enabled, nbf, exp, now())
        return self.vaults.set_secret(vault, name, item).version

    def set_vault_roles(self, name: str, roles: Sequence[str]) -> None:
        """The roles the emulator's app holds on vault ``name`` (``[]``: none, a 403)."""
        self.vaults.set_roles(name, list(roles))

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(entry) for entry in self._log]

    def stats(self) -> dict[str, Any]:
        """Graph requests, throttling and faults since the last reset (``throttle.py``)."""
        return self.network.stats()

    def _error(self, ctx: Context, status: int, code: str, message: str,
               headers: dict[str, str]) -> Response:
        if ctx.area == "sts":
            return self.tokens.error_response(ctx, status, code, message, headers)
        if ctx.area == "vault":
            return vault_error(VaultError(status, code or ("Throttled" if status == 429 else
                                                           "ServiceUnavailable"),
                                          message or "An injected fault."), headers)
        return odata_error(ctx, GraphError(status, code, message, headers))

    # -- dispatch ----------------------------------------------------------------------
    def _dispatch(self, handler: Handler, req: Request) -> Response:
        started = time.perf_counter()
        path = req.path
        control = path == "/_emulator" or path.startswith("/_emulator/")
        ctx: Optional[Context] = None
        try:
            if path == FEDERATED_TOKEN_PATH:
                answer = self.identity.federated_token(req)
            elif control:
                answer = self.control.handle(req)
            elif (path.split("/") + [""])[1].lower() in ("beta", "v1.0"):
                ctx = Context(req, "graph")
                answer = self.pipeline.run(ctx, self.graph.handle)
            elif self.vault.serves(path):
                ctx = Context(req, "vault")
                answer = self.pipeline.run(ctx, self.vault.handle)
            elif self.tokens.route(path):
                ctx = Context(req, "sts")
                answer = self.pipeline.run(ctx, self.tokens.handle)
            elif self.identity.serves(path):
                ctx = Context(req, "sts")
                answer = self.pipeline.run(ctx, self.identity.handle)
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
            entry: dict[str, Any] = {"method": req.method, "path": path, "status": status,
                                     "requestId": req.request_id}
            if answer.headers.get("Location") and not answer.drop:  # what a create made
                entry["location"] = answer.headers["Location"]
            if ctx is not None and ctx.fault:
                entry["fault"] = ctx.fault
            if ctx is not None and ctx.throttled:
                entry["throttled"] = True
            with self._log_lock:
                self._log.append(entry)
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
