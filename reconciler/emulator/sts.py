"""The Entra ID (AAD v2.0) token service of one tenant with one registered app.

Serves OIDC discovery, the JWKS and the token endpoint (client-credentials grant),
issues RS256 access tokens for Graph, and checks them again for the Graph layer.
Errors have the AAD shape msal reads. Nothing a client sends as a credential is
ever echoed in an answer.

Client authentication is one replaceable function, ``TokenService.verify_credential``
(``verify_client_credential``, secrets only, by default). The ``Emulator`` sets it to
``assertions.ClientAuthenticator``, which adds client assertions signed with a registered
certificate and federated assertions from the built-in issuer.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import parse_qs

from .config import Settings
from .jws import RsaSigner, TokenInvalid
from .pipeline import Context, Response

TOKEN_LIFETIME = 3600
VAULT_RESOURCE = "https://vault.azure.net"   # the audience of Key Vault tokens (public cloud)
RESERVED_SCOPES = ("openid", "profile", "offline_access")
MULTI_TENANT = ("common", "organizations", "consumers")
_ROUTES = (
    ("discovery", re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")),
    ("keys", re.compile(r"^/([^/]+)/discovery/v2\.0/keys$")),
    ("token", re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")),
)


class AadError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str):
        super().__init__(f"AADSTS{code}")
        self.status, self.error, self.code, self.description = status, error, code, description


class TokenRejected(Exception):
    """A bearer token Graph must refuse (401); the message is Graph's."""


@dataclass(frozen=True)
class App:
    """The one registered application (service principal ``object_id``)."""
    client_id: str
    secret: str
    object_id: str
    display_name: str = "b2ckeys-emulator"


def verify_client_credential(app: App, form: Mapping[str, str]) -> str:
    """Check how the client proved it is ``app``; return the ``appidacr`` claim
    ("1" = secret, "2" = certificate). Raise AadError otherwise."""
    if form.get("client_assertion") or form.get("client_assertion_type"):
        raise AadError(401, "invalid_client", 700027,
                       "Client assertion failed signature validation. "
                       "(The emulator accepts only client secrets so far.)")
    sent = form.get("client_secret", "")
    if not sent:
        raise AadError(401, "invalid_client", 7000218,
                       "The request body must contain the following parameter: "
                       "'client_assertion' or 'client_secret'.")
    if not hmac.compare_digest(sent.encode(), app.secret.encode()):
        raise AadError(401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the "
                       "request is the client secret value, not the client secret ID, for a "
                       f"secret added to app '{app.client_id}'.")
    return "1"


