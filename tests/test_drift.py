"""drift() and the active-key rule as tables: pure, no server, a fixed `now`."""

import pytest

from helpers.model import DAY, NOW, desired, gen, key, live, sec, tenant
from reconciler.core.changes import Plan
from reconciler.core.model import KeyType, LiveKeySet, LiveState
from reconciler.plan.activekey import active_key
from reconciler.plan.drift import DriftReport, drift

# -- the active-key rule ----------------------------------------------------------------

ACTIVE = {
    "latest nbf wins": ([key("a", nbf=NOW - 9), key("b", nbf=NOW - 5), key("c", nbf=NOW - 7)], "b"),
    "no nbf ranks below any nbf": ([key("a", nbf=NOW - 9), key("b")], "a"),
    "no nbf at all: the last added": ([key("a"), key("b")], "b"),
    "tie on nbf: the last added": ([key("a", nbf=NOW - 1), key("b", nbf=NOW - 1)], "b"),
    "future nbf is not yet valid": ([key("a", nbf=NOW - 9), key("b", nbf=NOW + 1)], "a"),
    "nbf bound is inclusive": ([key("a", nbf=NOW)], "a"),
    "exp bound is exclusive": ([key("a", exp=NOW)], None),
    "expired newer key falls back to the older": ([key("a", nbf=NOW - 9), key("b", nbf=NOW - 5, exp=NOW - 1)], "a"),
    "disabled keys never": ([key("a", status="disabled"), key("b", nbf=NOW - 9, status="Disabled")], None),
    "status absent or enabled counts": ([key("a", nbf=NOW - 9, status="enabled"), key("b")], "a"),
    "no keys": ([], None),
}


@pytest.mark.parametrize("keys, expected", ACTIVE.values(), ids=ACTIVE.keys())
def test_active_key(keys, expected):
    found = active_key(keys, NOW)
    assert (found.kid if found else None) == expected


# -- drift ----------------------------------------------------------------------------------

def report(keys, window=30, manifest=None):
    """Drift of key set A holding `keys`, declared with the same keys unless `manifest` says."""
    live_state = LiveState((LiveKeySet("B2C_1A_A", tuple(keys)),))
    wanted = manifest if manifest is not None else desired(A=[
        sec(nbf=k.nbf, exp=k.exp) if k.kty is KeyType.OCT else gen(nbf=k.nbf, exp=k.exp) for k in keys] or [sec()])
    return drift(wanted, live_state, NOW, window)


def problems(r: DriftReport):
    return ([("expired", e.kid) for e in r.expired] + [("expiring", e.kid) for e in r.expiring]
            + [("no active", n.keyset_id, n.now, n.window_end) for n in r.no_active])


CASES = {
    "clean": ([key("a")], 0, []),
    "rotated: the old key expired, the new one is active": (
        [key("old", exp=NOW - DAY), key("new", nbf=NOW - 2 * DAY)], 0, []),
    "expiring, with a successor taking over at its exp": (
        [key("a", exp=NOW + 10 * DAY), key("b", nbf=NOW + 10 * DAY)], 0, []),
    "expiring after the window": ([key("a", exp=NOW + 40 * DAY)], 0, []),
    "expired, nothing took over": (
        [key("older", exp=NOW - 3 * DAY), key("a", exp=NOW - DAY)], 8,
        [("expired", "a"), ("no active", "B2C_1A_A", True, True)]),
    "expiring in the window, nothing takes over": (
        [key("a", exp=NOW + 10 * DAY)], 8, [("expiring", "a"), ("no active", "B2C_1A_A", False, True)]),
    "a gap inside the window": (
        [key("a", exp=NOW + 10 * DAY), key("b", nbf=NOW + 20 * DAY)], 8, [("expiring", "a")]),
    "no active key now: only a future key": (
        [key("a", nbf=NOW + 5 * DAY)], 8, [("no active", "B2C_1A_A", True, False)]),
    "no active key now: all disabled": (
        [key("a", status="disabled")], 8, [("no active", "B2C_1A_A", True, True)]),
}


