"""The body of ``PUT /trustFramework/keySets/{id}`` (trustframeworkkeyset-update): the keys
that replace all of a key set's keys, as JWKs with their private material.

``{"id": "<the same key set>" (optional), "keys": [JWK, ...]}``. Each JWK: no ``kid``
(a non-empty one is AADB2C95059, microsoftgraph/microsoft-graph-docs#21475), ``use`` sig or enc,
``kty`` RSA or oct, optional Edm.Int64 ``nbf`` < ``exp``, optional ``x5t``/``x5c``; an
oct key brings ``k`` (base64url), an RSA key ``n``, ``e``, ``d``, ``p``, ``q``, ``dp``,
``dq``, ``qi`` (base64url), which must make one RSA key. The usual mixing rules hold
within the payload. The private material is reduced to its SHA-256 at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .keymodel import Key, KeySet
from .keyrules import check_key, int64, invalid, parse_kty, parse_use

_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_RSA_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")
_BAD_KEYSET = ("The 'keySet' field is invalid in request. "
               "Please check the request body and parameters.")


def _bad_format(tenant_domain: str, why: str) -> Exception:
    return invalid("AADB2C95026", f"The uploaded JSON Web Key for tenant '{tenant_domain}' is "
                                  f"not in the correct JSON format: {why}.")


def _decode(value: Any) -> bytes:
    if not isinstance(value, str) or not _B64URL.match(value):
        raise ValueError(value)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(value) from None


def _missing(name: str) -> Exception:
    return invalid("AADB2C90253", f"The trustframework keyset parameter '{name}' is missing")


def _oct(jwk: dict[str, Any]) -> str:
    k = jwk.get("k")
    if k is None or k == "":
        raise _missing("k")
    try:
        _decode(k)
    except ValueError:
        raise invalid("AADB2C95029", "The trustframework keyset parameter K is not base64 URL "
                                     "encoded.") from None
    return hashlib.sha256(k.encode("utf-8")).hexdigest()


def _rsa(jwk: dict[str, Any], tenant_domain: str) -> str:
    if not jwk.get("n") or not jwk.get("e"):
        raise invalid("AADB2C95039", "The presented TrustFrameworkKey RSA entity is missing or "
                                     "the modulus or exponent.")
    for name in _RSA_PRIVATE:
        if jwk.get(name) is None or jwk.get(name) == "":
            raise _missing(name)
    numbers: dict[str, int] = {}
    for name in ("n", "e") + _RSA_PRIVATE:
        try:
            numbers[name] = int.from_bytes(_decode(jwk[name]), "big")
        except ValueError:
            raise invalid("AADB2C95041", f"The trustframework keyset parameter '{name}' is "
                                         "wrongly encoded. Should be base64 URL encoded.") from None
    try:
        private = rsa.RSAPrivateNumbers(
            numbers["p"], numbers["q"], numbers["d"], numbers["dp"], numbers["dq"], numbers["qi"],
            rsa.RSAPublicNumbers(numbers["e"], numbers["n"])).private_key()
    except (ValueError, TypeError):
        raise _bad_format(tenant_domain, "the RSA private parts do not make one key") from None
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return hashlib.sha256(der).hexdigest()


def _one(jwk: Any, holder: KeySet, tenant_domain: str) -> Key:
    if not isinstance(jwk, dict):
        raise _bad_format(tenant_domain, "a key must be an object")
    use, kty = parse_use(jwk), parse_kty(jwk)
    nbf, exp = int64(jwk, "nbf"), int64(jwk, "exp")
    check_key(tenant_domain, holder, kty, use, nbf, exp)
    x5t, x5c = jwk.get("x5t"), jwk.get("x5c")
    if (x5t is not None and not isinstance(x5t, str)) or (x5c is not None and not (
            isinstance(x5c, list) and all(isinstance(c, str) for c in x5c))):
        raise _bad_format(tenant_domain, "x5t must be a string and x5c a list of strings")
    digest = _rsa(jwk, tenant_domain) if kty == "RSA" else _oct(jwk)
    key = Key(secrets.token_urlsafe(32), kty, use, nbf, exp, 0, digest,
              x5t=x5t or None, x5c=list(x5c) if x5c else None)
    if kty == "RSA":
        key.n, key.e = jwk["n"], jwk["e"]
    return key


def parse_replacement(body: dict[str, Any], keyset_id: str, tenant_domain: str) -> list[Key]:
    """The new keys of key set ``keyset_id`` (its true id), in order; ``StoreError``
    ("invalid") with B2C's code for the first thing wrong. Nothing is stored here."""
    named = body.get("id")
    if named is not None and (not isinstance(named, str) or named.lower() != keyset_id.lower()):
        raise invalid("AADB2C", _BAD_KEYSET)
    jwks = body.get("keys")
    if jwks is None:
        raise _missing("keys")
    if not isinstance(jwks, list):
        raise _bad_format(tenant_domain, "keys must be a list")
    if any(isinstance(jwk, dict) and jwk.get("kid") not in (None, "") for jwk in jwks):
        raise invalid("AADB2C95059", "One of the keys in the payload has 'kid' which is not "
                                     "empty.")
    holder = KeySet(keyset_id, 0)
    for jwk in jwks:
        holder.keys.append(_one(jwk, holder, tenant_domain))
    return holder.keys
