"""A Key Vault certificate's PFX, re-wrapped for uploadPkcs12.

Key Vault keeps an imported or issued certificate, with its private key, as the secret of
the same name: a base64 PFX without a password (contentType application/x-pkcs12), or a PEM
bundle (application/x-pem-file). uploadPkcs12 takes a PFX and its password, so the key and
certificate are written again into a PFX encrypted with a one-time random password, made
here and sent with it only. The certificate must be the one the plan was made for (its
thumbprint), else the upload is refused: make a new plan.
"""

from __future__ import annotations

import base64
import binascii
import secrets as _random

from ..core.errors import ManifestError
from ..core.model import DesiredKey, KeyKind
from .certificates import CertificateProblem, facts_of

PASSWORD_BYTES = 24


def rewrap(key: DesiredKey, secret_value: str) -> dict:
    """The uploadPkcs12 body (`key`, `password`) for `key`'s vault certificate, from the secret's
    value; for a `certificate` key, uploadCertificate's (`key`: the DER certificate)."""
    from cryptography.hazmat.primitives import hashes, serialization  # lazily: only vault certificates need it
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        private_key, cert, chain = _load(secret_value)
        if cert is None or private_key is None:
            raise CertificateProblem("holds no certificate with its private key; uploadPkcs12 needs both")
        facts = facts_of(cert)
    except CertificateProblem as e:
        raise ManifestError.at(key.file.location, f"{key.file}: {e}") from None
    if facts.x5t != key.x5t:
        raise ManifestError.at(key.file.location, f"{key.file} holds the certificate {facts.x5t} now, the plan "
                               f"uploads {key.x5t}; make a new plan")
    if key.kind is KeyKind.CERTIFICATE:  # uploadCertificate: the certificate only, never its key
        return {"key": base64.b64encode(facts.der).decode()}
    password = _random.token_urlsafe(PASSWORD_BYTES)
    # PBES1 3DES and SHA-1 MAC: the PKCS#12 form every Windows and .NET reader opens
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(50_000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
                  .build(password.encode()))
    data = pkcs12.serialize_key_and_certificates(None, private_key, cert, chain or None, encryption)
    return {"key": base64.b64encode(data).decode(), "password": password}


def _load(value: str):
    from cryptography import x509  # lazily, as above
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    text = value.strip()
    if text.startswith("-----BEGIN"):  # application/x-pem-file
        raw = text.encode()
        certs = x509.load_pem_x509_certificates(raw)
        try:
            private_key = serialization.load_pem_private_key(raw, None)
        except (ValueError, TypeError):
            raise CertificateProblem("is a PEM bundle without an unencrypted private key") from None
        return private_key, certs[0], certs[1:]
    try:
        data = base64.b64decode(text, validate=True)
        return pkcs12.load_key_and_certificates(data, None)
    except (ValueError, TypeError, binascii.Error):
        raise CertificateProblem("is not a PFX without a password (as Key Vault stores a certificate's secret)") from None