@pytest.mark.parametrize("keys, code, found", CASES.values(), ids=CASES.keys())
def test_key_problems(keys, code, found):
    r = report(keys)
    assert r.exit_code == code
    assert problems(r) == found
    assert not r.changes and not r.unmanaged


def test_window_decides_what_is_expiring():
    keys = [key("a", exp=NOW + 40 * DAY)]
    assert report(keys, window=30).exit_code == 0
    assert problems(report(keys, window=60)) == [("expiring", "a"), ("no active", "B2C_1A_A", False, True)]
    assert report([key("a", exp=NOW + 1)], window=0).exit_code == 0


def test_reasons_say_why_in_words():
    [item] = report([key("a", exp=NOW - DAY), key("b", nbf=NOW + DAY)]).no_active
    assert item.reason == "its last key expired on 2027-01-14T08:00:00Z; its next key is valid from 2027-01-16T08:00:00Z"
    assert report([key("a", status="disabled")]).no_active[0].reason == "all its keys are disabled"
    empty = drift(desired(A=[sec()]), tenant(A=[]), NOW)
    assert empty.no_active[0].reason == "it has no keys"
    assert empty.exit_code == 2 | 8  # the key to add is pending, and today there is no key


def test_changes_pending_is_bit_2():
    r = drift(desired(A=[gen()], B=[gen()]), tenant(A=[live("k")]), NOW)
    assert r.exit_code == 2 | 8 and [c.keyset_id for c in r.changes] == ["B2C_1A_B", "B2C_1A_B"]
    # a declared key set missing from the tenant: pending (2), and every sign-in using it fails now (8)
    assert [(n.keyset_id, n.missing, n.now) for n in r.no_active] == [("B2C_1A_B", True, True)]
    assert "missing from the tenant" in r.no_active[0].reason
    r = drift(desired(A=[gen(), gen(nbf=NOW)]), tenant(A=[live("k")]), NOW)
    assert r.exit_code == 2 and r.no_active == ()  # a key to add to a key set that exists: pending only


def test_unmanaged_key_sets_and_keys_are_bit_4():
    assert drift(desired(A=[gen()]), tenant(A=[live("k")], B=[live("x")]), NOW).exit_code == 4
    r = drift(desired(A=[gen(exp=NOW + 90 * DAY)]),
              tenant(A=[live("k", exp=NOW + 90 * DAY), live("stray", use="sig", nbf=NOW - DAY)]), NOW)
    assert r.exit_code == 4 and [u.kid for u in r.unmanaged] == ["stray"] and r.duplicates == ()
    # a copy of the declared key (its dates left out match any): bit 4 too, as a duplicate
    r = drift(desired(A=[gen()]), tenant(A=[live("k"), live("copy", use="sig", nbf=NOW - DAY)]), NOW)
    assert r.exit_code == 4 and r.unmanaged == () and [d.kids for d in r.duplicates] == [("k", "copy")]


def test_backups_are_ignored_everywhere():
    backup = LiveKeySet("B2C_1A_A.bak", (key("gone", exp=NOW - DAY),))
    r = drift(desired(A=[gen()]), LiveState((LiveKeySet("B2C_1A_A", (live("k"),)), backup)), NOW)
    assert r.exit_code == 0 and r.unmanaged == () and r.no_active == ()


def test_all_bits_together_and_unmanaged_key_sets_are_checked_too():
    r = drift(desired(A=[gen()]), tenant(Legacy=[key("old", exp=NOW - DAY)]), NOW)
    assert r.exit_code == 2 | 4 | 8 == 14
    assert [(n.keyset_id, n.missing) for n in r.no_active] == [("B2C_1A_A", True), ("B2C_1A_Legacy", False)]
    assert problems(r)[0] == ("expired", "old")


def test_nothing_to_report_is_zero_even_with_notes():
    r = DriftReport(Plan(notes=("a note",)), NOW, 30)
    assert r.exit_code == 0 and r.window_end == NOW + 30 * DAY
