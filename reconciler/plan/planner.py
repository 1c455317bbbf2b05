"""plan(desired, live, now) -> Plan: pure, no I/O, no clock (docs/manifests.md: how plans are made).

- A desired key matches a live key when kty, use, nbf and exp are equal; a date
  left out in the manifest matches any date the service gave the key. A
  certificate key matches by its thumbprint (x5t). Each live key matches one
  desired key at most, as a maximum matching that prefers exact matches
  (`matching`): a desired key is added only when no live key can be its.
- A missing key set is created, then its keys are added; keys are added in
  ascending nbf within a key set (keys with no nbf first); creates come first,
  then key additions, then disables, deletes last.
- A rotating key (`rotate`) gets a successor when one is due (`rotation`); the
  live keys of its chain are its own, after the fixed keys took theirs.
- A key present twice in a live key set is a problem the plan reports
  (`Plan.duplicates`, see `duplicates`), not a change; its extra copy is not listed
  again as unmanaged, and `disableUnmanagedKeys` disables it.
- Live key sets and keys that nothing desired matches are reported as unmanaged
  and left alone, unless `prune` or `disableUnmanagedKeys` says otherwise, with
  the safeguards of `prune`. B2C's backups (ids ending in `.bak`) and b2ckeys'
  own lease key set (`is_internal`) are not reported.
- A desired key that has already expired is not uploaded; a warning says so.
- Secret values cannot be read back, so cannot be compared: the plan says so once.
- The active key of each key set the plan changes is shown, now and once applied.
"""

from __future__ import annotations

from dataclasses import replace

from ..core.changes import Action, Change, Duplicate, Plan, Reason, Unmanaged
from ..core.diagnostics import Diagnostic, Severity
from ..core.model import (DesiredKey, DesiredKeySet, DesiredState, KeyKind, LiveKey, LiveKeySet, LiveState, format_time,
                          is_internal)
from . import prune, rotation
from .activekey import after_changes, is_enabled
from .duplicates import copy_of, duplicates_in, find_duplicates
from .matching import KeySetMatch, add_order, match_keyset

SECRETS_NOT_COMPARED = (
    "Graph never returns secret values, so an existing secret key is matched by its "
    "type, use, nbf and exp only. To rotate a secret, add a key with a later nbf."
)

_ADD_ACTION = {KeyKind.GENERATE: Action.GENERATE_KEY, KeyKind.SECRET: Action.UPLOAD_SECRET,
               KeyKind.CERTIFICATE: Action.UPLOAD_CERTIFICATE, KeyKind.PKCS12: Action.UPLOAD_PKCS12}


