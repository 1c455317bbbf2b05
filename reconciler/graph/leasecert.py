"""The certificate that carries a tenant lease (`reconciler.graph.lease`).

A key set holds keys only, and a key's readable fields are few: `kid` (the service's),
`kty`, `use`, `nbf`, `exp`, `x5t` and `x5c`. A public certificate uploaded with the
documented `uploadCertificate` is the one key whose readable fields the writer chooses:
its validity becomes the key's `nbf`/`exp` (since when the lease is held, until when),
its thumbprint (`x5t`) is known to the writer before the upload (the lock ID), and its
subject, readable from `x5c` where the service returns it, names the holder. The private
key is thrown away: nobody signs anything with it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading

SUBJECT = "b2ckeys tenant lease"
_MAX_ATTRIBUTE = 64  # X.509's upper bound for these name attributes (RFC 5280)

_KEY = None
_KEY_LOCK = threading.Lock()


def lease_certificate(holder: str, run: str, since: int, until: int) -> bytes:
    """A self-signed certificate (DER) valid from `since` to `until` (epoch seconds), whose
    subject names the holder (`user@host pid N`) and the pipeline run, if any."""
    from cryptography import x509  # lazily: only apply, probe and force-unlock hold a lease
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT),
                  x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _attribute(holder))]
    if run:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _attribute(run)))
    name = x509.Name(attributes)
    key = _signing_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.fromtimestamp(since, dt.timezone.utc))
        .not_valid_after(dt.datetime.fromtimestamp(until, dt.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding  # lazily, as above

    return certificate.public_bytes(Encoding.DER)


def thumbprint(der: bytes) -> str:
    """x5t: base64url of the certificate's SHA-1, unpadded (as Graph shows it)."""
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")


def certificate_facts(x5c: object) -> tuple[str | None, int | None, int | None]:
    """(holder, since, until) from the first certificate of an `x5c` Graph returned, if it is
    a lease certificate; (None, None, None) otherwise. The holder is `holder (run)`:
    untrusted text, which the caller escapes before showing it."""
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        return None, None, None
    try:
        from cryptography import x509  # lazily, as above
        from cryptography.x509.oid import NameOID

        certificate = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
        subject = certificate.subject
        if [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] != [SUBJECT]:
            return None, None, None
        holder = " ".join(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME))
        run = " ".join(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        since = int(certificate.not_valid_before_utc.timestamp())
        until = int(certificate.not_valid_after_utc.timestamp())
    except (ValueError, TypeError):
        return None, None, None
    return (f"{holder} ({run})" if run else (holder or None)), since, until


def _attribute(text: str) -> str:
    return (text.strip() or "?")[:_MAX_ATTRIBUTE]


def _signing_key():
    """One RSA key per process: B2C takes RSA certificates; the key signs nothing else."""
    global _KEY
    with _KEY_LOCK:
        if _KEY is None:
            from cryptography.hazmat.primitives.asymmetric import rsa  # lazily, as above

            _KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEY
