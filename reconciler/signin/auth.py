"""Sign-in: the credential the environment names (see `credentials`), through msal,
turned into a token provider.

`TokenProvider.token()` returns a bearer token for Graph, asking msal (which caches it
for the run) and raising `AuthError` with one line that says what to check. After the
first token, `claims` holds its payload, decoded without verification (we are the
client; Graph verifies it): `tid`, `appid`, `roles`. No message ever holds a secret,
a password, a private key or a token.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from ..core.errors import AuthError, ReconcilerError
from ..graph.settings import Settings
from ..graph.transport import Session
from .azurecli import AzureCliTokens
from .credentials import CERTIFICATE, SECRET, TOKEN_FILE, Credential, Kind, from_environment
from .loginsession import LoginSession

LOGIN_TIMEOUT_SECONDS = 30
MANAGED_IDENTITY_TIMEOUT = (5, 30)
MICROSOFT_LOGIN_HOSTS = {
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login-us.microsoftonline.com",
}
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_FEDERATED = (f"no federated credential of app AZURE_CLIENT_ID={{client_id}} matches the token in {TOKEN_FILE}: "
              "in Entra, App registrations > Certificates & secrets > Federated credentials, add one with "
              "the token's issuer and subject, audience api://AzureADTokenExchange")

# What a person should check, per AADSTS code msal passes on.
_HINTS = {
    "7000215": f"the client secret in {SECRET} is wrong or has expired",
    "7000222": f"the client secret in {SECRET} has expired; create a new one",
    "700027": f"the certificate in {CERTIFICATE} (SHA-1 thumbprint {{thumbprint}}) is not registered on app "
              "AZURE_CLIENT_ID={client_id} "
              "(or has expired there): upload it in Entra, App registrations > Certificates & secrets",
    "700024": "the client assertion is expired or not yet valid: a federated token file must be "
              "refreshed by the pipeline; for a certificate, check this machine's clock",
    "700021": "the client assertion was made for another app than AZURE_CLIENT_ID={client_id}",
    "700023": "the client assertion names another token endpoint; check AZURE_TENANT_ID and AZURE_AUTHORITY_HOST",
    "70021": _FEDERATED,
    "700211": _FEDERATED,
    "700212": _FEDERATED,
    "700016": "no app with AZURE_CLIENT_ID={client_id} exists in tenant {tenant}",
    "90002": "tenant AZURE_TENANT_ID={tenant} was not found",
    "900023": "AZURE_TENANT_ID={tenant} is not a valid tenant id or domain",
    "1002012": "the Graph scope {scope} was refused; check B2CKEYS_GRAPH_URL / B2CKEYS_CLOUD",
    "500011": "the Graph scope {scope} was refused; check B2CKEYS_GRAPH_URL / B2CKEYS_CLOUD",
}
_FEDERATED_700027 = f"the token in {TOKEN_FILE} was not signed by the issuer the federated credential names"
_MANAGED_IDENTITY = ("the managed identity was refused: check that it is assigned to this machine and, for a "
                     "user-assigned identity, that AZURE_CLIENT_ID is its client id")


@dataclass(frozen=True)
class Identity:
    """Who the token says we are."""

    tenant_id: str
    app_id: str
    roles: tuple[str, ...] | None  # None: the token has no `roles` claim at all
    scopes: tuple[str, ...] | None = None  # a user's token: its delegated `scp`; None: no such claim
    user: str = ""  # a user's token: who (upn); "" for an app's

    @property
    def held(self) -> tuple[str, ...]:
        """The permissions the token carries: application roles and delegated scopes."""
        return (self.roles or ()) + (self.scopes or ())


def decode_claims(token: str) -> dict:
    """The payload of a JWT, not verified; {} when it is not one."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