def plan(desired: DesiredState, live: LiveState, now: int) -> Plan:
    creates: list[Change] = []
    additions: list[Change] = []
    disables: list[Change] = []
    unmanaged: list[Unmanaged] = []
    duplicates: list[Duplicate] = []
    warnings: list[Diagnostic] = []

    for keyset in sorted(desired.keysets, key=lambda k: k.id.upper()):
        current = live.find(keyset.id)
        if current is None:
            creates.append(Change(Action.CREATE_KEYSET, keyset.id, location=keyset.location))
        target_id = current.id if current else keyset.id
        live_keys = current.keys if current else ()
        match = match_keyset(keyset.keys, live_keys)
        adds = _additions(keyset, match, now, warnings)
        additions += [Change(c.action, target_id, c.key, c.location, reason=c.reason, detail=c.detail) for c in adds]
        found = duplicates_in(target_id, live_keys, match, keyset.keys)
        duplicates += found
        copies = {kid: d.kids[0] for d in found for kid in d.extra}
        leftover = [k for k in match.leftover if k.kid not in copies
                    and (is_enabled(k) or copy_of(match, k, keyset.keys) is None)]  # a disabled copy is fixed
        if keyset.disable_unmanaged:
            wanted = [k for k in match.leftover if k.kid in copies or k in leftover]
            found_disables, notes = prune.disables(target_id, live_keys, wanted, [c.key for c in adds], now,
                                                   keyset.location)
            disables += [replace(c, detail=f"a second copy of key {copies[c.kid]}") if c.kid in copies else c
                         for c in found_disables]
            warnings += notes
            leftover = [k for k in leftover if is_enabled(k) and k.kid not in {c.kid for c in found_disables}]
        unmanaged.extend(Unmanaged(target_id, k.kid, k) for k in leftover)

    deletes, kept = prune.deletions(desired, live)
    unmanaged += kept
    deleted = {c.keyset_id.upper() for c in deletes}
    duplicates += [d for ks in sorted(live.keysets, key=lambda k: k.id.upper())
                   if desired.find(ks.id) is None and ks.id.upper() not in deleted
                   for d in find_duplicates(ks, None)]
    unsafe = prune.too_much_change(len(deletes), live)
    changes = tuple(creates + additions + disables + deletes)
    active = after_changes(changes, live, now)
    warnings += [Diagnostic(Severity.WARNING, f"key set {a.keyset_id} will have no active key once this plan is "
                            "applied: sign-ins that use it fail with AADB2C90019") for a in active
                 if a.after_kid is None and a.after_change is None]
    notes = ()
    if any(k.kind is KeyKind.SECRET for ks in desired.keysets for k in ks.keys):
        notes = (SECRETS_NOT_COMPARED,)
    return Plan(
        changes=changes,
        unmanaged=tuple(unmanaged),
        warnings=tuple(warnings) + ((unsafe,) if unsafe else ()),
        notes=notes,
        live=live,
        active=tuple(active),
        unsafe=(unsafe,) if unsafe else (),
        duplicates=tuple(duplicates),
    )


def _additions(keyset: DesiredKeySet, match: KeySetMatch, now: int, warnings: list[Diagnostic]) -> list[Change]:
    """The key additions of one key set, in nbf order: its missing fixed keys, and the
    successors its rotating keys are due."""
    adds = []
    for key in match.missing:
        if key.exp is not None and key.exp <= now:
            warnings.append(_expired_warning(keyset, key))
        else:
            adds.append(Change(_ADD_ACTION[key.kind], keyset.id, key, location=key.location))
    for rotating, chain in match.chains:
        due = rotation.successor(rotating, chain, now)
        if due is not None:
            adds.append(Change(Action.GENERATE_KEY, keyset.id, due[0], location=rotating.location,
                               reason=Reason.ROTATION, detail=due[1]))
    return sorted(adds, key=lambda c: add_order(c.key))


def _expired_warning(keyset: DesiredKeySet, key: DesiredKey) -> Diagnostic:
    fix = "renew the certificate" if key.kind.is_certificate else "give it a later exp"
    return Diagnostic(
        Severity.WARNING,
        f"a key of key set {keyset.id} expired already (exp {format_time(key.exp)}); "
        f"it will not be uploaded. Remove it from the manifest or {fix}",
        key.location,
    )


def unmatched_keys(desired: DesiredState, live: LiveState, now: int) -> list[tuple[LiveKeySet, LiveKey]]:
    """The live keys whose status the plan needs (the list answer leaves it out): in declared
    key sets with `disableUnmanagedKeys`, those no desired key (fixed or rotating) claims,
    which it may disable; in every key set, the extra copies of a key present twice, which
    are no longer a problem once disabled. `now` is kept for callers: matching needs no clock."""
    found: dict[tuple[str, str], tuple[LiveKeySet, LiveKey]] = {}
    for current in live.keysets:
        keyset = desired.find(current.id)
        if len(current.keys) < 2 and not (keyset is not None and keyset.disable_unmanaged):
            continue  # one key cannot be present twice
        match = match_keyset(keyset.keys if keyset else (), current.keys)
        if keyset is not None and keyset.disable_unmanaged:
            found.update(((current.id, k.kid), (current, k)) for k in match.leftover)
        copies = () if is_internal(current.id) else duplicates_in(current.id, current.keys, match,
                                                                   keyset.keys if keyset else ())
        extra = {kid for d in copies for kid in d.extra}
        found.update(((current.id, k.kid), (current, k)) for k in current.keys if k.kid in extra)
    return list(found.values())
