"""The bodies of uploadCertificate and uploadPkcs12, parsed with cryptography into the key
they add. Private material is never kept: a PKCS#12 file's private key is reduced to the
SHA-256 of its DER at once, as the store does for every secret."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
from dataclasses import dataclass
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from .jws import int_b64url
from .keymodel import StoreError

_BAD_CERTIFICATE = "The uploaded certificate is not valid."


@dataclass(frozen=True)
class Uploaded:
    """What an upload adds: always an RSA signing key with the certificate's validity."""

    nbf: int
    exp: int
    x5t: str
    x5c: list[str]
    n: str
    e: str
    secret_sha256: str


def _invalid(code: str, message: str) -> StoreError:
    return StoreError("invalid", code, message)


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise _invalid("AADB2C90253", f"The trustframework keyset parameter '{name}' is missing")
    if not isinstance(value, str):
        raise _invalid("BadRequest", f"Cannot convert the value of the property '{name}' to the expected "
                                     "type 'Edm.String'.")
    return value


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("AADB2C", _BAD_CERTIFICATE) from None


def _uploaded(cert: x509.Certificate, secret: bytes, now: float) -> Uploaded:
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise _invalid("AADB2C95031", "Bad kty for the trustframework key. Must be RSA or oct.")
    nbf = int(cert.not_valid_before_utc.timestamp())
    exp = int(cert.not_valid_after_utc.timestamp())
    if exp <= now:
        raise _invalid("AADB2C", "The uploaded certificate has expired.")
    der = cert.public_bytes(serialization.Encoding.DER)
    numbers = public.public_numbers()
    return Uploaded(nbf, exp, base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("="),
                    [base64.b64encode(der).decode()], int_b64url(numbers.n), int_b64url(numbers.e),
                    hashlib.sha256(secret).hexdigest())


def from_certificate_body(body: dict[str, Any], now: Optional[float] = None) -> Uploaded:
    """`{"key": base64 of the certificate}`: DER, or the text of a PEM file."""
    raw = _base64(_field(body, "key"))
    try:
        cert = (x509.load_pem_x509_certificate(raw) if b"-----BEGIN CERTIFICATE-----" in raw
                else x509.load_der_x509_certificate(raw))
    except ValueError:
        raise _invalid("AADB2C", _BAD_CERTIFICATE) from None
    return _uploaded(cert, cert.public_bytes(serialization.Encoding.DER), _now(now))


def from_pkcs12_body(body: dict[str, Any], now: Optional[float] = None) -> Uploaded:
    """`{"key": base64 of a .pfx, "password": ...}`; a wrong password is AADB2C95025."""
    raw = _base64(_field(body, "key"))
    password = _field(body, "password")
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(raw, password.encode("utf-8"))
    except ValueError:  # cryptography does not tell a wrong password from a damaged file
        raise _invalid("AADB2C95025", "The presented password for the uploaded certificate is wrong.") from None
    if cert is None or key is None:
        raise _invalid("AADB2C", _BAD_CERTIFICATE)
    private = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return _uploaded(cert, private, _now(now))


def _now(now: Optional[float]) -> float:
    return now if now is not None else _dt.datetime.now(_dt.timezone.utc).timestamp()
