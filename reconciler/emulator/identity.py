"""Identity endpoints besides the token endpoint: managed identity, and the handout of
federated tokens.

Managed identity, in the two protocols msal's ``ManagedIdentityClient`` speaks:

- App Service / Functions (``GET /msi/token``), chosen by msal when ``IDENTITY_ENDPOINT``
  and ``IDENTITY_HEADER`` are set: ``api-version=2019-08-01``, ``resource``, optional
  ``client_id`` / ``object_id`` / ``mi_res_id``; the ``X-IDENTITY-HEADER`` request header
  must equal ``IDENTITY_HEADER``. Answers ``expires_on``; errors ``{statusCode, message}``.
- Azure VM IMDS (``GET /metadata/identity/oauth2/token``), msal's default, reached when
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` names the emulator: ``api-version=2018-02-01``,
  ``Metadata: true``. Answers ``expires_in``; errors ``{error, error_description}``.

The system-assigned identity is the emulator's app; a user-assigned identity is named by
the app's client id (or object id); any other id is unknown. ``resource`` must be the
Graph root (the emulator's URL). Tokens carry the configured roles.

``GET /_emulator/federated-token?subject=S&lifetime=SECONDS&audience=A`` hands out a JWT
from the built-in issuer (``{url}/federated``), as GitHub Actions' OIDC endpoint would;
``subject`` defaults to the configured ``federated_subject``.
"""

from __future__ import annotations

import hmac
import time
from typing import Any, Callable

from .assertions import FEDERATED_AUDIENCE, FederatedIssuer
from .config import Settings
from .pipeline import Context, Request, Response
from .sts import TOKEN_LIFETIME, TokenService

APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"
FEDERATED_TOKEN_PATH = "/_emulator/federated-token"


class IdentityError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(error)
        self.status, self.error, self.message = status, error, message


class IdentityEndpoints:
    def __init__(self, tokens: TokenService, federated: FederatedIssuer, identity_header: str,
                 settings: Callable[[], Settings]):
        self.tokens, self.federated, self.settings = tokens, federated, settings
        self.identity_header = identity_header

    @staticmethod
    def serves(path: str) -> bool:
        return path in (APP_SERVICE_PATH, IMDS_PATH)

    # -- managed identity --------------------------------------------------------------
    def handle(self, ctx: Context) -> Response:
        req = ctx.request
        imds = req.path == IMDS_PATH
        try:
            if req.method != "GET":
                raise IdentityError(405, "invalid_request", "Only GET is supported.")
            if imds:
                if req.header("Metadata").lower() != "true":
                    raise IdentityError(400, "invalid_request",
                                        "Required metadata header not specified")
            elif not hmac.compare_digest(req.header("X-IDENTITY-HEADER").encode(),
                                         self.identity_header.encode()):
                raise IdentityError(401, "unauthorized_client",
                                    "The X-IDENTITY-HEADER header is missing or does not "
                                    "match IDENTITY_HEADER.")
            query = {k: v[0] for k, v in req.query.items()}
            wanted = "2018-02-01" if imds else "2019-08-01"
            if query.get("api-version") != wanted:
                raise IdentityError(400, "invalid_request",
                                    f"api-version must be {wanted} on this endpoint.")
            payload = self._token(query, imds)
        except IdentityError as err:
            body: dict[str, Any] = ({"error": err.error, "error_description": err.message}
                                    if imds else {"statusCode": err.status,
                                                  "message": err.message,
                                                  "correlationId": req.request_id})
            return Response.json(err.status, body)
        return Response.json(200, payload)

    def _token(self, query: dict[str, str], imds: bool) -> dict[str, Any]:
        app = self.tokens.app
        resource = query.get("resource", "").rstrip("/")
        if not resource:
            raise IdentityError(400, "invalid_request", "Required query variable 'resource' "
                                                        "is missing.")
        res_key = "msi_res_id" if imds else "mi_res_id"
        if query.get(res_key):
            raise IdentityError(400, "invalid_request", "No User Assigned or Delegated Managed "
                                "Identity found for specified ClientId/ResourceId/PrincipalId.")
        for name, known in (("client_id", app.client_id), ("object_id", app.object_id)):
            if query.get(name) and query[name].lower() != known:
                raise IdentityError(400, "invalid_request",
                                    "No User Assigned or Delegated Managed Identity found for "
                                    f"specified ClientId/ResourceId/PrincipalId "
                                    f"({name}={query[name][:64]}).")
        if resource != self.tokens.base_url:
            raise IdentityError(400, "invalid_resource",
                                f"AADSTS500011: The resource principal named {resource[:200]} "
                                f"was not found in the tenant named {self.tokens.tenant_domain}.")
        token = self.tokens.make_token(appidacr="2")
        now = int(time.time())
        payload: dict[str, Any] = {"access_token": token, "expires_on": str(now + TOKEN_LIFETIME),
                                   "resource": resource, "token_type": "Bearer",
                                   "client_id": app.client_id}
        if imds:
            payload.update({"refresh_token": "", "expires_in": str(TOKEN_LIFETIME - 1),
                            "ext_expires_in": str(TOKEN_LIFETIME - 1), "not_before": str(now)})
        return payload

    # -- federated tokens (control surface) --------------------------------------------
    def federated_token(self, req: Request) -> Response:
        if req.method != "GET":
            return Response.json(405, {"error": "method not allowed"}, headers={"Allow": "GET"})
        query = {k: v[0] for k, v in req.query.items()}
        subject = query.get("subject") or self.settings().federated_subject
        audience = query.get("audience") or FEDERATED_AUDIENCE
        try:
            lifetime = int(query.get("lifetime", "600"))
            if not -86400 <= lifetime <= 86400:
                raise ValueError
        except ValueError:
            return Response.json(400, {"error": "lifetime must be whole seconds from -86400 "
                                                "to 86400 (negative: already expired)"})
        token = self.federated.issue(subject, lifetime=lifetime, audience=audience)
        return Response.json(200, {"value": token, "issuer": self.federated.issuer,
                                   "subject": subject, "audience": audience,
                                   "expiresOn": int(time.time()) + lifetime})
