"""Client authentication at the token endpoint: client secrets, client assertions
signed with a registered certificate (``private_key_jwt``), and federated assertions
from the emulator's built-in issuer (workload identity federation).

``ClientAuthenticator`` is what ``TokenService.verify_credential`` is set to. It answers
like Entra ID: AADSTS700027 (signature, unknown or expired certificate), 700024 (time
range), 700021 (iss/sub are not the client), 700023 (audience), 70021/700211/700212 (no
matching federated identity credential). No answer ever carries the assertion itself.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .config import Settings
from .jws import RsaSigner, TokenInvalid, b64url, decode, verify_signature
from .sts import AadError, App, verify_client_credential

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
CLOCK_SKEW = 300                 # seconds of clock difference tolerated on nbf/exp
MAX_ASSERTION_LIFETIME = 86400   # an assertion may not be valid for more than a day


@dataclass(frozen=True)
class Certificate:
    """A certificate registered on the app (its public part only)."""
    x5t: str          # base64url SHA-1 of the DER certificate
    x5t_s256: str     # base64url SHA-256 of the DER certificate
    hex_sha1: str     # the thumbprint as the portal shows it
    public_key: Any
    not_before: _dt.datetime
    not_after: _dt.datetime


def read_certificates(pem: bytes) -> list[Certificate]:
    """Every certificate in a PEM blob (private keys in it are ignored)."""
    try:
        loaded = x509.load_pem_x509_certificates(pem)
    except ValueError:
        loaded = []
    out = []
    for cert in loaded:
        der_sha1, der_sha256 = cert.fingerprint(hashes.SHA1()), cert.fingerprint(hashes.SHA256())
        out.append(Certificate(b64url(der_sha1), b64url(der_sha256), der_sha1.hex().upper(),
                               cert.public_key(), cert.not_valid_before_utc,
                               cert.not_valid_after_utc))
    return out


class Certificates:
    """The certificates registered on the app; ``reset`` restores the start set."""

    def __init__(self, initial: list[Certificate]):
        self._initial = list(initial)
        self._current = list(initial)
        self._lock = threading.Lock()

    def add(self, certificates: list[Certificate]) -> None:
        with self._lock:
            self._current.extend(certificates)

    def reset(self) -> None:
        with self._lock:
            self._current = list(self._initial)

    def find(self, header: Mapping[str, Any]) -> Optional[Certificate]:
        """By ``x5t#S256`` or ``x5t``: base64url, padded (as msal sends them) or not."""
        s256, sha1 = (str(header.get(name) or "").rstrip("=") for name in ("x5t#S256", "x5t"))
        with self._lock:
            for cert in self._current:
                if (s256 and s256 == cert.x5t_s256) or (sha1 and sha1 == cert.x5t):
                    return cert
        return None


class FederatedIssuer:
    """The emulator's own OIDC issuer (as GitHub Actions or AKS are for Entra ID)."""

    def __init__(self, base_url: str):
        self.issuer = f"{base_url}/federated"
        self.signer = RsaSigner()

    def issue(self, subject: str, *, lifetime: int = 600,
              audience: str = FEDERATED_AUDIENCE) -> str:
        """A signed token for ``subject``; a negative ``lifetime`` gives an expired one."""
        now = int(time.time())
        exp = now + lifetime
        nbf = min(now, exp - 60)
        return self.signer.sign({"iss": self.issuer, "sub": subject, "aud": audience,
                                 "iat": nbf, "nbf": nbf, "exp": exp, "jti": str(uuid.uuid4())})


def _fail(code: int, description: str) -> AadError:
    return AadError(401, "invalid_client", code, description)


