"""Test certificates made with cryptography: one RSA key per process (key generation is the
slow part), certificates with chosen validity, written as PEM, DER, base64 or PFX."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

DAY = 86_400
PFX_PASSWORD = "CANARY-pfx-password-5e1f"


@functools.lru_cache(maxsize=4)
def rsa_key(n: int = 0):
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(cn: str = "b2ckeys test", *, nbf: int, days: int = 365, key=None) -> x509.Certificate:
    key = key or rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = dt.datetime.fromtimestamp(nbf, dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days)).sign(key, hashes.SHA256()))


def ec_certificate(nbf: int) -> x509.Certificate:
    return certificate("ec", nbf=nbf, key=ec.generate_private_key(ec.SECP256R1()))


def x5t(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")


def write(path: Path, cert: x509.Certificate, form: str = "pem", *, password: str = PFX_PASSWORD,
          with_key: bool = False) -> Path:
    """form: pem, der, base64 (of DER) or pfx. A PEM may carry its private key too (with_key)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    if form == "pem":
        data = cert.public_bytes(serialization.Encoding.PEM)
        if with_key:
            data = rsa_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()) + data
    elif form == "der":
        data = der
    elif form == "base64":
        data = base64.encodebytes(der)
    else:
        data = pkcs12.serialize_key_and_certificates(
            b"b2ckeys", rsa_key(), cert, None, serialization.BestAvailableEncryption(password.encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