class TokenService:
    def __init__(self, base_url: str, tenant_id: str, tenant_domain: str, app: App,
                 signer: RsaSigner, settings: Callable[[], Settings]):
        self.base_url, self.tenant_id, self.tenant_domain = base_url, tenant_id, tenant_domain
        self.app, self.signer, self.settings = app, signer, settings
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self.verify_credential: Callable[[App, Mapping[str, str]], str] = verify_client_credential

    # -- routing -----------------------------------------------------------------------
    def route(self, path: str) -> Optional[tuple[str, str]]:
        """(endpoint, tenant segment) when ``path`` belongs to the token service."""
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match:
                return name, match.group(1)
        return None

    def handle(self, ctx: Context) -> Response:
        req = ctx.request
        endpoint, tenant = self.route(req.path) or ("", "")
        try:
            if endpoint == "token":
                if req.method != "POST":
                    raise AadError(400, "invalid_request", 900561,
                                   f"The endpoint only accepts POST requests. "
                                   f"Received a {req.method} request.")
                ctype = req.header("Content-Type").split(";")[0].strip().lower()
                raw = req.body.decode("utf-8", "replace") \
                    if ctype == "application/x-www-form-urlencoded" else ""
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                return Response.json(200, self.issue(tenant, form),
                                     headers={"Cache-Control": "no-store, no-cache",
                                              "Pragma": "no-cache"})
            if req.method != "GET":
                return Response.json(405, {"error": "invalid_request",
                                           "error_description": "Method not allowed."},
                                     headers={"Allow": "GET"})
            if endpoint == "discovery":
                return Response.json(200, self.discovery(tenant))
            self._tenant(tenant, allow_multi=True)
            return Response.json(200, self.signer.jwks())
        except AadError as err:
            return Response.json(err.status, self._error_body(err, ctx))

    def _error_body(self, err: AadError, ctx: Context) -> dict[str, Any]:
        now = _dt.datetime.now(_dt.timezone.utc)
        trace = ctx.request.request_id
        corr = ctx.request.client_request_id
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        return {"error": err.error,
                "error_description": f"AADSTS{err.code}: {err.description} Trace ID: {trace} "
                                     f"Correlation ID: {corr} Timestamp: {stamp}",
                "error_codes": [err.code], "timestamp": stamp, "trace_id": trace,
                "correlation_id": corr, "error_uri": f"{self.base_url}/error?code={err.code}"}

    def error_response(self, ctx: Context, status: int, code: str, message: str,
                       headers: dict[str, str]) -> Response:
        """An AAD-shaped error for an injected fault: ``temporarily_unavailable`` for 429
        and 5xx, ``invalid_request`` otherwise; an ``AADSTSnnn`` code is kept, any other
        code becomes AADSTS90033 ("a transient error")."""
        match = re.fullmatch(r"AADSTS(\d+)", code)
        error = "temporarily_unavailable" if status == 429 or status >= 500 else "invalid_request"
        err = AadError(status, error, int(match.group(1)) if match else 90033, message)
        return Response.json(status, self._error_body(err, ctx), headers=headers)

    # -- endpoints ---------------------------------------------------------------------
    def _tenant(self, segment: str, *, allow_multi: bool = False) -> str:
        if segment.lower() in (self.tenant_id, self.tenant_domain.lower()):
            return self.tenant_id
        if allow_multi and segment.lower() in MULTI_TENANT:
            return segment.lower()
        raise AadError(400, "invalid_tenant", 90002,
                       f"Tenant '{segment}' not found. Check to make sure you have the correct "
                       "tenant ID and are signing into the correct cloud. Check with your "
                       "subscription administrator, this may happen if there are no active "
                       "subscriptions for the tenant.")

    def discovery(self, segment: str) -> dict[str, Any]:
        tenant = self._tenant(segment, allow_multi=True)
        base = f"{self.base_url}/{tenant}"
        issuer_tenant = self.tenant_id if tenant == self.tenant_id else "{tenantid}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.base_url}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "roles"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "b2ckeys-emulator",
            "msgraph_host": self.base_url.split("://", 1)[1],
        }

    def issue(self, segment: str, form: Mapping[str, str]) -> dict[str, Any]:
        if segment.lower() in MULTI_TENANT:
            raise AadError(400, "invalid_request", 50059,
                           "No tenant-identifying information found in either the request or "
                           "implied by any provided credentials.")
        tenant = self._tenant(segment)
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                raise AadError(400, "invalid_request", 900144, "The request body must contain "
                                                               f"the following parameter: '{name}'.")
        if form["grant_type"] != "client_credentials":
            raise AadError(400, "unsupported_grant_type", 70003,
                           "The app requested an unsupported grant type "
                           f"'{form['grant_type'][:64]}'.")
        if form["client_id"].lower() != self.app.client_id:
            raise AadError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{form['client_id'][:64]}' was not "
                           f"found in the directory '{self.tenant_domain}'. This can happen if "
                           "the application has not been installed by the administrator of the "
                           "tenant or consented to by any user in the tenant. You may have sent "
                           "your authentication request to the wrong tenant.")
        acr = self.verify_credential(self.app, form)
        resource = self._check_scope(form.get("scope", ""))
        if resource == self.base_url:
            token = self.make_token(tenant, appidacr=acr)
        else:  # Key Vault's: its roles are the vault's (RBAC), none in the token
            token = self.make_token(tenant, appidacr=acr, aud=resource, roles=None)
        return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME - 1,
                "ext_expires_in": TOKEN_LIFETIME - 1, "access_token": token}

    def _check_scope(self, scope: str) -> str:
        """The resource of a valid scope: Graph's (the emulator's URL) or Key Vault's."""
        if not scope.strip():
            raise AadError(400, "invalid_request", 900144, "The request body must contain the "
                                                           "following parameter: 'scope'.")
        wanted = [s for s in scope.split() if s not in RESERVED_SCOPES]
        if len(wanted) != 1 or not wanted[0].endswith("/.default"):
            raise AadError(400, "invalid_scope", 1002012,
                           f"The provided value for scope {scope[:200]} is not valid. Client "
                           "credential flows must have a scope value with /.default suffixed "
                           "to the resource identifier (application ID URI).")
        resource = wanted[0][: -len("/.default")].rstrip("/")
        if resource not in (self.base_url, VAULT_RESOURCE):
            raise AadError(400, "invalid_resource", 500011,
                           f"The resource principal named {resource[:200]} was not found in the "
                           f"tenant named {self.tenant_domain}. This can happen if the "
                           "application has not been installed by the administrator of the "
                           "tenant or consented to by any user in the tenant. You might have "
                           "sent your authentication request to the wrong tenant.")
        return resource

    def make_token(self, tenant: Optional[str] = None, **overrides: Any) -> str:
        """A Graph access token as the token endpoint issues it; ``overrides`` replace
        claims (tests use this for expired or foreign tokens)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": self.base_url, "iss": self.issuer, "iat": now, "nbf": now,
            "exp": now + TOKEN_LIFETIME, "app_displayname": self.app.display_name,
            "appid": self.app.client_id, "azp": self.app.client_id, "appidacr": "1",
            "idp": self.issuer, "idtyp": "app", "oid": self.app.object_id,
            "sub": self.app.object_id, "roles": list(self.settings().roles),
            "tid": tenant or self.tenant_id, "uti": secrets.token_urlsafe(16), "ver": "1.0",
        }
        claims.update(overrides)
        if not claims["roles"]:
            del claims["roles"]  # as Entra ID: no roles granted, no `roles` claim
        return self.signer.sign(claims)

    # -- for Graph ---------------------------------------------------------------------
    def validate(self, authorization: str, audience: Optional[str] = None) -> dict[str, Any]:
        """Claims of a valid bearer token for ``audience`` (default: Graph's, the emulator's
        URL); TokenRejected otherwise."""
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("Access token is empty.")
        try:
            claims = self.signer.verify(token)
        except TokenInvalid:
            raise TokenRejected("Access token validation failure.") from None
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if claims.get("aud") != (audience or self.base_url):
            raise TokenRejected("Access token validation failure. Invalid audience.")
        if claims.get("tid") != self.tenant_id or claims.get("iss") != self.issuer:
            raise TokenRejected("Access token validation failure. Invalid issuer or tenant.")
        if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)) \
                or now >= exp or nbf > now + 300:
            raise TokenRejected("Access token validation failure. The token is expired "
                                "or not yet valid.")
        return claims


def new_guid() -> str:
    return str(uuid.uuid4())
