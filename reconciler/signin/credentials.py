"""Which credential to sign in with, read from the environment (docs/signing-in.md).

The order, as azure-identity's EnvironmentCredential, first match wins:

1. ``AZURE_CLIENT_SECRET``: a client secret.
2. ``AZURE_CLIENT_CERTIFICATE_PATH``: a certificate with its private key, PEM (certificate
   + key, the key optionally encrypted) or PFX/PKCS#12, told apart by content; the password
   in ``AZURE_CLIENT_CERTIFICATE_PASSWORD``.
3. ``AZURE_FEDERATED_TOKEN_FILE``: workload identity federation; the file is read again
   for every token request (GitHub Actions, Azure DevOps and AKS rotate it).
4. ``B2CKEYS_AUTH=managed-identity``: the machine's managed identity; user-assigned when
   ``AZURE_CLIENT_ID`` is set. It must be the only credential set.
5. ``B2CKEYS_AUTH=azure-cli``: the account ``az`` is signed in as (``azurecli``); the only
   credential set, too. With no credential variable at all and ``az`` on PATH, the Azure
   CLI is used as well (as DefaultAzureCredential does), and ``sign_in_notices`` says so.

``from_environment`` returns a ``Credential``: what msal gets, a description fit for
output, and the strings no message may ever contain. Errors are ``ConfigError`` or
``AuthError`` with one line naming the variable to check; never a secret.
``credential_file_warnings`` says when the file signed in with (a private key, a token)
is readable by others on the machine: a warning, as CI runners often make files so.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import AuthError, ConfigError
from .azurecli import find_az

SECRET = "AZURE_CLIENT_SECRET"
CERTIFICATE = "AZURE_CLIENT_CERTIFICATE_PATH"
PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"
AUTH = "B2CKEYS_AUTH"
MANAGED_IDENTITY = "managed-identity"
AZURE_CLI = "azure-cli"
_KEY_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.S)


class Kind(enum.Enum):
    SECRET = "client secret"
    CERTIFICATE = "certificate"
    FEDERATED = "federated token"
    MANAGED_IDENTITY = "managed identity"
    AZURE_CLI = "Azure CLI"

    @property
    def needs_app(self) -> bool:
        """Whether AZURE_TENANT_ID / AZURE_CLIENT_ID must name an app registration."""
        return self not in (Kind.MANAGED_IDENTITY, Kind.AZURE_CLI)


@dataclass
class Credential:
    kind: Kind
    description: str  # for doctor and messages: never secret
    msal_credential: Any = None  # ConfidentialClientApplication's client_credential
    user_assigned_id: str | None = None  # managed identity only
    thumbprint: str | None = None  # certificate only: SHA-1, hex, as the portal shows it
    secrets: set[str] = field(default_factory=set)  # to scrub from any message
    executable: str | None = None  # Azure CLI only: the `az` found on PATH
    automatic: bool = False  # Azure CLI only: chosen because no credential variable is set

    @property
    def needs_app(self) -> bool:
        """Whether AZURE_TENANT_ID / AZURE_CLIENT_ID must name an app registration."""
        return self.kind.needs_app


def kind_from_environment(environ: Mapping[str, str]) -> Kind:
    """The kind the environment selects, without reading any file."""
    auth = (environ.get(AUTH) or "").strip().lower()
    if auth not in ("", MANAGED_IDENTITY, AZURE_CLI):
        raise ConfigError(f"{AUTH}={auth!r} is not known; use {AUTH}={MANAGED_IDENTITY}, {AUTH}={AZURE_CLI} "
                          "or leave it unset")
    chosen = [(name, kind) for name, kind in ((SECRET, Kind.SECRET), (CERTIFICATE, Kind.CERTIFICATE),
                                              (TOKEN_FILE, Kind.FEDERATED)) if environ.get(name)]
    if auth:
        if chosen:
            needs = "a managed identity" if auth == MANAGED_IDENTITY else "the Azure CLI"
            raise ConfigError(
                f"{AUTH}={auth} and {chosen[0][0]} are both set: unset one of them "
                f"({needs} needs no other credential)"
            )
        return Kind.MANAGED_IDENTITY if auth == MANAGED_IDENTITY else Kind.AZURE_CLI
    if not chosen:
        if find_az(environ):
            return Kind.AZURE_CLI  # as DefaultAzureCredential: the account of `az login`
        raise ConfigError(
            f"no credential: set {SECRET}, {CERTIFICATE}, {TOKEN_FILE}, {AUTH}={MANAGED_IDENTITY} or "
            f"{AUTH}={AZURE_CLI} (the Azure CLI is not on PATH; see docs/signing-in.md)"
        )
    return chosen[0][1]


def from_environment(environ: Mapping[str, str]) -> Credential:
    kind = kind_from_environment(environ)
    if kind is Kind.SECRET:
        secret = environ[SECRET]
        return Credential(kind, f"client secret ({SECRET})", secret, secrets={secret})
    if kind is Kind.CERTIFICATE:
        return _certificate(environ[CERTIFICATE], environ.get(PASSWORD) or "")
    if kind is Kind.FEDERATED:
        return _federated(environ[TOKEN_FILE])
    if kind is Kind.AZURE_CLI:
        return _azure_cli(environ)
    client_id = (environ.get("AZURE_CLIENT_ID") or "").strip() or None
    shown = f"user-assigned, client id {client_id}" if client_id else "system-assigned"
    return Credential(kind, f"managed identity ({shown}; {AUTH}={MANAGED_IDENTITY})",
                      user_assigned_id=client_id)


def _azure_cli(environ: Mapping[str, str]) -> Credential:
    az, automatic = find_az(environ), not (environ.get(AUTH) or "").strip()
    if az is None:
        raise ConfigError(f"{AUTH}={AZURE_CLI}: az is not installed: the Azure CLI was not found on PATH; install "
                          "it (https://aka.ms/azure-cli) and run az login, or choose another credential")
    how = "no credential variable is set" if automatic else f"{AUTH}={AZURE_CLI}"
    return Credential(Kind.AZURE_CLI, f"Azure CLI (the account az is signed in as; {az}, {how})",
                      executable=az, automatic=automatic)


def sign_in_notices(environ: Mapping[str, str]) -> list[Diagnostic]:
    """What to tell before signing in: the credential file warnings below, and, when the
    Azure CLI was chosen because no credential variable is set, that its account is used."""
    notices = credential_file_warnings(environ)
    try:
        automatic = kind_from_environment(environ) is Kind.AZURE_CLI and not (environ.get(AUTH) or "").strip()
    except ConfigError:
        return notices
    if automatic:
        notices.append(Diagnostic(Severity.WARNING, automatic_notice(find_az(environ) or "az")))
    return notices


def automatic_notice(az: str) -> str:
    return (f"no credential variable is set: signing in as the account of the Azure CLI ({az}); "
            f"set {AUTH}={AZURE_CLI} to choose it explicitly, or another credential (docs/signing-in.md)")


def credential_file_warnings(environ: Mapping[str, str]) -> list[Diagnostic]:
    """A warning when the credential file signed in with is readable by group or others:
    a certificate file with its private key (PEM or PFX), or a federated token file. Not
    for a PEM holding no private key (only public), nor when there is no such file."""
    try:
        kind = kind_from_environment(environ)
    except ConfigError:
        return []
    if os.name == "nt" or kind not in (Kind.CERTIFICATE, Kind.FEDERATED):
        return []
    variable = CERTIFICATE if kind is Kind.CERTIFICATE else TOKEN_FILE
    path = environ[variable]
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return []
    if not (stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH)):
        return []
    if kind is Kind.CERTIFICATE and not _holds_private_key(path):
        return []
    who = " and ".join(w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit)
    why = "holds a private key" if kind is Kind.CERTIFICATE else "whoever reads its token can sign in as the app"
    return [Diagnostic(Severity.WARNING, f"{variable}={path} is readable by {who} (mode {stat.S_IMODE(mode):04o}), "
                                         f"and {why}; make it private: chmod 600 {path}")]


def _holds_private_key(path: str) -> bool:
    """A PFX always does; a PEM when it has a private key block."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"-----BEGIN" not in data or _KEY_BLOCK.search(data) is not None


