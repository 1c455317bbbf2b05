"""Which live key is which desired key: dates left out match any date, as a maximum matching
that prefers exact matches, checked against an exhaustive search; rotation chains keep theirs."""

import itertools
import random

import pytest

from helpers.model import DAY, LOC, NOW, desired, gen, live, sec, tenant
from reconciler.core.changes import Action
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse, LiveKey, Rotation
from reconciler.plan.activekey import is_enabled
from reconciler.plan.matching import match_keyset
from reconciler.plan.planner import plan

X, Y, Q = NOW - 10 * DAY, NOW + 10 * DAY, NOW + 20 * DAY


def pairs(desired_keys, live_keys):
    found = match_keyset(desired_keys, live_keys)
    return [(desired_keys.index(d), k.kid) for d, k in found.pairs], [k.kid for k in found.leftover]


def test_a_date_left_out_matches_any_date_the_service_gave():
    assert pairs([sec()], [live("k", "oct", nbf=X, exp=Y)]) == ([(0, "k")], [])
    assert pairs([sec(nbf=X)], [live("k", "oct", nbf=X, exp=Y)]) == ([(0, "k")], [])
    assert pairs([sec(exp=Y)], [live("k", "oct", nbf=X, exp=Y)]) == ([(0, "k")], [])
    assert pairs([sec(nbf=X)], [live("k", "oct", nbf=Y, exp=Q)]) == ([], ["k"])  # a date given must be equal
    assert pairs([sec(nbf=X, exp=Y)], [live("k", "oct", nbf=X)]) == ([], ["k"])  # ... and present


def test_not_greedy_a_maximum_matching():
    """C (nbf X) and E (exp Y) with L1 (X, Y) and L2 (X, Q): a greedy C would take L1 and leave E
    without a key, to be added again; the maximum matching pairs both."""
    c, e = gen(nbf=X), gen(exp=Y)
    assert sorted(pairs([c, e], [live("L1", nbf=X, exp=Y), live("L2", nbf=X, exp=Q)])[0]) == [(0, "L2"), (1, "L1")]
    p = plan(desired(Sign=[c, e]), tenant(Sign=[live("L1", nbf=X, exp=Y), live("L2", nbf=X, exp=Q)]), NOW)
    assert p.changes == () and p.duplicates == () and p.unmanaged == ()


def test_exact_matches_first():
    # the undated key has an undated live key: that one is its own, whatever else could match
    assert pairs([gen()], [live("dated", nbf=X, exp=Y), live("undated")]) == ([(0, "undated")], ["dated"])
    # an exact match is kept, the wildcard key takes another: both are matched
    assert sorted(pairs([gen(), gen(nbf=X, exp=Y)], [live("a", nbf=X, exp=Y), live("b", nbf=X, exp=Q)])[0]) == [
        (0, "b"), (1, "a")]


def test_of_copies_the_kept_one_is_the_one_b2c_uses():
    # equal keys: the one listed last (B2C uses it); an undated key: the latest nbf
    assert pairs([gen(nbf=X)], [live("first", nbf=X), live("last", nbf=X)]) == ([(0, "last")], ["first"])
    assert pairs([gen()], [live("old", nbf=X, exp=Q), live("new", nbf=Y, exp=Q), live("mid", nbf=X + 1, exp=Q)]) == (
        [(0, "new")], ["old", "mid"])
    # an enabled key rather than a disabled one
    keys = [LiveKey("on", KeyType.RSA, KeyUse.SIG, X), LiveKey("off", KeyType.RSA, KeyUse.SIG, X, None, "disabled")]
    assert pairs([gen(nbf=X)], keys) == ([(0, "on")], ["off"])


def test_certificates_still_match_by_thumbprint():
    cert = DesiredKey(KeyKind.CERTIFICATE, KeyType.RSA, KeyUse.SIG, location=LOC, x5t="abc")
    keys = [LiveKey("other", KeyType.RSA, KeyUse.SIG, X, Y, x5t="zzz"), LiveKey("c", KeyType.RSA, KeyUse.SIG, X, Y, x5t="abc=")]
    assert pairs([cert], keys) == ([(0, "c")], ["other"])


def rotating(lifetime=180 * DAY):
    return DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG, location=LOC, rotate=Rotation(lifetime, 30 * DAY))


def test_a_date_left_out_never_takes_a_rotation_key():
    """The safety net (no dates) next to a rotation: a live key shaped as the rotation makes them
    (exp - nbf = lifetime) is the chain's, so the net is added rather than taking it."""
    chain_key = live("r1", nbf=NOW - 100 * DAY, exp=NOW + 80 * DAY)
    found = match_keyset([gen(), rotating()], [chain_key])
    assert found.pairs == () and [k.kid for k in found.chains[0][1]] == ["r1"]
    p = plan(desired(Sign=[gen(), rotating()]), tenant(Sign=[chain_key]), NOW)
    assert [(c.action, c.key.nbf, c.reason) for c in p.changes] == [(Action.GENERATE_KEY, None, None)]
    # the net added without dates that the service dated anyway: matched, not added again, not a chain key
    net = live("net", nbf=NOW - 5 * DAY, exp=NOW + 360 * DAY)
    found = match_keyset([gen(), rotating()], [net, chain_key])
    assert [k.kid for _, k in found.pairs] == ["net"] and [k.kid for k in found.chains[0][1]] == ["r1"]
    assert plan(desired(Sign=[gen(), rotating()]), tenant(Sign=[net, chain_key]), NOW).is_empty


DATES = [None, X, Y, Q]


def best_by_search(fixed, keys):
    """(pairs, exact pairs, enabled keys) of the best matching, by trying every one."""
    best = (0, 0, 0)
    for choice in itertools.product([None, *range(len(keys))], repeat=len(fixed)):
        taken = [j for j in choice if j is not None]
        if len(taken) != len(set(taken)) or any(j is not None and not fixed[i].matches(keys[j])
                                                 for i, j in enumerate(choice)):
            continue
        chosen = [(fixed[i], keys[j]) for i, j in enumerate(choice) if j is not None]
        best = max(best, (len(chosen), sum(d.matches_exactly(k) for d, k in chosen),
                          sum(is_enabled(k) for _, k in chosen)))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_the_matching_is_the_best_one(seed):
    rnd = random.Random(seed)
    for _ in range(150):
        fixed = [gen(nbf=rnd.choice(DATES), exp=rnd.choice(DATES)) for _ in range(rnd.randint(1, 4))]
        keys = [LiveKey(f"k{j}", KeyType.RSA, KeyUse.SIG, rnd.choice(DATES), rnd.choice(DATES),
                        rnd.choice([None, None, "disabled"])) for j in range(rnd.randint(0, 5))]
        found = match_keyset(fixed, keys)
        assert all(d.matches(k) for d, k in found.pairs)
        assert len({k.kid for _, k in found.pairs}) == len(found.pairs)
        got = (len(found.pairs), sum(d.matches_exactly(k) for d, k in found.pairs),
               sum(is_enabled(k) for _, k in found.pairs))
        assert got == best_by_search(fixed, keys), (fixed, keys)
        assert len(found.missing) + len(found.pairs) == len(fixed)
