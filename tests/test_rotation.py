"""Rotation of generated keys across simulated time: the pure planner fed with `now`
values months apart, each plan "applied" to the simulated tenant, and one run end to
end against the emulator."""

import time

import pytest

from helpers.cli import run
from helpers.graph import Graph
from helpers.model import DAY, LOC, NOW, gen, live
from reconciler.core.changes import Action, Reason
from reconciler.core.errors import ManifestError
from reconciler.core.model import (
    DesiredKey,
    DesiredKeySet,
    DesiredState,
    KeyKind,
    KeyType,
    KeyUse,
    LiveKey,
    LiveKeySet,
    LiveState,
    Rotation,
)
from reconciler.manifest.reader import load_manifests
from reconciler.plan.activekey import active_key
from reconciler.plan.planner import plan

LIFETIME, RENEW = 180 * DAY, 30 * DAY
MIDNIGHT = NOW - NOW % DAY


def rotating(kty="RSA", use="sig", lifetime=LIFETIME, renew=RENEW):
    return DesiredKey(KeyKind.GENERATE, KeyType(kty), KeyUse(use), location=LOC, rotate=Rotation(lifetime, renew))


def state(*keys, name="Sign"):
    return DesiredState((DesiredKeySet(name, tuple(keys), LOC),))


def tenant(*keys, name="Sign"):
    return LiveState((LiveKeySet("B2C_1A_" + name, tuple(keys)),))


def applied(live_state: LiveState, p, counter=[0]) -> LiveState:
    """The tenant after `p` is applied, as the emulator would make it (new kids)."""
    sets = {ks.id: list(ks.keys) for ks in live_state.keysets}
    for change in p.changes:
        if change.action is Action.CREATE_KEYSET:
            sets[change.keyset_id] = []
        elif change.action is Action.GENERATE_KEY:
            counter[0] += 1
            k = change.key
            sets[change.keyset_id].append(LiveKey(f"k{counter[0]}", k.kty, k.use, k.nbf, k.exp))
    return LiveState(tuple(LiveKeySet(i, tuple(keys)) for i, keys in sets.items()))


def added(p):
    return [(c.key.nbf, c.key.exp) for c in p.changes if c.action is Action.GENERATE_KEY]


