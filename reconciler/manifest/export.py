"""`b2ckeys export`: the tenant's key sets as a manifest, to adopt an existing tenant.

Pure: live state in, manifest text out. Planned against the same tenant, the
result shows no change, because every exported key matches its live key by kty,
use, nbf and exp:

- RSA keys become `kind: generate` (`kty: RSA`); oct keys become `kind: secret`
  with `value: {env: NAME}`, NAME made from the key set's name (FacebookSecret ->
  FACEBOOK_SECRET, then FACEBOOK_SECRET_2 ... for further keys). Graph never
  returns secret values, so the variable is needed only to upload that key again.
- An RSA key that holds a certificate (x5t) was uploaded (uploadCertificate or
  uploadPkcs12), and `generate` would make a random key in its place. Graph never
  says whether B2C holds its private key (d, p, q … are never returned), and both
  uploads make sig keys, so a sig key becomes `kind: pkcs12` (signing needs the private
  key) with a `file: REPLACE-ME/…` and a `password: {env: …_PFX_PASSWORD}`; the comment
  above it names its x5t and dates, and says to write `kind: certificate` without the
  password if only the public certificate is held. The placeholder fails validate until
  the file is there (`certificates.PLACEHOLDER_FOLDER`); filled in, the key matches the
  live key by x5t. A key set holding an enc key with a certificate is not exported: no
  upload makes one, and a manifest cannot declare it.
- Dates are RFC 3339 in UTC; key sets are sorted by id, keys by nbf.
- Not exported, each with a comment saying why (they stay unmanaged, and the plan
  still shows no change): B2C's `.bak` backups and b2ckeys' lease key set
  (silently), key sets with no keys,
  key sets whose keys mix RSA and oct or sig and enc, whose id or dates a manifest
  cannot express. Of two keys with the same kty, use, nbf and exp, a manifest
  declares one, the one B2C uses (listed last); the other is left out with a
  comment, and plan and drift report it as a duplicate.
- What the tenant says in comments and warnings (ids, kids, x5t, statuses) is `printable`:
  one comment line each, nothing YAML would refuse or read as a line break, nothing that
  drives a terminal or reorders text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.diagnostics import printable
from ..core.model import (EPOCH_MAX, EPOCH_MIN, KEYSET_PREFIX, KeyType, LiveKey, LiveKeySet, LiveState, format_time,
                          is_internal, strip_prefix)
from ..core.shipped import SCHEMA_URL
from . import names
from .certificates import PLACEHOLDER_FOLDER

DEFAULT_SCHEMA_REF = SCHEMA_URL  # an https URL: a relative path would dangle in the user's repository
_FILE_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class ExportResult:
    text: str
    keysets: int
    keys: int
    skipped: tuple[str, ...] = ()  # one sentence per key set or key left out


def env_base(name: str) -> str:
    """FacebookSecret -> FACEBOOK_SECRET; RESTApiKey -> REST_API_KEY."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return text if text and not text[0].isdigit() else "KEY_" + text


def export_manifest(live: LiveState, *, schema_ref: str = DEFAULT_SCHEMA_REF, tenant: str | None = None) -> ExportResult:
    body: list[str] = []
    skipped: list[str] = []
    used_names: set[str] = set()
    keysets = keys = 0
    for keyset in sorted(live.keysets, key=lambda ks: (ks.id.upper(), ks.id)):
        if is_internal(keyset.id):
            continue
        why = _cannot_export(keyset)
        if why:
            skipped.append(printable(f"{keyset.id}: not exported: {why}; it stays unmanaged"))
            body.append(f"  # {printable(keyset.id)}: not exported: {printable(why)}; it stays unmanaged.")
            continue
        name = strip_prefix(keyset.id)
        body += [f"  - name: {names.as_yaml(name)}", "    keys:"]
        kept: dict[tuple, LiveKey] = {_same(key): key for key in keyset.keys}  # of copies, the last listed
        for key in sorted(keyset.keys, key=_key_order):
            first = kept[_same(key)]
            if first is not key:
                skipped.append(printable(f"{keyset.id}: key {key.kid} not exported: it has the same kty, use, nbf "
                                         f"and exp as key {first.kid}, and a manifest declares a key once; plan and "
                                         "drift report it as a duplicate"))
                body.append(f"      # key {printable(key.kid)}: same kty, use, nbf and exp as key "
                            f"{printable(first.kid)}; not exported (a manifest declares a key once), a duplicate to "
                            "disable")
                continue
            body += _key_lines(key, name, used_names)
            keys += 1
        keysets += 1
    header = [
        f"# yaml-language-server: $schema={schema_ref}",
        "#",
        f"# Exported from the tenant by `b2ckeys export`: {keysets} key set{'s' if keysets != 1 else ''}, "
        f"{keys} key{'s' if keys != 1 else ''}.",
        "# Graph never returns secret values: each `secret` key names an environment variable,",
        "# needed only if apply must upload that key again. Review, rename, then commit.",
        *([f"# Certificate keys have a `file: {PLACEHOLDER_FOLDER}/...` placeholder: validate fails until",
           "# each names the certificate's file (the comment above each key says which)."]
          if any(f"file: {PLACEHOLDER_FOLDER}/" in line for line in body) else []),
        "version: 1",
        f"# tenant: {printable(tenant)}   # optional guard" if tenant
        else "# tenant: contoso.onmicrosoft.com   # optional guard",
    ]
    header.append("keySets:" if keysets else "keySets: []")
    return ExportResult("\n".join(header + body) + "\n", keysets, keys, tuple(skipped))