# -- certificate -----------------------------------------------------------------


def _certificate(path: str, password: str) -> Credential:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"{CERTIFICATE}={path}: cannot read it ({e.strerror or type(e).__name__})") from None
    secrets = {password} if password else set()
    if b"-----BEGIN" in data:
        key, cert, key_pem = _from_pem(path, data, password)
        form = "PEM"
        msal_credential: dict = {"private_key": key_pem.decode("ascii"), "thumbprint": _sha1(cert)}
        secrets.add(key_pem.decode("ascii"))
        secrets.update(line for line in key_pem.decode("ascii").splitlines() if len(line) >= 32)
    else:
        key, cert = _from_pfx(path, data, password)
        form = "PFX"
        msal_credential = {"private_key_pfx_path": path}
    if password:
        msal_credential["passphrase"] = password
    _check_usable(path, key, cert)
    until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    description = f"certificate ({form} {path}, SHA-1 thumbprint {_sha1(cert).upper()}, valid until {until})"
    return Credential(Kind.CERTIFICATE, description, msal_credential, thumbprint=_sha1(cert).upper(),
                      secrets=secrets)


def _from_pem(path: str, data: bytes, password: str):
    from cryptography import x509  # lazily, as in the functions below: only certificate credentials need it
    from cryptography.hazmat.primitives import serialization

    block = _KEY_BLOCK.search(data)
    if block is None:
        raise ConfigError(f"{CERTIFICATE}={path}: the PEM file holds no private key; put the "
                          "certificate and its private key in one file (or use a PFX)")
    try:
        key = serialization.load_pem_private_key(block.group(0), password.encode() or None)
    except TypeError:  # encrypted without a password, or a password for a plain key
        what = f"set {PASSWORD}" if not password else f"unset {PASSWORD}: the key is not encrypted"
        raise ConfigError(f"{CERTIFICATE}={path}: {what}") from None
    except ValueError:
        raise ConfigError(f"{CERTIFICATE}={path}: cannot read the private key; check {PASSWORD}") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public = key.public_key().public_bytes(*spki)
    for cert in certificates:
        if cert.public_key().public_bytes(*spki) == public:
            return key, cert, block.group(0)
    raise ConfigError(f"{CERTIFICATE}={path}: no certificate in the file matches its private key")