CASES = {
    "empty tenant: the first key, from midnight": (
        tenant(), NOW, [(MIDNIGHT, MIDNIGHT + LIFETIME)]),
    "a fresh key: nothing to do": (
        tenant(live("a", nbf=NOW - 10 * DAY, exp=NOW + 170 * DAY)), NOW, []),
    "31 days left: not yet": (
        tenant(live("a", nbf=NOW - 149 * DAY, exp=NOW + 31 * DAY)), NOW, []),
    "30 days left: the successor, taking over 15 days before": (
        tenant(live("a", nbf=NOW - 150 * DAY, exp=NOW + 30 * DAY)), NOW,
        [(NOW + 15 * DAY, NOW + 15 * DAY + LIFETIME)]),
    "a successor already there: nothing to do": (
        tenant(live("a", nbf=NOW - 160 * DAY, exp=NOW + 20 * DAY), live("b", nbf=NOW + 5 * DAY, exp=NOW + 185 * DAY)),
        NOW, []),
    "late: 5 days left, the successor computed from the live key, not from now": (
        tenant(live("a", nbf=NOW - 175 * DAY, exp=NOW + 5 * DAY)), NOW,
        [(NOW - 10 * DAY, NOW - 10 * DAY + LIFETIME)]),
    "all expired: a new key from midnight": (
        tenant(live("a", nbf=NOW - 200 * DAY, exp=NOW - 20 * DAY)), NOW, [(MIDNIGHT, MIDNIGHT + LIFETIME)]),
    "only a disabled key: a new key": (
        tenant(LiveKey("a", KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + 100 * DAY, "disabled")), NOW,
        [(MIDNIGHT, MIDNIGHT + LIFETIME)]),
    "a key of another use is not part of the chain": (
        tenant(live("a", use="enc", nbf=NOW - DAY, exp=NOW + 100 * DAY)), NOW, [(MIDNIGHT, MIDNIGHT + LIFETIME)]),
    "a short lifetime at the end of the day starts at the hour": (
        tenant(), MIDNIGHT + 23 * 3600 + 60, [(MIDNIGHT + 23 * 3600, MIDNIGHT + 23 * 3600 + 4 * 3600)]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_rotation_table(case):
    live_state, now, expected = CASES[case]
    key = rotating(lifetime=4 * 3600, renew=2 * 3600) if "short lifetime" in case else rotating()
    p = plan(state(key), live_state, now)
    assert added(p) == expected
    assert all(c.reason is Reason.ROTATION for c in p.changes if c.action is Action.GENERATE_KEY)


@pytest.mark.parametrize("every_days", [1, 7, 29])
def test_two_years_of_scheduled_runs_never_leave_the_key_set_without_a_key(every_days):
    """A pipeline runs plan + apply every N days for two years: there is always an active
    key, a successor is in place 15 days before each key expires, a plan right after an
    apply shows no change, and the whole history is the same when run again."""

    def simulate():
        desired, live_state, history = state(rotating()), LiveState(), []
        for now in range(NOW, NOW + 730 * DAY, every_days * DAY):
            p = plan(desired, live_state, now)
            history += added(p)
            live_state = applied(live_state, p)
            assert plan(desired, live_state, now).is_empty  # idempotent
            keys = live_state.keysets[0].keys
            for t in range(now, now + every_days * DAY, DAY // 4):
                assert active_key(keys, t) is not None, f"no active key at {t}"
        return history, keys

    history, keys = simulate()
    assert simulate()[0] == history  # deterministic
    assert len(history) == 5  # the first, then one every lifetime - renewBefore/2 = 165 days
    for (nbf, exp), (next_nbf, _) in zip(history, history[1:]):
        assert next_nbf == exp - 15 * DAY  # from the live key alone, whenever the pipeline ran
    assert all(exp - nbf == LIFETIME for nbf, exp in history)


def test_rotation_keys_never_collide_with_a_fixed_key():
    """A fixed key (here the safety net B2C recommends: no dates) keeps its live key; the
    chain is made of the other keys, and the fixed key is never taken for one of them."""
    desired = state(gen(), rotating())
    live_state = tenant(live("net"), live("r1", nbf=NOW - 100 * DAY, exp=NOW + 80 * DAY))
    assert plan(desired, live_state, NOW).is_empty
    p = plan(desired, live_state, NOW + 60 * DAY)  # r1 has 20 days left
    assert added(p) == [(NOW + 65 * DAY, NOW + 65 * DAY + LIFETIME)] and p.unmanaged == ()
    # a fixed key with dates claims its live key first, even one that looks like a chain key
    fixed = gen(nbf=NOW - 100 * DAY, exp=NOW + 80 * DAY)
    p = plan(state(fixed, rotating()), live_state, NOW)
    assert added(p) == [(MIDNIGHT, MIDNIGHT + LIFETIME)]
    assert [u.kid for u in p.unmanaged] == ["net"]


def test_the_plan_shows_which_key_takes_over():
    p = plan(state(rotating()), tenant(live("old", nbf=NOW - 150 * DAY, exp=NOW + 30 * DAY)), NOW)
    (change,) = p.changes
    assert change.detail.startswith("successor of key old, which expires")
    (view,) = p.active
    assert view.now_kid == "old" and view.after_kid == "old"  # the successor takes over at its nbf, later


@pytest.mark.parametrize("key, message", [
    ("{kind: generate, kty: RSA, use: sig, rotate: {lifetime: 10d, renewBefore: 6d}}",
     "'renewBefore' must be at most half of 'lifetime'"),
    ("{kind: generate, kty: RSA, use: sig, nbf: 2027-01-01T00:00:00Z, rotate: {lifetime: 10d, renewBefore: 2d}}",
     "'nbf' is not allowed with 'rotate'"),
    ("{kind: generate, kty: RSA, use: sig, rotate: {lifetime: 180x, renewBefore: 2d}}",
     "'lifetime' must be a whole number of days or hours"),
    ("{kind: generate, kty: RSA, use: sig, rotate: {lifetime: 180d}}", "missing required property 'renewBefore'"),
])
def test_rotation_settings_are_checked(tmp_path, key, message):
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nkeySets:\n  - name: Sign\n    keys:\n      - {key}\n")
    with pytest.raises(ManifestError, match=message):
        load_manifests([str(path)])


def test_one_rotation_per_key_set_and_durations_in_seconds(tmp_path):
    path = tmp_path / "m.yaml"
    rot = "{kind: generate, kty: RSA, use: sig, rotate: {lifetime: 90d, renewBefore: 12h}}"
    path.write_text(f"version: 1\nkeySets:\n  - name: Sign\n    keys:\n      - {rot}\n")
    (key,) = load_manifests([str(path)]).state.keysets[0].keys
    assert key.rotate == Rotation(90 * DAY, 12 * 3600) and key.nbf is None
    path.write_text(f"version: 1\nkeySets:\n  - name: Sign\n    keys:\n      - {rot}\n      - {rot}\n")
    with pytest.raises(ManifestError, match="two rotating keys"):
        load_manifests([str(path)])


def test_rotation_end_to_end(emu, env, capsys, tmp_path):
    """A key set whose key expires in 10 days gets its successor; then nothing more to do."""
    now = int(time.time())
    graph = Graph(emu)
    graph("POST", "", {"id": "TokenSigningKeyContainer"})
    old = graph("POST", "/B2C_1A_TokenSigningKeyContainer/generateKey",
                {"use": "sig", "kty": "RSA", "nbf": now - 170 * DAY, "exp": now + 10 * DAY})
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: TokenSigningKeyContainer\n    keys:\n"
                    "      - {kind: generate, kty: RSA, use: sig, rotate: {lifetime: 180d, renewBefore: 30d}}\n")
    code, out, _ = run(capsys, ["drift", str(path), "--expiry-window", "30"], env)
    assert code & 2 and code & 8  # the successor is pending, and the key expires with none to take over
    code, out, err = run(capsys, ["apply", "--auto-approve", str(path)], env)
    assert code == 0, err
    assert f"(rotation: successor of key {old['kid']}" in out
    keys = emu.state()["keySets"][0]["keys"]
    assert [(k["nbf"], k["exp"]) for k in keys][1] == (old["exp"] - 15 * DAY, old["exp"] - 15 * DAY + 180 * DAY)
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", str(path)], env)
    assert code == 0 and "No changes." in out
    code, out, _ = run(capsys, ["drift", str(path), "--expiry-window", "30"], env)
    assert code == 0, out  # the successor takes over before the old key expires
