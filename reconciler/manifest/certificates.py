"""Certificate facts of `certificate` and `pkcs12` keys, read before planning.

A certificate key is identified by its thumbprint `x5t` (base64url SHA-1 of the DER
certificate) and its nbf/exp are the certificate's validity. The planner needs them
and reads no files, so `with_certificate_facts(state, environ)` reads each file once
(PEM, DER, or base64 of DER; a PKCS#12 file with its password) and returns the state
with `x5t`, `nbf` and `exp` filled in, with located diagnostics for what it could not
read. `upload_payload(key, resolve)` reads the file again at apply time, checks that
it still holds the planned certificate, and returns the body Graph's upload takes.

Only the certificate of a `certificate` file is sent (as DER), never a private key
that happens to sit in the same PEM file. A PKCS#12 file is sent whole (that is what
uploadPkcs12 is for); its password is resolved like any secret and never shown.
Files are read only inside the manifest's repository or B2CKEYS_SECRETS_ROOT, as
`{file: PATH}` secrets are (`reconciler.manifest.confine`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
from typing import TYPE_CHECKING, Callable, Mapping

from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import ManifestError
from ..core.model import EPOCH_MIN, DesiredKey, DesiredState, KeyKind, SecretRef
from . import secrets
from .confine import read_regular_file

if TYPE_CHECKING:
    from cryptography import x509

MAX_FILE_BYTES = 256 * 1024  # a certificate or PKCS#12 file is a few KiB
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
PLACEHOLDER_FOLDER = "REPLACE-ME"  # export's `file:` placeholders: an error until someone puts the file there


class CertificateProblem(Exception):
    """A file that does not hold a usable certificate; the message says why (never a secret)."""


@dataclasses.dataclass(frozen=True)
class CertificateFacts:
    x5t: str
    nbf: int
    exp: int
    der: bytes


def thumbprint(der: bytes) -> str:
    """x5t: base64url of the SHA-1 of the DER certificate, without padding (RFC 7517 4.8)."""
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")


def facts_of(cert: x509.Certificate) -> CertificateFacts:
    from cryptography.hazmat.primitives.asymmetric import rsa  # lazily, as below: only certificate keys need it
    from cryptography.hazmat.primitives.serialization import Encoding

    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise CertificateProblem("holds a certificate whose key is not RSA; B2C takes RSA certificates only")
    der = cert.public_bytes(Encoding.DER)
    nbf = int(cert.not_valid_before_utc.timestamp())
    if nbf < EPOCH_MIN:  # its key would take this nbf, and b2ckeys could not read the key back
        raise CertificateProblem("holds a certificate valid from before 1970 (notBefore); B2C's dates start at "
                                 "1970-01-01T00:00:00Z: issue one valid from 1970 or later")
    return CertificateFacts(thumbprint(der), nbf, int(cert.not_valid_after_utc.timestamp()), der)


def parse_certificate(data: bytes) -> CertificateFacts:
    """The first certificate of a PEM file, a DER file, or a file of base64 text of DER."""
    from cryptography import x509  # lazily: a manifest without certificates never loads cryptography

    try:
        if _PEM_CERT in data:
            return facts_of(x509.load_pem_x509_certificate(data[data.index(_PEM_CERT):]))
        try:
            return facts_of(x509.load_der_x509_certificate(data))
        except ValueError:
            return facts_of(x509.load_der_x509_certificate(base64.b64decode(b"".join(data.split()), validate=True)))
    except (ValueError, binascii.Error, TypeError):
        raise CertificateProblem("does not hold a certificate (PEM, DER or base64 of DER)") from None


def parse_pkcs12(data: bytes, password: str) -> CertificateFacts:
    from cryptography.hazmat.primitives.serialization import pkcs12  # lazily, as parse_certificate

    try:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password.encode("utf-8"))
    except (ValueError, TypeError):
        raise CertificateProblem("cannot be opened: wrong password, or not a PKCS#12 (.pfx) file") from None
    if cert is None:
        raise CertificateProblem("holds no certificate")
    if key is None:
        raise CertificateProblem("holds no private key; uploadPkcs12 needs the certificate and its key")
    return facts_of(cert)


def read_file(ref: SecretRef) -> bytes:
    """The bytes of a certificate or PKCS#12 file: only when it is inside its reference's root
    (`reconciler.manifest.confine`, checked now, just before reading, as `validate` did) and a regular
    file of at most MAX_FILE_BYTES; the checked real path is the one opened."""
    path = secrets.file_path(ref)
    refused = secrets.confinement_problem(ref, "file")
    if refused:
        raise CertificateProblem(refused)
    if is_placeholder(ref) and not os.path.exists(path):
        raise CertificateProblem(f"placeholder from export: put the certificate's file at {path}, or set `file:` "
                                 "to where it is (the comment above the key names the certificate's x5t)")
    if not os.path.isfile(path):
        raise CertificateProblem(f"file {path} does not exist" if not os.path.exists(path) else f"{path} is not a file")
    try:
        return read_regular_file(os.path.realpath(path), MAX_FILE_BYTES)
    except OSError as e:
        raise CertificateProblem(f"file {path} cannot be read: {e.strerror or type(e).__name__}") from None
    except ValueError as e:  # not a regular file, or too large
        tail = "; not a certificate" if "larger" in str(e) else ""
        raise CertificateProblem(f"file {path} is {e}{tail}") from None


def is_placeholder(ref: SecretRef) -> bool:
    """A `file:` that `export` wrote for someone to fill in (`REPLACE-ME/…`)."""
    return ref.source == "file" and ref.name.replace("\\", "/").split("/")[0] == PLACEHOLDER_FOLDER


def read_facts(key: DesiredKey, environ: Mapping[str, str]) -> CertificateFacts:
    """The certificate facts of a certificate or pkcs12 key; CertificateProblem when unreadable."""
    data = read_file(key.file)
    if key.kind is KeyKind.CERTIFICATE:
        try:
            return parse_certificate(data)
        except CertificateProblem as e:
            if key.file.name.lower().endswith((".pfx", ".p12")):
                raise CertificateProblem(f"{e}; a .pfx/.p12 file is PKCS#12: declare it as kind: pkcs12 "
                                         "with its password") from None
            raise
    return parse_pkcs12(data, _password(key, environ))


def _password(key: DesiredKey, environ: Mapping[str, str]) -> str:
    problem = secrets.problem(key.secret, environ, "password file")
    if problem is not None:
        raise CertificateProblem(f"password: {problem}; the certificate's thumbprint cannot be read without it")
    return secrets.resolve(key.secret, environ)


def with_certificate_facts(
    state: DesiredState, environ: Mapping[str, str] = os.environ, *, strict: bool = True
) -> tuple[DesiredState, list[Diagnostic]]:
    """The state with every certificate key's x5t, nbf and exp read from its file.

    A `certificate` file that cannot be read is an error. A `pkcs12` key whose file or
    password is not available is an error when `strict` (plan, apply, drift), else a
    warning (validate: pull-request checks run without secrets). A file that is there
    but wrong (not a certificate, wrong password) is always an error.
    """
    diagnostics: list[Diagnostic] = []
    keysets = []
    for keyset in state.keysets:
        keys, seen = [], {}
        for key in keyset.keys:
            if key.kind.is_certificate and not key.file.in_vault:  # a vault's: `vaultrefs.with_vault_facts`
                key = _with_facts(key, environ, strict, diagnostics)
                if key.x5t is not None and seen.setdefault(key.x5t, key) is not key:
                    diagnostics.append(Diagnostic(Severity.ERROR, f"the same certificate (x5t {key.x5t}) is declared "
                                                  f"twice in key set '{keyset.id}': also at line "
                                                  f"{seen[key.x5t].location.line}", key.location))
            keys.append(key)
        keysets.append(dataclasses.replace(keyset, keys=tuple(keys)) if keys != list(keyset.keys) else keyset)
    return dataclasses.replace(state, keysets=tuple(keysets)), diagnostics


def _with_facts(key: DesiredKey, environ, strict: bool, out: list[Diagnostic]) -> DesiredKey:
    there = os.path.exists(secrets.file_path(key.file))  # a missing file is said first, as missing
    no_password = there and key.kind is KeyKind.PKCS12 and secrets.problem(key.secret, environ) is not None
    if no_password and not strict:  # validate reports the password reference itself, as for every secret
        out.append(Diagnostic(Severity.WARNING, f"PKCS#12 file {key.file.name}: its thumbprint cannot be read "
                              "without the password; plan and apply need it", key.file.location))
        return key
    unavailable = key.kind is KeyKind.PKCS12 and not there and not is_placeholder(key.file)
    try:
        facts = read_facts(key, environ)
    except CertificateProblem as e:
        severity = Severity.WARNING if unavailable and not strict else Severity.ERROR
        what = "certificate" if key.kind is KeyKind.CERTIFICATE else "PKCS#12 file"
        tail = "; its thumbprint is unknown until it is (plan and apply need it)" if severity is Severity.WARNING else ""
        out.append(Diagnostic(severity, f"{what} {key.file.name}: {e}{tail}", key.file.location))
        return key
    return dataclasses.replace(key, x5t=facts.x5t, nbf=facts.nbf, exp=facts.exp)


def upload_payload(key: DesiredKey, resolve: Callable[[SecretRef], str]) -> dict:
    """The body of uploadCertificate (`key`) or uploadPkcs12 (`key`, `password`), read now;
    an error when the file no longer holds the certificate the plan was made for."""
    try:
        data = read_file(key.file)
        if key.kind is KeyKind.CERTIFICATE:
            facts, body = parse_certificate(data), {}
            body["key"] = base64.b64encode(facts.der).decode()
        else:
            password = resolve(key.secret)
            facts = parse_pkcs12(data, password)
            body = {"key": base64.b64encode(data).decode(), "password": password}
    except CertificateProblem as e:
        raise ManifestError.at(key.file.location, f"{key.file.name}: {e}") from None
    if facts.x5t != key.x5t:
        raise ManifestError.at(key.file.location, f"{key.file.name} changed since the plan was made: it holds the "
                               f"certificate {facts.x5t}, the plan uploads {key.x5t}; make a new plan")
    return body