def _cannot_export(keyset: LiveKeySet) -> str | None:
    if keyset.id[: len(KEYSET_PREFIX)].upper() != KEYSET_PREFIX.upper():
        return f"its id does not start with {KEYSET_PREFIX}"
    if not names.fits(keyset.id):
        return (f"its name is not one a manifest can declare ({names.CHARACTERS}, at most {names.MAX_NAME} "
                f"after {KEYSET_PREFIX})")
    if not keyset.keys:
        return "it has no keys, and a manifest key set needs at least one"
    if len({k.kty for k in keyset.keys}) > 1:
        return "its keys mix RSA and oct, which a manifest cannot declare (B2C refuses it too, AADB2C95032)"
    uses = {getattr(k.use, "value", k.use) for k in keyset.keys}
    if len(uses) > 1:
        return "its keys mix sig and enc, which a manifest cannot declare (B2C refuses it too, AADB2C95042)"
    if not uses <= {"sig", "enc"}:
        return f"its keys have use {sorted(uses)[0]!r}, not sig or enc"
    for key in keyset.keys:
        if key.kty is KeyType.RSA and key.x5t and getattr(key.use, "value", key.use) == "enc":
            return (f"key {key.kid} holds a certificate with use enc, which no upload makes (uploadCertificate "
                    "and uploadPkcs12 make sig keys) and a manifest cannot declare")
        for value in (key.nbf, key.exp):
            if value is not None and not EPOCH_MIN <= value <= EPOCH_MAX:
                return f"key {key.kid} has a date a manifest cannot express ({value})"
        if key.nbf is not None and key.exp is not None and key.nbf >= key.exp:
            return f"key {key.kid} has nbf not before exp, which a manifest cannot declare"
    return None


def _key_order(key: LiveKey) -> tuple:
    return (key.nbf is not None, key.nbf or 0, key.exp is not None, key.exp or 0, key.kid)


def _key_lines(key: LiveKey, name: str, used_names: set[str]) -> list[str]:
    remarks = [f"kid {printable(key.kid)}"]
    if key.status and key.status.lower() != "enabled":
        remarks.append(printable(key.status))
    if key.kty is KeyType.RSA and key.x5t:
        return _certificate_lines(key, name, used_names, remarks)
    if key.kty is KeyType.RSA:
        lines = [f"      - kind: generate   # {'; '.join(remarks)}", "        kty: RSA",
                 f"        use: {getattr(key.use, 'value', key.use)}"]
    else:
        env = _unique(env_base(name), used_names)
        lines = [f"      - kind: secret   # {'; '.join(remarks)}", f"        use: {getattr(key.use, 'value', key.use)}",
                 f"        value: {{env: {env}}}"]
    if key.nbf is not None:
        lines.append(f"        nbf: {format_time(key.nbf)}")
    if key.exp is not None:
        lines.append(f"        exp: {format_time(key.exp)}")
    return lines


def _same(key: LiveKey) -> tuple:
    """What makes two live keys copies of one declared key: a certificate's thumbprint, else kty, use and dates."""
    return ("x5t", key.x5t) if key.x5t and key.kty is KeyType.RSA else key.identity


def _certificate_lines(key: LiveKey, name: str, used_names: set[str], remarks: list[str]) -> list[str]:
    """A `pkcs12` key with a file placeholder (validate fails until it is filled in) and a password
    reference; certificate keys take their dates from the file, so none are written."""
    x5t = printable(key.x5t)
    known = key.nbf is not None or key.exp is not None
    dates = f", valid {format_time(key.nbf)} to {format_time(key.exp)}" if known else ""
    placeholder = f"{PLACEHOLDER_FOLDER}/{_FILE_SAFE.sub('_', name)}-{_FILE_SAFE.sub('_', key.x5t)[:43]}.pfx"
    return [f"      # certificate x5t {x5t}{dates}.",
            "      # Put its .pfx in the repository and set `file:` to it; if only its public certificate",
            "      # (.cer/.pem) is held, write kind: certificate and drop `password:`.",
            f"      - kind: pkcs12   # {'; '.join(remarks)}",
            f"        file: {placeholder}",
            f"        password: {{env: {_unique(env_base(name) + '_PFX_PASSWORD', used_names)}}}"]


def _unique(base: str, used: set[str]) -> str:
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}_{n}"
    used.add(candidate)
    return candidate
