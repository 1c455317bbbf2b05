"""Key Vault references in a run: what the vault says before planning, a value at apply.

`VaultAccess` signs in for the cloud's vault resource with the run's credential
(`signin.auth.TokenProvider`, resource `graph.vaultplaces.vault_resource`) the first time a
manifest's reference needs it, and reads through `graph.keyvault.VaultReader`. A state
without vault references never builds one (nor imports Microsoft's library).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..core.model import DesiredState, LiveState, SecretRef, VaultVersion
from ..graph.keyvault import VaultReader
from ..graph.settings import Settings
from ..graph.settings import from_environment as settings_from
from ..graph.vaultplaces import vault_resource
from ..manifest.vaultrefs import vault_refs, with_earlier_versions, with_vault_facts
from ..plan.drift import VaultSecret
from ..signin.auth import TokenProvider
from ..signin.credentials import kind_from_environment


class VaultAccess:
    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.settings: Settings | None = None  # the run's (Graph's), when signed in already: one deadline
        self._reader: VaultReader | None = None

    @property
    def reader(self) -> VaultReader:
        if self._reader is None:
            kind = kind_from_environment(self.environ)
            settings = self.settings or settings_from(self.environ, app_required=kind.needs_app)
            provider = TokenProvider(settings, self.environ, resource=vault_resource(self.environ))
            self._reader = VaultReader(settings, provider.token, self.environ)
        return self._reader

    def with_facts(self, state: DesiredState, planned: Mapping[tuple[str, str], str] | None = None) -> DesiredState:
        """The state with every vault reference's version and dates (metadata only).
        `planned`: (vault, secret) → the version a saved plan recorded, which is looked
        up instead of the latest."""
        if not any(True for _ in vault_refs(state)):
            return state
        planned = planned or {}

        def secret_version(ref: SecretRef) -> VaultVersion:
            recorded = planned.get((ref.vault, ref.name))
            if recorded and not ref.pinned:
                return self.reader.version(dataclasses.replace(ref, version=recorded, pinned=True))
            return self.reader.version(ref)
        return with_vault_facts(state, secret_version, self.reader.certificate)

    def with_earlier(self, state: DesiredState, live: LiveState) -> DesiredState:
        """`vaultrefs.with_earlier_versions`: the keys earlier versions left in the tenant stay managed."""
        if not any(True for _ in vault_refs(state)):
            return state
        return with_earlier_versions(state, live, self.reader.versions)

    def secrets_now(self, state: DesiredState) -> list[VaultSecret]:
        """What `drift` checks of each vault secret (state `with_facts`): the planned
        version's exp, and a newer enabled version than it (only a pinned one can have one)."""
        found = []
        for keyset in state.keysets:
            for key in keyset.keys:
                ref = key.secret
                if ref is not None and ref.in_vault:
                    planned = self.reader.version(dataclasses.replace(ref, pinned=True))
                    newest = self.reader.newest_enabled(ref)
                    newer = newest.version if newest and newest.version.lower() != ref.version.lower() else None
                    found.append(VaultSecret(keyset.id, ref, planned.exp, newer))
        return found

    def value(self, ref: SecretRef) -> str:
        """The value of the version planned, read now (a certificate's: its PFX, base64)."""
        return self.reader.value(ref)


def planned_versions(changes) -> dict[tuple[str, str], str]:
    """(vault, secret) → the vault version a saved plan's change uploads."""
    found = {}
    for change in changes:
        key = change.key
        for ref in (key.secret, key.file) if key is not None else ():
            if ref is not None and ref.in_vault and ref.version:
                found[(ref.vault, ref.name)] = ref.version
    return found
