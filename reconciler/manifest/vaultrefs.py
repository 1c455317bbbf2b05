"""Key Vault references in manifests: `value: {keyVault: {vault, secret, version}}` on a
`secret` key, `file: {keyVault: {vault, certificate}}` on a `certificate` or `pkcs12` key.

A reference is a `SecretRef` with source `keyVault` (`core.model`): the vault as written
(a name or an https URL), the secret's (or certificate's) name, and the version when the
manifest pins one. Nothing here talks to a vault: `validate` checks the reference's
shape only (the schema did), and the session reads the vault (`reconciler.graph.keyvault`)
and hands what it found to `with_vault_facts`, which fills in the dates the plan needs:

- a `secret` key without `nbf`/`exp` in the manifest takes them from the version: its
  `nbf`, else its creation time, and its `exp`. So a new version in the vault is a new key
  (a later nbf) in the next plan, and a pinned version stays put, with no state file.
- a certificate key takes the certificate's thumbprint and dates, as a file's would.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

from ..core.diagnostics import Location
from ..core.model import CertificateVersion, DesiredKey, DesiredState, LiveState, SecretRef, VaultVersion


def vault_ref(data: dict, location: Location) -> SecretRef:
    """The reference the schema-valid `{vault, secret|certificate, version?}` at `location` names."""
    name = data.get("secret") or data.get("certificate") or ""
    version = str(data.get("version") or "")
    return SecretRef("keyVault", str(name), location, vault=str(data["vault"]), version=version, pinned=bool(version))


def vault_refs(state: DesiredState) -> Iterator[tuple[DesiredKey, SecretRef]]:
    """Every key with a Key Vault reference, and that reference (a secret's value, or a certificate)."""
    for keyset in state.keysets:
        for key in keyset.keys:
            for ref in (key.secret, key.file):
                if ref is not None and ref.in_vault:
                    yield key, ref


def with_vault_facts(state: DesiredState,
                     secret_version: Callable[[SecretRef], VaultVersion],
                     certificate: Callable[[SecretRef], CertificateVersion]) -> DesiredState:
    """The state with each Key Vault reference's version found, and the dates (and a
    certificate's thumbprint) a key takes from it. The callables raise located errors."""
    keysets = []
    for keyset in state.keysets:
        keys = tuple(_with_facts(key, secret_version, certificate) for key in keyset.keys)
        keysets.append(dataclasses.replace(keyset, keys=keys) if keys != keyset.keys else keyset)
    return dataclasses.replace(state, keysets=tuple(keysets))


def _with_facts(key: DesiredKey, secret_version, certificate) -> DesiredKey:
    if key.secret is not None and key.secret.in_vault:
        found = secret_version(key.secret)
        ref = dataclasses.replace(key.secret, version=found.version)
        nbf, exp = key.nbf, key.exp
        if nbf is None and exp is None:  # dates written in the manifest win, both or neither
            nbf, exp = found.valid_from, found.exp
            if nbf is not None and exp is not None and nbf >= exp:
                nbf = None  # a version that expires before it starts: keep its exp, let B2C set nbf
        return dataclasses.replace(key, secret=ref, nbf=nbf, exp=exp)
    if key.file is not None and key.file.in_vault:
        found = certificate(key.file)
        ref = dataclasses.replace(key.file, version=found.version)
        return dataclasses.replace(key, file=ref, x5t=found.x5t, nbf=found.nbf, exp=found.exp)
    return key


def with_earlier_versions(state: DesiredState, live: LiveState,
                          versions: Callable[[SecretRef], list[VaultVersion]]) -> DesiredState:
    """The state with, beside each key that follows a secret's latest version (no `version:`
    and no dates in the manifest), a key for each earlier enabled version whose key is in the
    tenant already, with the dates it took then. So the key a rotation left behind stays
    managed (not reported as unmanaged, nor disabled by `disableUnmanagedKeys`) while its
    version is enabled in the vault; none is ever uploaded, as each matches a live key."""
    keysets = []
    for keyset in state.keysets:
        found = live.find(keyset.id)
        keys = list(keyset.keys)
        for key in keyset.keys if found is not None else ():
            ref = key.secret
            if ref is None or not ref.in_vault or ref.pinned or key.nbf != _valid_from(key, versions):
                continue
            for version in versions(ref):
                if not version.enabled or version.version.lower() == ref.version.lower():
                    continue
                earlier = dataclasses.replace(key, nbf=version.valid_from, exp=version.exp,
                                              secret=dataclasses.replace(ref, version=version.version))
                if any(earlier.matches_exactly(k) for k in found.keys) and all(k.identity != earlier.identity
                                                                              for k in keys):
                    keys.append(earlier)
        keysets.append(dataclasses.replace(keyset, keys=tuple(keys)) if len(keys) != len(keyset.keys) else keyset)
    return dataclasses.replace(state, keysets=tuple(keysets))


def _valid_from(key: DesiredKey, versions) -> int | None:
    """The nbf the key took from its version: equal to the key's own unless the manifest gave dates."""
    return next((v.valid_from for v in versions(key.secret) if v.version.lower() == key.secret.version.lower()), None)
