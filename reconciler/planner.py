"""plan(desired, live, now) -> Plan: pure, no I/O, no clock (design 3.5).

- A desired key matches a live key when kty, use, nbf and exp are equal (a date
  left out must be absent on the live key too); each live key matches at most one
  desired key.
- A missing key set is created, then its keys are added; keys are added in
  ascending nbf within a key set (keys with no nbf first); creates come first.
- Live key sets and keys that nothing desired matches are reported as unmanaged
  and never touched.
- A desired key that has already expired is not uploaded; a warning says so.
- Secret values cannot be read back, so cannot be compared: the plan says so once.
"""

from __future__ import annotations

from .model import (
    Action,
    Change,
    DesiredKey,
    DesiredKeySet,
    DesiredState,
    Diagnostic,
    KeyKind,
    LiveKey,
    LiveState,
    Plan,
    Severity,
    Unmanaged,
    format_time,
)

SECRETS_NOT_COMPARED = (
    "Graph never returns secret values, so an existing secret key is matched by its "
    "type, use, nbf and exp only. To rotate a secret, add a key with a later nbf."
)

_ADD_ACTION = {KeyKind.GENERATE: Action.GENERATE_KEY, KeyKind.SECRET: Action.UPLOAD_SECRET}


def plan(desired: DesiredState, live: LiveState, now: int) -> Plan:
    creates: list[Change] = []
    additions: list[Change] = []
    unmanaged: list[Unmanaged] = []
    warnings: list[Diagnostic] = []

    for keyset in sorted(desired.keysets, key=lambda k: k.id.upper()):
        current = live.find(keyset.id)
        if current is None:
            creates.append(Change(Action.CREATE_KEYSET, keyset.id, location=keyset.location))
        live_keys = current.keys if current else ()
        missing, leftover = match_keys(keyset.keys, live_keys)
        for key in missing:
            if key.exp is not None and key.exp <= now:
                warnings.append(_expired_warning(keyset, key))
                continue
            additions.append(Change(_ADD_ACTION[key.kind], keyset.id, key, location=key.location))
        target_id = current.id if current else keyset.id
        unmanaged.extend(Unmanaged(target_id, k.kid, k) for k in leftover)

    for live_keyset in sorted(live.keysets, key=lambda k: k.id.upper()):
        if desired.find(live_keyset.id) is None:
            unmanaged.append(Unmanaged(live_keyset.id))

    notes = ()
    if any(k.kind is KeyKind.SECRET for ks in desired.keysets for k in ks.keys):
        notes = (SECRETS_NOT_COMPARED,)
    return Plan(
        changes=tuple(creates) + tuple(_with_live_ids(additions, live)),
        unmanaged=tuple(unmanaged),
        warnings=tuple(warnings),
        notes=notes,
        live=live,
    )


def match_keys(
    desired: tuple[DesiredKey, ...], live: tuple[LiveKey, ...]
) -> tuple[list[DesiredKey], list[LiveKey]]:
    """Pairs desired keys with live keys of the same identity.

    Returns the desired keys left without a live key, in the order they must be
    added (ascending nbf, no nbf first), and the live keys no desired key claimed.
    """
    pool = list(live)
    missing: list[DesiredKey] = []
    for key in sorted(desired, key=_add_order):
        found = next((i for i, candidate in enumerate(pool) if candidate.identity == key.identity), None)
        if found is None:
            missing.append(key)
        else:
            del pool[found]
    return missing, pool


def _add_order(key: DesiredKey) -> tuple:
    return (key.nbf is not None, key.nbf or 0, key.exp is not None, key.exp or 0)


def _with_live_ids(changes: list[Change], live: LiveState) -> list[Change]:
    """Key additions to an existing key set address it by the id Graph uses."""
    result = []
    for change in changes:
        current = live.find(change.keyset_id)
        if current is not None and current.id != change.keyset_id:
            change = Change(change.action, current.id, change.key, location=change.location)
        result.append(change)
    return result


def _expired_warning(keyset: DesiredKeySet, key: DesiredKey) -> Diagnostic:
    return Diagnostic(
        Severity.WARNING,
        f"a key of key set {keyset.id} expired already (exp {format_time(key.exp)}); "
        "it will not be uploaded. Remove it from the manifest or give it a later exp",
        key.location,
    )
