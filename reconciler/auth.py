"""Sign-in: an msal confidential client turned into a token provider.

`TokenProvider.token()` returns a bearer token for Graph, asking msal (which
caches it for the run) and raising `AuthError` with one line that says what to
check. The credential is read from the environment here and nowhere else; no
message ever holds it.
"""

from __future__ import annotations

import re
import threading
from typing import Mapping
from urllib.parse import urlsplit

from .errors import AuthError, ConfigError
from .settings import Settings

LOGIN_TIMEOUT_SECONDS = 30
MICROSOFT_LOGIN_HOSTS = {
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login-us.microsoftonline.com",
}

# What a person should check, per AADSTS code msal passes on.
_HINTS = {
    "7000215": "the client secret in AZURE_CLIENT_SECRET is wrong or has expired",
    "7000222": "the client secret in AZURE_CLIENT_SECRET has expired; create a new one",
    "700016": "no app with AZURE_CLIENT_ID={client_id} exists in tenant {tenant}",
    "90002": "tenant AZURE_TENANT_ID={tenant} was not found",
    "900023": "AZURE_TENANT_ID={tenant} is not a valid tenant id or domain",
    "1002012": "the Graph scope {scope} was refused; check B2CKEYS_GRAPH_URL / B2CKEYS_CLOUD",
    "500011": "the Graph scope {scope} was refused; check B2CKEYS_GRAPH_URL / B2CKEYS_CLOUD",
}


class TokenProvider:
    """Callable that returns a Graph access token; msal keeps it cached."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]):
        self._settings = settings
        self._secret = environ.get("AZURE_CLIENT_SECRET") or ""
        if not self._secret:
            raise ConfigError(
                "no credential: set AZURE_CLIENT_SECRET to a client secret of the app "
                f"AZURE_CLIENT_ID={settings.client_id}"
            )
        self._app = None
        self._lock = threading.Lock()  # apply's workers share one provider: one sign-in

    def __repr__(self) -> str:
        return f"TokenProvider(client_id={self._settings.client_id!r}, tenant={self._settings.tenant_id!r})"

    def _application(self):
        if self._app is None:
            import msal

            from .transport import Session

            s = self._settings
            host = urlsplit(s.authority_host).hostname or ""
            try:
                self._app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=self._secret,
                    authority=s.authority,
                    instance_discovery=host in MICROSOFT_LOGIN_HOSTS,
                    http_client=Session(verify=s.verify, timeout=LOGIN_TIMEOUT_SECONDS),
                )
            except Exception as e:  # msal raises ValueError or requests errors here
                raise AuthError(self._explain_exception(e)) from None
        return self._app

    def token(self) -> str:
        with self._lock:
            return self._token()

    def _token(self) -> str:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._settings.graph_scope])
        except Exception as e:
            raise AuthError(self._explain_exception(e)) from None
        if "access_token" not in result:
            raise AuthError(self._explain_result(result))
        return result["access_token"]

    __call__ = token

    def _explain_result(self, result: dict) -> str:
        s = self._settings
        description = self._scrub(str(result.get("error_description") or ""))
        first_line = description.splitlines()[0] if description else ""
        codes = [str(c) for c in result.get("error_codes") or []]
        if not codes:
            codes = re.findall(r"AADSTS(\d+)", first_line)
        hint = next((_HINTS[c] for c in codes if c in _HINTS), None)
        what = (hint or "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the credential").format(
            client_id=s.client_id, tenant=s.tenant_id, scope=s.graph_scope
        )
        error = result.get("error") or "error"
        detail = f"{error}: {first_line}" if first_line else error
        return f"sign-in to {s.authority} failed: {what} ({detail})"

    def _explain_exception(self, e: Exception) -> str:
        s = self._settings
        text = self._scrub(str(e)).splitlines()[0] if str(e) else type(e).__name__
        return (
            f"sign-in to {s.authority} failed: cannot reach the login service or read its "
            f"configuration; check AZURE_AUTHORITY_HOST, AZURE_TENANT_ID and B2CKEYS_CA_BUNDLE ({text})"
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]") if self._secret else text