class TokenProvider:
    """Callable that returns a Graph access token; msal keeps it cached."""

    def __init__(self, settings: Settings, environ: Mapping[str, str], credential: Credential | None = None, *,
                 resource: str | None = None):
        """`resource`: whom the tokens are for (Graph's root by default; a Key Vault's resource,
        `graph.keyvault.vault_resource`, for a vault's reads), asked for as `<resource>/.default`."""
        self._settings, self._environ = settings, environ
        self.resource = (resource or settings.graph_url).rstrip("/")
        self.credential = credential or from_environment(environ)
        self._client = None
        self.claims: dict = {}
        self._lock = threading.Lock()  # apply's workers share one provider: one sign-in

    def __repr__(self) -> str:
        return (f"TokenProvider(kind={self.kind.value!r}, client_id={self._settings.client_id!r}, "
                f"tenant={self._settings.tenant_id!r})")

    @property
    def kind(self) -> Kind:
        return self.credential.kind

    def identity(self) -> Identity:
        """Signs in if not yet done; the tenant, app and roles of the token."""
        if not self.claims:
            self.token()
        roles, scp = self.claims.get("roles"), self.claims.get("scp")
        return Identity(
            tenant_id=str(self.claims.get("tid") or ""),
            app_id=str(self.claims.get("appid") or self.claims.get("azp") or ""),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else None,
            scopes=tuple(scp.split()) if isinstance(scp, str) else None,
            user=str(self.claims.get("upn") or self.claims.get("unique_name") or self.claims.get("preferred_username")
                     or "") if isinstance(scp, str) else "",
        )

    def token(self) -> str:
        """One thread at a time: the first caller builds the msal client and signs in,
        the others then get msal's cached token."""
        with self._lock:
            return self._token()

    def _token(self) -> str:
        if self.kind is Kind.AZURE_CLI:
            if self._client is None:
                self._client = AzureCliTokens(self.credential.executable or "az", self._environ,
                                              resource=self.resource, tenant=self._settings.tenant_id,
                                              deadline=self._settings.deadline)
            token = self._client.token()
            self.claims = decode_claims(token)
            return token
        client = self._msal_client()
        try:
            if self.kind is Kind.MANAGED_IDENTITY:
                result = client.acquire_token_for_client(resource=self.resource)
            else:
                result = client.acquire_token_for_client(scopes=[self.resource + "/.default"])
        except ReconcilerError as e:  # raised by our federated token reader
            raise type(e)(self._scrub(str(e))) from None
        except Exception as e:
            raise AuthError(self._explain_exception(e)) from None
        if not isinstance(result, dict) or "access_token" not in result:
            raise AuthError(self._explain_result(result if isinstance(result, dict) else {}))
        token = result["access_token"]
        self.claims = decode_claims(token)
        return token

    __call__ = token

    def _msal_client(self):
        if self._client is None:
            import msal  # lazily: msal is the heaviest import, and only signing in needs it

            s = self._settings
            try:
                if self.kind is Kind.MANAGED_IDENTITY:
                    uid = self.credential.user_assigned_id
                    identity = (msal.UserAssignedManagedIdentity(client_id=uid) if uid
                                else msal.SystemAssignedManagedIdentity())
                    self._client = msal.ManagedIdentityClient(
                        identity, http_client=Session(verify=s.verify, timeout=MANAGED_IDENTITY_TIMEOUT,
                                                        deadline=s.deadline))
                else:
                    host = urlsplit(s.authority_host).hostname or ""
                    self._client = msal.ConfidentialClientApplication(
                        s.client_id,
                        client_credential=self.credential.msal_credential,
                        authority=s.authority,
                        instance_discovery=host in MICROSOFT_LOGIN_HOSTS,
                        azure_region=False,  # no regional host: MSAL_FORCE_REGION would name one
                        http_client=LoginSession(s.authority, verify=s.verify, timeout=LOGIN_TIMEOUT_SECONDS,
                                                 deadline=s.deadline),
                    )
            except ReconcilerError:  # LoginSession refused where discovery pointed
                raise
            except Exception as e:  # msal raises ValueError or requests errors here
                raise AuthError(self._explain_exception(e)) from None
        return self._client

    # -- messages ------------------------------------------------------------

    def _where(self) -> str:
        if self.kind is Kind.MANAGED_IDENTITY:
            return "managed identity"
        return self._settings.authority

    def _hint(self, codes: list[str]) -> str | None:
        s = self._settings
        for code in codes:
            if code == "700027" and self.kind is Kind.FEDERATED:
                return _FEDERATED_700027
            if code in _HINTS:
                return _HINTS[code].format(client_id=s.client_id, tenant=s.tenant_id, scope=s.graph_scope,
                                           thumbprint=self.credential.thumbprint)
        return None

    def _explain_result(self, result: dict) -> str:
        description = self._scrub(str(result.get("error_description") or ""))
        first_line = description.splitlines()[0] if description else ""
        codes = [str(c) for c in result.get("error_codes") or []] or re.findall(r"AADSTS(\d+)", first_line)
        hint = self._hint(codes)
        if hint is None:
            hint = _MANAGED_IDENTITY if self.kind is Kind.MANAGED_IDENTITY else (
                f"check AZURE_TENANT_ID, AZURE_CLIENT_ID and the {self.kind.value}")
        error = result.get("error") or "error"
        detail = f"{error}: {first_line}" if first_line else error
        return f"sign-in to {self._where()} failed: {hint} ({detail})"

    def _explain_exception(self, e: Exception) -> str:
        text = self._scrub(str(e)).splitlines()[0] if str(e) else type(e).__name__
        chain, seen = e, []
        while chain is not None and len(seen) < 5:  # msal wraps discovery errors in its own
            seen.append(self._scrub(str(chain)))
            chain = chain.__cause__ or chain.__context__
        aad = re.search(r"AADSTS\d+:[^\"]*", " ".join(seen))
        if aad:
            text = aad.group(0).split(" Trace ID:")[0]
        hint = self._hint(re.findall(r"AADSTS(\d+)", text))
        if hint is None and self.kind is Kind.MANAGED_IDENTITY:
            hint = ("cannot reach the managed identity endpoint; is this running on Azure with a managed "
                    "identity (IDENTITY_ENDPOINT, IMDS)? Check B2CKEYS_CA_BUNDLE for a local one")
        if hint is None:
            hint = ("cannot reach the login service or read its configuration; check AZURE_AUTHORITY_HOST, "
                    "AZURE_TENANT_ID and B2CKEYS_CA_BUNDLE")
        return f"sign-in to {self._where()} failed: {hint} ({text[:300]})"

    def _scrub(self, text: str) -> str:
        hidden = set(self.credential.secrets)
        if os.environ.get("IDENTITY_HEADER"):
            hidden.add(os.environ["IDENTITY_HEADER"])
        for value in sorted(hidden, key=len, reverse=True):
            if value:
                text = text.replace(value, "[redacted]")
        return _JWT.sub("[token]", text)
