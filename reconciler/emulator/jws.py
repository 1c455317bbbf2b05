"""Compact JWS with ``cryptography`` only: sign (RS256), verify (RS256, PS256), JWKS.

Just what the token service needs: the emulator signs access tokens and federated
tokens with RSA keys and checks them again when they come back; it checks client
assertions signed RS256 (msal, PEM + SHA-1 thumbprint) or PS256 (msal, PFX).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class TokenInvalid(Exception):
    """The token is malformed or its signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise TokenInvalid("bad base64url") from exc


def int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def rsa_public_jwk(public: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {"kty": "RSA", "n": int_b64url(numbers.n), "e": int_b64url(numbers.e)}


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint (SHA-256) of an RSA JWK."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")},
                           separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def _json_segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS, unverified."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise TokenInvalid("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    except (ValueError, UnicodeEncodeError) as exc:
        raise TokenInvalid("bad JSON segment") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenInvalid("header and claims must be objects")
    return header, claims, signing_input, b64url_decode(parts[2])


def verify_signature(public_key: Any, alg: str, signing_input: bytes, signature: bytes) -> None:
    """Check an RS256 or PS256 signature (PSS salt = digest length, RFC 7518 3.5)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TokenInvalid("not an RSA key")
    if alg == "RS256":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                          salt_length=hashes.SHA256.digest_size)
    else:
        raise TokenInvalid(f"unsupported alg {alg!r}")
    try:
        public_key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise TokenInvalid("bad signature") from exc


class RsaSigner:
    """One RS256 signing key with its ``kid`` (the JWK thumbprint)."""

    def __init__(self, key: rsa.RSAPrivateKey | None = None):
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        self.kid = jwk_thumbprint(rsa_public_jwk(self.public_key))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**rsa_public_jwk(self.public_key),
                          "use": "sig", "kid": self.kid, "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = (_json_segment({"typ": "JWT", "alg": "RS256", "kid": self.kid})
                         + "." + _json_segment(claims))
        signature = self._key.sign(signing_input.encode("ascii"),
                                   padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of ``token`` if it is an RS256 JWS signed by this key."""
        header, claims, signing_input, signature = decode(token)
        if header.get("alg") != "RS256":
            raise TokenInvalid("alg must be RS256")
        if header.get("kid") != self.kid:
            raise TokenInvalid("unknown kid")
        verify_signature(self.public_key, "RS256", signing_input, signature)
        return claims