class ClientAuthenticator:
    def __init__(self, *, base_url: str, tenant_id: str, tenant_domain: str,
                 certificates: Certificates, federated: FederatedIssuer,
                 settings: Callable[[], Settings]):
        segments = (tenant_id.lower(), tenant_domain.lower())
        self.audiences = {f"{base_url}/{s}/oauth2/{v}token".lower()
                          for s in segments for v in ("v2.0/", "")}
        self.certificates, self.federated, self.settings = certificates, federated, settings

    def __call__(self, app: App, form: Mapping[str, str]) -> str:
        """``appidacr`` of the client ("1" secret, "2" assertion) or AadError."""
        assertion = form.get("client_assertion", "")
        if not assertion and not form.get("client_assertion_type"):
            return verify_client_credential(app, form)
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise AadError(400, "invalid_request", 7000216,
                           "'client_assertion' and 'client_assertion_type' "
                           f"'{JWT_BEARER}' are required together.")
        try:
            header, claims, signing_input, signature = decode(assertion)
        except TokenInvalid:
            raise AadError(400, "invalid_request", 50027,
                           "JWT token is invalid or malformed.") from None
        if claims.get("iss") == app.client_id:
            self._certificate(app, header, claims, signing_input, signature)
        else:
            self._federated(app, header, claims, signing_input, signature)
        return "2"

    # -- certificate (private_key_jwt) ------------------------------------------------
    def _certificate(self, app: App, header: dict, claims: dict, signing_input: bytes,
                     signature: bytes) -> None:
        alg = header.get("alg")
        if alg not in ("RS256", "PS256"):
            raise AadError(400, "invalid_request", 5002738,
                           f"Invalid JWT token. '{str(alg)[:20]}' is not a supported "
                           "signature algorithm.")
        if claims.get("sub") != app.client_id:
            raise _fail(700021, "Client assertion application identifier doesn't match "
                                "'client_id' parameter.")
        cert = self.certificates.find(header)
        shown = str(header.get("x5t#S256") or header.get("x5t") or "none")[:64]
        where = (f"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to "
                 f"see configured keys for app Id '{app.client_id}'.")
        if cert is None:
            raise _fail(700027, "The certificate with identifier used to sign the client "
                                "assertion is not registered on application. [Reason - The key "
                                f"was not found., Thumbprint of key used by client: '{shown}', "
                                f"{where}]")
        now = _dt.datetime.now(_dt.timezone.utc)
        if not cert.not_before <= now <= cert.not_after:
            raise _fail(700027, "Client assertion contains an invalid signature. [Reason - "
                                f"The key used is expired or not yet valid., Thumbprint of key "
                                f"used by client: '{cert.hex_sha1}', {where}]")
        try:
            verify_signature(cert.public_key, str(alg), signing_input, signature)
        except TokenInvalid:
            raise _fail(700027, "Client assertion contains an invalid signature. [Reason - "
                                "The provided signature value did not match the expected "
                                f"signature value., Thumbprint of key used by client: "
                                f"'{cert.hex_sha1}', {where}]") from None
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(isinstance(a, str) and a.lower() in self.audiences for a in audiences):
            raise _fail(700023, "Client assertion audience claim does not match Realm issuer. "
                                "The audience must be the token endpoint of the tenant.")
        self._time_range(claims)

    # -- federated (workload identity) ------------------------------------------------
    def _federated(self, app: App, header: dict, claims: dict, signing_input: bytes,
                   signature: bytes) -> None:
        issuer, subject = str(claims.get("iss"))[:200], str(claims.get("sub"))[:200]
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        shown = (f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion "
                 f"Audience: '{','.join(str(a) for a in audiences)[:200]}'.")
        if issuer != self.federated.issuer:
            raise AadError(400, "invalid_request", 700211,
                           f"No matching federated identity record found for presented "
                           f"assertion issuer '{issuer}'. Please check your federated identity "
                           "credential Subject, Audience and Issuer against the presented "
                           "assertion.")
        signer = self.federated.signer
        try:
            if header.get("alg") != "RS256" or header.get("kid") != signer.kid:
                raise TokenInvalid("unknown key")
            verify_signature(signer.public_key, "RS256", signing_input, signature)
        except TokenInvalid:
            raise _fail(700027, "Client assertion failed signature validation. [Reason - "
                                "The key was not found in the issuer's keys.]") from None
        self._time_range(claims)
        if FEDERATED_AUDIENCE not in audiences:
            raise AadError(400, "invalid_request", 700212,
                           "No matching federated identity record found for presented "
                           f"assertion audience. {shown}")
        if subject != self.settings().federated_subject:
            raise AadError(400, "invalid_request", 70021,
                           f"No matching federated identity record found for presented "
                           f"assertion. {shown} Please check your federated identity "
                           "credential Subject, Audience and Issuer against the presented "
                           "assertion.")

    @staticmethod
    def _time_range(claims: dict) -> None:
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", now))
        stamp = lambda t: _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime(  # noqa: E731
            "%m/%d/%Y %H:%M:%S")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, nbf))
        if not numbers or exp <= nbf or exp - now > MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            raise _fail(700024, "Client assertion is not within its valid time range: it "
                                "needs numeric 'exp' after 'nbf', at most a day ahead.")
        if now > exp + CLOCK_SKEW or nbf > now + CLOCK_SKEW:
            raise _fail(700024, "Client assertion is not within its valid time range. "
                                f"Current time: {stamp(now)}, assertion valid from "
                                f"{stamp(nbf)}, expiry time of assertion {stamp(exp)}.")