def _from_pfx(path: str, data: bytes, password: str):
    from cryptography.hazmat.primitives.serialization import pkcs12  # lazily, as in _from_pem

    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError:
        hint = f"wrong {PASSWORD}" if password else f"{PASSWORD} is not set"
        raise ConfigError(f"{CERTIFICATE}={path}: cannot open it as PEM or PFX ({hint}, or not a "
                          "certificate file)") from None
    if key is None or cert is None:
        raise ConfigError(f"{CERTIFICATE}={path}: the PFX must hold the certificate and its private key")
    return key, cert


def _check_usable(path: str, key, cert) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa  # lazily, as in _from_pem

    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{CERTIFICATE}={path}: Entra ID accepts RSA certificates only")
    now = _dt.datetime.now(_dt.timezone.utc)
    if cert.not_valid_after_utc < now:
        raise ConfigError(f"{CERTIFICATE}={path}: the certificate expired on "
                          f"{cert.not_valid_after_utc:%Y-%m-%d}; make a new one and upload it to the app registration")
    if cert.not_valid_before_utc > now:
        raise ConfigError(f"{CERTIFICATE}={path}: the certificate is not valid before "
                          f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")


def _sha1(cert) -> str:
    from cryptography.hazmat.primitives import hashes  # lazily, as in _from_pem

    return cert.fingerprint(hashes.SHA1()).hex()


# -- federated token -------------------------------------------------------------


def _federated(path: str) -> Credential:
    if not os.path.isfile(path):
        raise ConfigError(f"{TOKEN_FILE}={path}: no such file")
    credential = Credential(Kind.FEDERATED, f"federated token ({TOKEN_FILE}={path}, read for each token)")
    credential.msal_credential = {"client_assertion": _token_reader(path, credential.secrets)}
    return credential


def _token_reader(path: str, secrets: set[str]) -> Callable[[], str]:
    def read() -> str:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.read().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise AuthError(f"{TOKEN_FILE}={path}: cannot read it ({getattr(e, 'strerror', None) or type(e).__name__})") from None
        if not token:
            raise AuthError(f"{TOKEN_FILE}={path}: the file is empty; the pipeline did not write its token")
        secrets.add(token)
        return token

    return read
