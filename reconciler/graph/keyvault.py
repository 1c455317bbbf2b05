"""The Key Vault conversation: versions' dates for `plan` and `drift`, a value for `apply`.

Microsoft's `azure-keyvault-secrets` speaks Key Vault's REST (its challenge-based sign-in,
paging, api-versions) through a small adapter: our tokens (`credential`, from
`reconciler.signin`, for the cloud's vault resource) and our HTTP session
(`reconciler.graph.transport`: TLS with B2CKEYS_CA_BUNDLE in memory, a deadline per request
and for the run, answers capped at MAX_VAULT_ANSWER_BYTES), limited to the vault's origin,
so a token goes to the vault's host only. A challenge that names another resource than the
cloud's vault resource is refused before a token is asked for. The library is imported
when a manifest has a vault reference, never for `b2ckeys --help`.

`plan` and `drift` list versions (attributes only, no values); `apply` reads a value just
before the upload that needs it. Errors are `VaultError`s at the manifest line: a 403 names
the vault and the role to grant, a missing vault, secret or version says which.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Mapping

from ..core.diagnostics import printable
from ..core.errors import ReconcilerError, VaultError
from ..core.model import CertificateVersion, SecretRef, VaultVersion
from .redact import scrub
from .settings import Settings, origin
from .transport import Session
from .vaultplaces import vault_resource, vault_url

MAX_VAULT_ANSWER_BYTES = 1 << 20  # a page of 25 versions is a few KiB; a PFX secret, tens of KiB
MAX_VERSION_PAGES = 40  # 1,000 versions of one secret, listed 25 at a time
READER_ROLE = "Key Vault Secrets User"
CERTIFICATE_API_VERSION = "7.4"


class _OriginSession(Session):
    """Our session, sending to the vault's origin only."""

    def __init__(self, url: str, settings: Settings):
        super().__init__(verify=settings.verify, deadline=settings.deadline, max_answer_bytes=MAX_VAULT_ANSWER_BYTES)
        self.origin = origin(url)

    def request(self, method, url, **kwargs):
        if origin(str(url)) != self.origin:
            raise ReconcilerError(f"a Key Vault request to {printable(origin(str(url)))[:200]} was refused: "
                                  f"only the vault's own origin {self.origin} is asked")
        return super().request(method, url, **kwargs)


class _Credential:
    """azure-core's TokenCredential, from our token provider; only for the cloud's vault scope."""

    def __init__(self, token: Callable[[], str], scope: str):
        self._token, self.scope = token, scope

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken  # lazily, as everything of azure: only vault references need it

        if tuple(s.rstrip("/") for s in scopes) != (self.scope,):
            raise ReconcilerError(f"the vault asked for a token for {printable(' '.join(scopes))[:200]}, not for "
                                  f"{self.scope}; refused, no token was sent")
        return AccessToken(self._token(), int(time.time()) + 300)  # msal caches it; asked again near expiry


