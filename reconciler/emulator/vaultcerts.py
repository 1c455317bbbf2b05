"""Key Vault certificates, as far as certificate references need: Import Certificate
(``POST {vault}/certificates/{name}/import``: a base64 PFX with an optional password, or
PEM) and Get Certificate (``GET {vault}/certificates/{name}[/{version}]``).

As Azure does, an import also makes the secret of the same name and version holding the
private key: a PFX without a password (``application/x-pkcs12``, base64) or, when the
policy's ``secret_props.contentType`` says ``application/x-pem-file``, the key and the
certificate in PEM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Optional, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from .pipeline import Context, Response
from .vaultroles import Action
from .vaultstore import CertificateVersion, VaultError, VaultStore, new_version, now
from .vaultwire import RECOVERY, attributes, json_object, tags


class VaultSide(Protocol):
    """What the certificates need of the vault's API (`vault.VaultApi`, which passes itself in)."""

    store: VaultStore

    def authorize(self, ctx: Context, vault: str, action: Action, collection: str, name: str) -> None: ...

    def item_id(self, collection: str, name: str, version: str = "") -> str: ...


PKCS12, PEM = "application/x-pkcs12", "application/x-pem-file"


def _bad(message: str) -> VaultError:
    return VaultError(400, "BadParameter", message)


def _parse(value: str, password: str, content_type: str) -> tuple[Any, x509.Certificate, list]:
    """(private key, certificate, other certificates); errors never echo the input."""
    if content_type == PEM:
        data = value.encode("utf-8")
        try:
            key = serialization.load_pem_private_key(data, None)
            certs = x509.load_pem_x509_certificates(data)
        except (ValueError, TypeError):
            raise _bad("The specified PEM X.509 certificate content is in an unexpected "
                       "format. Please check if certificate is in valid PEM format.") from None
        return key, certs[0], certs[1:]
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("The specified PKCS#12 X.509 certificate content can not be read. Please "
                   "check if certificate is in valid PKCS#12 format.") from None
    try:
        key, cert, others = pkcs12.load_key_and_certificates(
            raw, password.encode("utf-8") if password else None)
    except (ValueError, TypeError):
        raise _bad("The specified PKCS#12 X.509 certificate content can not be read. Please "
                   "check if certificate is in valid PKCS#12 format, and the password (pwd) "
                   "is the right one.") from None
    if key is None or cert is None:
        raise _bad("The specified X.509 certificate content has no private key, or no "
                   "certificate.")
    return key, cert, list(others)


def _secret_value(key: Any, cert: x509.Certificate, others: list, content_type: str) -> str:
    if content_type == PEM:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return (pem + b"".join(c.public_bytes(serialization.Encoding.PEM)
                               for c in [cert] + others)).decode("ascii")
    pfx = pkcs12.serialize_key_and_certificates(None, key, cert, others or None,
                                                serialization.NoEncryption())
    return base64.b64encode(pfx).decode("ascii")


def _key_props(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        return {"exportable": True, "kty": "RSA", "key_size": key.key_size, "reuse_key": False}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"exportable": True, "kty": "EC", "crv": {"secp256r1": "P-256", "secp384r1": "P-384",
                                                         "secp521r1": "P-521"}.get(key.curve.name, ""),
                "reuse_key": False}
    raise _bad("The certificate's key type is not supported: RSA and EC only.")


class CertificatesApi:
    def __init__(self, api: VaultSide):
        self.api = api

    def route(self, ctx: Context, vault: str, rest: list[str]) -> Response:
        method = ctx.request.method
        if len(rest) == 2 and rest[1] == "import" and method == "POST":
            self.api.authorize(ctx, vault, Action.IMPORT_CERTIFICATE, "certificates", rest[0])
            return self.import_certificate(ctx, vault, rest[0])
        if len(rest) in (1, 2) and method == "GET":
            self.api.authorize(ctx, vault, Action.READ_CERTIFICATE, "certificates", rest[0])
            shown, cert = self.api.store.certificate(vault, rest[0],
                                                     rest[1] if len(rest) == 2 else None)
            return Response.json(200, self.bundle(shown, cert, key=None))
        if len(rest) in (1, 2):
            raise VaultError(405, "MethodNotAllowed", f"The method {method[:10]} is not allowed "
                                                      "on this resource.")
        raise VaultError(404, "NotFound", "The requested resource was not found.")

    def import_certificate(self, ctx: Context, vault: str, name: str) -> Response:
        body = json_object(ctx)
        value, password = body.get("value"), body.get("pwd") or ""
        if not isinstance(value, str) or not value or not isinstance(password, str):
            raise _bad("Property 'value' is required: the base64 PFX or the PEM text; 'pwd', "
                       "when given, is a string.")
        policy = body.get("policy") if isinstance(body.get("policy"), dict) else {}
        secret_props = policy.get("secret_props") if isinstance(policy.get("secret_props"), dict) \
            else {}
        content_type = secret_props.get("contentType") or PKCS12
        if content_type not in (PKCS12, PEM):
            raise _bad(f"The content type must be {PKCS12} or {PEM}.")
        key, cert, others = _parse(value, password, content_type)
        enabled, _, _ = attributes(body.get("attributes"))
        item = CertificateVersion(
            new_version(), cert.public_bytes(serialization.Encoding.DER), enabled,
            int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp()),
            now(), content_type, cert.subject.rfc4514_string(), tags(body.get("tags")))
        self.api.store.import_certificate(vault, name, item,
                                          _secret_value(key, cert, others, content_type))
        ctx.committed = True
        shown, _ = self.api.store.certificate(vault, name, item.version)
        return Response.json(200, self.bundle(shown, item, key=key))

    def bundle(self, name: str, cert: CertificateVersion, key: Optional[Any]) -> dict[str, Any]:
        ident = self.api.item_id
        parsed = x509.load_der_x509_certificate(cert.der)
        public = parsed.public_key()
        key_props = _key_props(key) if key is not None else _public_props(public)
        months = max(1, ((cert.exp or 0) - (cert.nbf or 0)) // (30 * 86400))
        attrs = {"enabled": cert.enabled, "nbf": cert.nbf, "exp": cert.exp,
                 "created": cert.created, "updated": cert.created,
                 **RECOVERY}
        out = {"id": ident("certificates", name, cert.version),
               "kid": ident("keys", name, cert.version),
               "sid": ident("secrets", name, cert.version),
               "x5t": base64.urlsafe_b64encode(hashlib.sha1(cert.der).digest()).decode().rstrip("="),
               "cer": base64.b64encode(cert.der).decode("ascii"),
               "attributes": attrs,
               "policy": {"id": ident("certificates", name) + "/policy", "key_props": key_props,
                          "secret_props": {"contentType": cert.content_type},
                          "x509_props": {"subject": cert.subject, "ekus": [], "key_usage": [],
                                         "validity_months": months},
                          "lifetime_actions": [{"trigger": {"lifetime_percentage": 80},
                                                "action": {"action_type": "EmailContacts"}}],
                          "issuer": {"name": "Unknown"},
                          "attributes": {"enabled": True, "created": cert.created,
                                         "updated": cert.created}}}
        if cert.tags:
            out["tags"] = cert.tags
        return out


def _public_props(public: Any) -> dict[str, Any]:
    if isinstance(public, rsa.RSAPublicKey):
        return {"exportable": True, "kty": "RSA", "key_size": public.key_size, "reuse_key": False}
    return {"exportable": True, "kty": "EC", "reuse_key": False}
