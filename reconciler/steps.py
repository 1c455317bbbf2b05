"""The steps every command shares before planning: the desired state (manifests,
certificate facts, policy references) and the live state (key sets, and the status
of the keys `disableUnmanagedKeys` may touch). `cli` shows what these return.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from .errors import ManifestError
from .model import DesiredState, Diagnostic, LiveKeySet, LiveState, Severity


def load_state(
    paths: Sequence[str], environ: Mapping[str, str], *, policies: Sequence[str] = (), validating: bool = False
) -> tuple[DesiredState, list[Diagnostic]]:
    """The desired state and its warnings; ManifestError with every error.

    `validating` (the offline `validate`): a PKCS#12 file or password that is not
    available is a warning, and a policy reference to an undeclared key set an error.
    `{file: PATH}` references must stay inside B2CKEYS_SECRETS_ROOT when `environ` sets
    it, else inside each manifest's repository (`reconciler.confine`).
    Otherwise (plan, apply, drift) the first is an error, before any call to Graph,
    and the second a warning (plan keeps such key sets from being deleted).
    """
    from .certificates import with_certificate_facts
    from .confine import SECRETS_ROOT_VARIABLE
    from .manifest import load_manifests
    from .policies import scan_policies, undeclared

    result = load_manifests(paths, secrets_root=environ.get(SECRETS_ROOT_VARIABLE))
    state, diagnostics = with_certificate_facts(result.state, environ, strict=not validating)
    diagnostics = list(result.warnings) + diagnostics
    if policies:
        references, notes = scan_policies(policies)
        state = dataclasses.replace(state, references=references)
        diagnostics += notes + undeclared(state, Severity.ERROR if validating else Severity.WARNING)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:  # the warnings too: they may say why
        raise ManifestError(errors + [d for d in diagnostics if d.severity is not Severity.ERROR])
    return state, diagnostics


def read_live(client, state: DesiredState, now: int, *, listed: LiveState | None = None
              ) -> tuple[LiveState, list[Diagnostic]]:
    """The tenant's key sets (`listed`, when the caller listed them already); for key sets
    with `disableUnmanagedKeys`, the status of each unmanaged key the list answer leaves
    out, from `keys_v2` (one GET per key). Graph gives
    keys_v2 to ReadWrite.All only: with a read-only app the statuses stay unknown, and a
    warning says what that means for the plan."""
    from .errors import GraphAuthError
    from .planner import unmatched_keys

    live = client.list_keysets() if listed is None else listed
    wanted = [(keyset.id, key.kid) for keyset, key in unmatched_keys(state, live, now)
              if key.status is None and keyset.id and key.kid]
    statuses = {}
    try:
        for pair in wanted:
            statuses[pair] = client.key_status(*pair)
    except GraphAuthError:
        return live, [Diagnostic(Severity.WARNING, "the status of unmanaged keys cannot be read (Graph's keys_v2 "
                                 "needs TrustFrameworkKeySet.ReadWrite.All): keys disableUnmanagedKeys disabled "
                                 "already may be shown as keys to disable")]
    if not statuses:
        return live, []
    return LiveState(tuple(_with_statuses(keyset, statuses) for keyset in live.keysets)), []


def _with_statuses(keyset: LiveKeySet, statuses: dict) -> LiveKeySet:
    keys = tuple(dataclasses.replace(k, status=statuses.get((keyset.id, k.kid), k.status)) for k in keyset.keys)
    return dataclasses.replace(keyset, keys=keys)
