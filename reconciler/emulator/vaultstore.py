"""The state of the emulated Key Vaults: per vault, its secrets (every version), its
certificates (every version) and the roles the emulator's app holds on it.

Names compare case-insensitively, as Key Vault's do; the name given first is kept.
Versions are 32 hex digits. ``dump`` shows a secret's value only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

SECRETS_OFFICER = "Key Vault Secrets Officer"
CERTIFICATES_OFFICER = "Key Vault Certificates Officer"
DEFAULT_VAULT_ROLES = (SECRETS_OFFICER, CERTIFICATES_OFFICER)
_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_VAULT = re.compile(r"^[A-Za-z][0-9A-Za-z-]{1,22}[0-9A-Za-z]$")
MAX_VALUE_BYTES = 25 * 1024


class VaultError(Exception):
    """An answer of Key Vault's error shape: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, inner: str = ""):
        super().__init__(f"{status} {code}")
        self.status, self.code, self.message, self.inner = status, code, message, inner


@dataclass(frozen=True)
class SecretVersion:
    version: str
    value: str
    content_type: Optional[str]
    enabled: bool
    nbf: Optional[int]
    exp: Optional[int]
    created: int
    tags: Optional[dict[str, str]] = None
    managed: bool = False              # backs a certificate (Import Certificate made it)


@dataclass(frozen=True)
class CertificateVersion:
    version: str
    der: bytes                         # the X.509 certificate
    enabled: bool
    nbf: Optional[int]
    exp: Optional[int]
    created: int
    content_type: str                  # of the secret that holds its private key
    subject: str = ""
    tags: Optional[dict[str, str]] = None


@dataclass
class Vault:
    name: str
    roles: tuple[str, ...] = DEFAULT_VAULT_ROLES
    secrets: dict[str, tuple[str, list[SecretVersion]]] = field(default_factory=dict)
    certificates: dict[str, tuple[str, list[CertificateVersion]]] = field(default_factory=dict)


def check_vault_name(name: str) -> str:
    """Key Vault's rule for vault names: 3-24 characters, letters, digits and dashes,
    starting with a letter, not ending with a dash. ValueError otherwise."""
    if not _VAULT.match(name) or "--" in name:
        raise ValueError(f"not a Key Vault name: {name[:40]!r} (3-24 letters, digits and dashes, "
                         "starting with a letter, no '--', not ending with '-')")
    return name


def check_name(name: str, kind: str = "secret") -> str:
    if not _NAME.match(name):
        raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: "
                                              f"{name[:127]} (a {kind} name has 1-127 letters, "
                                              "digits and dashes)")
    return name


def new_version() -> str:
    return uuid.uuid4().hex