class VaultReader:
    """Reads Key Vault references, one SecretClient per vault, for one run."""

    def __init__(self, settings: Settings, token: Callable[[], str], environ: Mapping[str, str]):
        self.settings, self.environ = settings, environ
        self.scope = vault_resource(environ) + "/.default"
        self._credential = _Credential(token, self.scope)
        self._clients: dict[str, object] = {}
        self._listed: dict[tuple[str, str], list[VaultVersion]] = {}  # one list per secret and run

    def client(self, ref: SecretRef):
        url = self._url(ref)
        if url not in self._clients:
            from azure.core.pipeline.transport import RequestsTransport  # lazily: see the module's doc
            from azure.keyvault.secrets import SecretClient

            transport = RequestsTransport(session=_OriginSession(url, self.settings), session_owner=False)
            self._clients[url] = SecretClient(url, self._credential, transport=transport, retry_total=2,
                                              verify_challenge_resource=False)  # our _Credential checks the scope
        return self._clients[url]

    def version(self, ref: SecretRef) -> VaultVersion:
        """The pinned version's attributes, or the latest enabled version's (metadata only)."""
        versions = self._call(ref, lambda: self._versions(ref))
        if ref.pinned:
            found = next((v for v in versions if v.version.lower() == ref.version.lower()), None)
            if found is None:
                raise VaultError(ref.location, f"Key Vault {ref.vault} has no version {ref.version} of secret {ref.name}")
            if not found.enabled:
                raise VaultError(ref.location, f"version {ref.version} of secret {ref.name} in Key Vault {ref.vault} "
                                               "is disabled; enable it, or name another version")
            return found
        newest = _newest(versions)
        if newest is None:
            raise VaultError(ref.location, f"secret {ref.name} in Key Vault {ref.vault} has no enabled version")
        return newest

    def newest_enabled(self, ref: SecretRef) -> VaultVersion | None:
        """The latest enabled version, also for a pinned reference (drift's "newer version")."""
        return _newest(self._call(ref, lambda: self._versions(ref)))

    def versions(self, ref: SecretRef) -> list[VaultVersion]:
        """Every version's attributes (listed once a run)."""
        return self._call(ref, lambda: self._versions(ref))

    def value(self, ref: SecretRef) -> str:
        """The value of the planned version (apply only, just before the upload)."""
        def get():
            return self.client(ref).get_secret(ref.name, ref.version or None)
        secret = self._call(ref, get)
        if not secret.properties.enabled:
            raise VaultError(ref.location, f"{ref} is disabled now; make a new plan")
        if not secret.value:
            raise VaultError(ref.location, f"{ref} is empty")
        return secret.value

    def certificate(self, ref: SecretRef) -> CertificateVersion:
        """A certificate's thumbprint and dates (no private key): GET certificates/{name}."""
        from azure.core.rest import HttpRequest  # lazily: see the module's doc

        def get():
            request = HttpRequest("GET", f"{self._url(ref)}/certificates/{ref.name}",
                                  params={"api-version": CERTIFICATE_API_VERSION})
            response = self.client(ref).send_request(request)
            response.raise_for_status()
            return response.json()
        answer = self._call(ref, get)
        try:
            attributes = answer.get("attributes") or {}
            x5t, version = str(answer["x5t"]).rstrip("="), str(answer.get("id", "")).rstrip("/").rsplit("/", 1)[-1]
            nbf, exp = attributes.get("nbf"), attributes.get("exp")
            return CertificateVersion(version, x5t, int(nbf) if nbf is not None else None,
                                      int(exp) if exp is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise VaultError(ref.location, f"Key Vault {ref.vault} answered about certificate {ref.name} in a form "
                                           "b2ckeys cannot read (no x5t)") from None

    # -- the conversation -------------------------------------------------------------

    def _url(self, ref: SecretRef) -> str:
        try:
            return vault_url(ref.vault, self.environ)
        except ReconcilerError as e:
            raise VaultError(ref.location, str(e)) from None

    def _versions(self, ref: SecretRef) -> list[VaultVersion]:
        known = (self._url(ref), ref.name.lower())
        if known not in self._listed:
            self._listed[known] = self._list_versions(ref)
        return self._listed[known]

    def _list_versions(self, ref: SecretRef) -> list[VaultVersion]:
        found = []
        pages = self.client(ref).list_properties_of_secret_versions(ref.name, max_page_size=25).by_page()
        for count, page in enumerate(pages):
            if count >= MAX_VERSION_PAGES:
                raise VaultError(ref.location, f"secret {ref.name} in Key Vault {ref.vault} has more than "
                                               f"{MAX_VERSION_PAGES * 25} versions; b2ckeys reads no further")
            for item in page:
                found.append(VaultVersion(str(item.version or ""), bool(item.enabled), _epoch(item.created_on),
                                          _epoch(item.not_before), _epoch(item.expires_on), str(item.content_type or "")))
        if not found:  # Key Vault answers an empty list for no such secret
            raise VaultError(ref.location, f"Key Vault {ref.vault} has no secret {ref.name}")
        return found

    def _call(self, ref: SecretRef, call):
        from azure.core.exceptions import AzureError, HttpResponseError  # lazily: see the module's doc

        try:
            return call()
        except VaultError:
            raise
        except ReconcilerError as e:
            raise VaultError(ref.location, f"Key Vault {ref.vault}: {scrub(str(e))}") from None
        except HttpResponseError as e:
            raise VaultError(ref.location, _explain(ref, e.status_code, _code(e))) from None
        except AzureError as e:
            raise VaultError(ref.location, f"Key Vault {ref.vault} could not be reached at {self._url(ref)} "
                                           f"({type(e).__name__}; is the vault's name right?)") from None


def _newest(versions: list[VaultVersion]) -> VaultVersion | None:
    """The latest enabled version: created last; of two made in the same second, the one listed last."""
    enabled = [(v.created or 0, i, v) for i, v in enumerate(versions) if v.enabled]
    return max(enabled, key=lambda e: e[:2])[2] if enabled else None


def _explain(ref: SecretRef, status: int | None, code: str) -> str:
    what = f"version {ref.version} of secret {ref.name}" if ref.pinned else f"secret {ref.name}"
    if status == 403:
        return (f"Key Vault {ref.vault} refused to read {what} (403 {code or 'Forbidden'}): grant the identity "
                f"b2ckeys signs in as the role '{READER_ROLE}' on the vault")
    if status == 401:
        return f"Key Vault {ref.vault} refused the token (401 {code}): check the credential and the cloud"
    if status == 404:
        if code in ("VaultNotFound", "NotFound") or "Vault" in code:
            return f"there is no Key Vault {ref.vault} ({code})"
        return f"Key Vault {ref.vault} has no {what}" + (f" ({code})" if code else "")
    return f"Key Vault {ref.vault} answered HTTP {status} {code} to a read of {what}".rstrip()


def _code(error) -> str:
    try:
        body = json.loads(error.response.text())
        return printable(str(body["error"]["code"]))[:100]
    except Exception:  # any answer without Key Vault's error shape: no code to show
        return ""


def _epoch(when) -> int | None:
    return int(when.timestamp()) if when is not None else None
