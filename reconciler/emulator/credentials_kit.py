"""Helpers to try every credential kind on the emulator: registered client certificates
(read from ``--client-certificate`` files, or made here for tests), federated tokens,
and the managed-identity environment."""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from .assertions import FEDERATED_AUDIENCE, Certificate, read_certificates
from .identity import APP_SERVICE_PATH


def read_certificate_files(paths: Sequence[str]) -> list[Certificate]:
    """The certificates of PEM files; ValueError names a file that holds none."""
    found: list[Certificate] = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                certificates = read_certificates(fh.read())
        except OSError as exc:
            raise ValueError(f"--client-certificate {path}: {exc.strerror or exc}") from None
        if not certificates:
            raise ValueError(f"--client-certificate {path}: no PEM certificate "
                             "('-----BEGIN CERTIFICATE-----') in it")
        found.extend(certificates)
    return found


def make_client_certificate(common_name: str = "b2ckeys client",
                            days: int = 30) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed RSA 2048 certificate, as one makes for an app registration."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _dt.datetime.now(_dt.timezone.utc)
    start, end = (now - _dt.timedelta(days=1), now + _dt.timedelta(days=days)) if days > 0 \
        else (now + _dt.timedelta(days=days - 1), now + _dt.timedelta(days=days))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .sign(key, hashes.SHA256()))
    return key, cert


class CredentialHelpers:
    """Mixed into ``Emulator``: what tests and users need for non-secret credentials."""

    url: str
    identity_header: str
    certificates: Any
    federated: Any
    config: Any

    def register_client_certificate(self, pem: bytes) -> None:
        """Register the certificate(s) of a PEM blob on the app (until ``reset``)."""
        certificates = read_certificates(pem)
        if not certificates:
            raise ValueError("no PEM certificate in the given bytes")
        self.certificates.add(certificates)

    def write_client_certificate(self, path: str, *, password: Optional[str] = None,
                                 register: bool = True, days: int = 30) -> str:
        """Make a certificate and its key and write them to ``path``: PKCS#12 when the
        name ends in .pfx or .p12 (protected by ``password`` if given), else PEM
        (certificate, then the private key, encrypted with ``password`` if given).
        Register the certificate on the app unless ``register`` is false. Returns the
        SHA-1 thumbprint (hex), as the portal shows it. ``days`` <= 0 makes an expired one."""
        key, cert = make_client_certificate(days=days)
        protect: Any = (serialization.BestAvailableEncryption(password.encode())
                        if password else serialization.NoEncryption())
        if path.lower().endswith((".pfx", ".p12")):
            data = pkcs12.serialize_key_and_certificates(b"b2ckeys", key, cert, None, protect)
        else:
            data = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protect)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if register:
            self.register_client_certificate(cert.public_bytes(serialization.Encoding.PEM))
        return cert.fingerprint(hashes.SHA1()).hex().upper()

    def federated_token(self, subject: Optional[str] = None, *, lifetime: int = 600,
                        audience: str = FEDERATED_AUDIENCE) -> str:
        """What ``GET /_emulator/federated-token`` hands out: a JWT from the built-in
        issuer for ``subject`` (default: the configured federated subject)."""
        return self.federated.issue(subject or self.config.current.federated_subject,
                                    lifetime=lifetime, audience=audience)

    @property
    def managed_identity_env(self) -> dict[str, str]:
        """The variables msal's managed identity client reads (App Service protocol),
        plus ``B2CKEYS_AUTH``; msal reads them from the process environment."""
        return {"B2CKEYS_AUTH": "managed-identity",
                "IDENTITY_ENDPOINT": self.url + APP_SERVICE_PATH,
                "IDENTITY_HEADER": self.identity_header}