class VaultStore:
    """Thread-safe. The vaults named at start come back on ``reset``, empty, with their
    default roles."""

    def __init__(self, names: tuple[str, ...] | list[str] = ()):
        self._start = tuple(check_vault_name(n) for n in names)
        self._lock = threading.Lock()
        self._vaults: dict[str, Vault] = {}
        self.reset()

    @property
    def names(self) -> list[str]:
        with self._lock:
            return [v.name for v in self._vaults.values()]

    def reset(self) -> None:
        with self._lock:
            self._vaults = {n.lower(): Vault(n) for n in self._start}

    def vault(self, name: str) -> Vault:
        found = self._vaults.get(name.lower())
        if found is None:
            raise VaultError(404, "VaultNotFound", f"No vault named '{name[:40]}' is served here "
                                                    "(start the emulator with --vault NAME).")
        return found

    def add_vault(self, name: str) -> None:
        check_vault_name(name)
        with self._lock:
            self._vaults.setdefault(name.lower(), Vault(name))

    def set_roles(self, name: str, roles: list[str]) -> tuple[str, ...]:
        with self._lock:
            vault = self.vault(name)
            vault.roles = tuple(roles)
            return vault.roles

    def roles(self, name: str) -> tuple[str, ...]:
        with self._lock:
            return self.vault(name).roles

    # -- secrets -----------------------------------------------------------------------
    def set_secret(self, vault_name: str, name: str, version: SecretVersion) -> SecretVersion:
        check_name(name)
        if len(version.value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise VaultError(400, "BadParameter", "The secret value exceeds the maximum size "
                                                  f"of {MAX_VALUE_BYTES} bytes.")
        with self._lock:
            vault = self.vault(vault_name)
            shown, versions = vault.secrets.get(name.lower(), (name, []))
            vault.secrets[name.lower()] = (shown, versions + [version])
            return version

    def secret(self, vault_name: str, name: str,
               version: Optional[str] = None) -> tuple[str, SecretVersion]:
        """(the secret's name as first given, the version: the latest when None)."""
        with self._lock:
            shown, versions = self._secret_versions(vault_name, name)
            if version is None:
                return shown, versions[-1]
            for item in versions:
                if item.version == version.lower():
                    return shown, item
        raise VaultError(404, "SecretNotFound", f"A secret with (name/id) {name}/{version[:64]} "
                                                "was not found in this key vault. If you recently "
                                                "deleted this secret you may be able to recover it "
                                                "using the correct recovery command. For help "
                                                "resolving this issue, please see "
                                                "https://go.microsoft.com/fwlink/?linkid=2125182")

    def versions(self, vault_name: str, name: str) -> tuple[str, list[SecretVersion]]:
        with self._lock:
            shown, versions = self._secret_versions(vault_name, name)
            return shown, list(versions)

    def _secret_versions(self, vault_name: str, name: str) -> tuple[str, list[SecretVersion]]:
        check_name(name)
        found = self.vault(vault_name).secrets.get(name.lower())
        if not found:
            raise VaultError(404, "SecretNotFound", f"A secret with (name/id) {name} was not "
                                                    "found in this key vault. If you recently "
                                                    "deleted this secret you may be able to "
                                                    "recover it using the correct recovery "
                                                    "command. For help resolving this issue, "
                                                    "please see "
                                                    "https://go.microsoft.com/fwlink/?linkid=2125182")
        return found

    # -- certificates ------------------------------------------------------------------
    def import_certificate(self, vault_name: str, name: str, cert: CertificateVersion,
                           secret_value: str) -> CertificateVersion:
        """The certificate's new version, and the secret of the same name (same version id,
        the PFX or PEM in its value), as Key Vault makes them."""
        check_name(name, "certificate")
        secret = SecretVersion(cert.version, secret_value, cert.content_type, cert.enabled,
                               cert.nbf, cert.exp, cert.created, cert.tags, managed=True)
        with self._lock:
            vault = self.vault(vault_name)
            shown, versions = vault.certificates.get(name.lower(), (name, []))
            vault.certificates[name.lower()] = (shown, versions + [cert])
            s_shown, s_versions = vault.secrets.get(name.lower(), (name, []))
            vault.secrets[name.lower()] = (s_shown, s_versions + [secret])
        return cert

    def certificate(self, vault_name: str, name: str,
                    version: Optional[str] = None) -> tuple[str, CertificateVersion]:
        check_name(name, "certificate")
        with self._lock:
            shown, versions = self.vault(vault_name).certificates.get(name.lower(), (name, []))
            for item in reversed(versions):
                if version is None or item.version == version.lower():
                    return shown, item
        raise VaultError(404, "CertificateNotFound", f"A certificate with (name/id) {name}"
                                                     f"{'/' + version[:64] if version else ''} "
                                                     "was not found in this key vault.")

    # -- for /_emulator/state ----------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"name": v.name, "roles": list(v.roles),
                     "secrets": [{"name": shown, "versions": [_dump_secret(s) for s in versions]}
                                 for shown, versions in v.secrets.values()],
                     "certificates": [{"name": shown, "versions": [
                         {"version": c.version, "subject": c.subject, "enabled": c.enabled,
                          "nbf": c.nbf, "exp": c.exp, "created": c.created,
                          "x5t_sha256": hashlib.sha256(c.der).hexdigest()} for c in versions]}
                         for shown, versions in v.certificates.values()]}
                    for v in self._vaults.values()]


def _dump_secret(s: SecretVersion) -> dict[str, Any]:
    return {"version": s.version, "sha256": hashlib.sha256(s.value.encode("utf-8")).hexdigest(),
            "contentType": s.content_type, "enabled": s.enabled, "nbf": s.nbf, "exp": s.exp,
            "created": s.created, "managed": s.managed}


def now() -> int:
    return int(time.time())


__all__ = ["VaultStore", "VaultError", "SecretVersion", "CertificateVersion"]
