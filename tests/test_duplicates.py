"""Keys present more than once in a live key set: found (`find_duplicates`, the planner), shown as
a problem in every format, bit 4 in drift, and gone once the extra copy is disabled."""

import json
import time

from helpers.cli import run
from helpers.graph import Graph
from helpers.model import DAY, LOC, NOW, desired, gen, key, live, sec, tenant
from reconciler.core.changes import Action
from reconciler.core.model import (
    DesiredKey,
    DesiredKeySet,
    DesiredState,
    KeyKind,
    KeyType,
    KeyUse,
    LiveKey,
    LiveKeySet,
    Rotation,
)
from reconciler.plan.data import drift_data, plan_data
from reconciler.plan.drift import drift
from reconciler.plan.duplicates import find_duplicates
from reconciler.plan.planner import plan, unmatched_keys
from reconciler.render.drift_text import render_drift_text
from reconciler.render.markdown import render_drift_markdown, render_plan_markdown
from reconciler.render.text import render_plan_text

X, Y = NOW - 10 * DAY, NOW + 100 * DAY


def found(keyset, declared=None):
    return [d.kids for d in find_duplicates(keyset, declared)]


def test_the_same_desired_key_twice():
    # an undated key the service dated, added again on every apply by an older b2ckeys
    keyset = LiveKeySet("B2C_1A_Fb", (key("k1", nbf=X, exp=Y), key("k2", nbf=X + DAY, exp=Y + DAY),
                                      key("k3", nbf=X + 2 * DAY, exp=Y + 2 * DAY)))
    assert found(keyset, DesiredKeySet("Fb", (sec(),))) == [("k3", "k1", "k2")]  # B2C uses k3: it is kept
    # not a copy of a key the manifest dates otherwise, nor one nothing declares
    assert found(keyset, DesiredKeySet("Fb", (sec(nbf=X + 2 * DAY),))) == []
    assert found(keyset, None) == []


def test_the_same_key_twice_in_any_key_set():
    twins = LiveKeySet("B2C_1A_Legacy", (key("a", nbf=X), key("other"), key("b", nbf=X)))
    assert found(twins) == [("b", "a")]  # undeclared: the one listed last is kept
    # "other" is the undated key's own, and a and b match it too: copies of it
    assert found(twins, DesiredKeySet("Legacy", (sec(),))) == [("other", "a", "b")]
    assert found(twins, DesiredKeySet("Legacy", (sec(nbf=X),))) == [("b", "a")]
    # certificates: the same thumbprint twice (Graph may pad it)
    certs = LiveKeySet("B2C_1A_C", (LiveKey("c1", KeyType.RSA, KeyUse.SIG, X, Y, x5t="abc"),
                                    LiveKey("c2", KeyType.RSA, KeyUse.SIG, X, Y, x5t="abc="),
                                    LiveKey("c3", KeyType.RSA, KeyUse.SIG, X, Y, x5t="xyz")))
    assert found(certs) == [("c2", "c1")]
    cert = DesiredKey(KeyKind.CERTIFICATE, KeyType.RSA, KeyUse.SIG, location=LOC, x5t="abc")
    assert found(certs, DesiredKeySet("C", (cert,))) == [("c2", "c1")]


def test_what_is_not_a_duplicate():
    # two desired keys that both fit the same dates: the manifest asks for two keys
    both = LiveKeySet("B2C_1A_A", (key("a", nbf=X, exp=Y), key("b", nbf=X, exp=Y)))
    assert found(both, DesiredKeySet("A", (sec(nbf=X), sec(exp=Y)))) == []
    # a disabled copy: disabling it was the fix
    fixed = LiveKeySet("B2C_1A_A", (key("a", nbf=X), key("b", nbf=X, status="disabled")))
    assert found(fixed) == [] and found(fixed, DesiredKeySet("A", (sec(),))) == []
    # a rotation's chain is its own; two chain keys with the same dates are not
    rot = DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG, location=LOC, rotate=Rotation(180 * DAY, 30 * DAY))
    chain = LiveKeySet("B2C_1A_S", (live("net"), live("r1", nbf=X, exp=X + 180 * DAY), live("r2", nbf=Y, exp=Y + 180 * DAY)))
    assert found(chain, DesiredKeySet("S", (gen(), rot))) == []
    twice = LiveKeySet("B2C_1A_S", chain.keys + (live("r2bis", nbf=Y, exp=Y + 180 * DAY),))
    assert found(twice, DesiredKeySet("S", (gen(), rot))) == [("r2bis", "r2")]
    # b2ckeys' lease and B2C's backups are never looked at
    assert found(LiveKeySet("B2C_1A_B2CKeysLock", (key("a"), key("b")))) == []
    assert found(LiveKeySet("B2C_1A_X.bak", (key("a"), key("b")))) == []


def test_the_plan_reports_them_once_and_disables_them_when_asked():
    state = tenant(Fb=[key("k1", nbf=X, exp=Y), key("k2", nbf=X + DAY, exp=Y), key("odd", nbf=X, exp=X + DAY)],
                   Legacy=[key("l1"), key("l2")])
    p = plan(desired(Fb=[sec(exp=Y)]), state, NOW)
    assert p.changes == ()
    assert [(d.keyset_id, d.kids) for d in p.duplicates] == [("B2C_1A_Fb", ("k2", "k1")), ("B2C_1A_Legacy", ("l2", "l1"))]
    assert [(u.keyset_id, u.kid) for u in p.unmanaged] == [("B2C_1A_Fb", "odd"), ("B2C_1A_Legacy", None)]  # not k1
    # disableUnmanagedKeys disables the copy, saying what it is a copy of
    asked = DesiredState((DesiredKeySet("Fb", (sec(exp=Y),), LOC, disable_unmanaged=True),))
    p = plan(asked, state, NOW)
    assert [(c.action, c.kid, c.detail) for c in p.changes] == [
        (Action.DISABLE_KEY, "k1", "a second copy of key k2"), (Action.DISABLE_KEY, "odd", "no desired key matches it")]
    assert "this plan disables the extra copy" in render_plan_text(p)
    # the status is read for the copies (the list answer leaves it out), in every key set
    assert sorted((ks.id, k.kid) for ks, k in unmatched_keys(desired(Fb=[sec(exp=Y)]), state, NOW)) == [
        ("B2C_1A_Fb", "k1"), ("B2C_1A_Legacy", "l1")]
    # a key set the plan deletes: its copies go with it
    pruned = DesiredState((DesiredKeySet("Fb", (sec(exp=Y),), LOC),), prune=True)
    assert [d.keyset_id for d in plan(pruned, state, NOW).duplicates] == ["B2C_1A_Fb"]


def test_a_plan_with_only_duplicates_is_not_no_changes():
    p = plan(desired(Sign=[gen()]), tenant(Sign=[live("a", nbf=X), live("b", nbf=X)]), NOW)
    assert p.is_empty  # nothing to apply: plan --detailed-exitcode stays 0
    text = render_plan_text(p)
    assert "No changes." not in text
    assert text.endswith("No changes to make, but 1 key is present more than once in the tenant: "
                         "disable the extra copies.\n")
    assert "  ! key b in B2C_1A_Sign (RSA sig, nbf 2027-01-05T08:00:00Z) is present again as key a\n" in text
    assert ('disableUnmanagedKeys: true on key set B2C_1A_Sign, then apply; or PATCH '
            '/trustFramework/keySets/B2C_1A_Sign/keys_v2/a with {"status": "disabled"}; '
            'or disable it in the Azure portal') in text
    md = render_plan_markdown(p)
    assert "**Keys present more than once**" in md and "present again as `a`" in md
    data = plan_data(p)
    assert data["summary"]["duplicates"] == 1 and data["summary"]["empty"] is True
    (item,) = data["duplicates"]
    assert (item["keySet"], item["kids"], item["kept"], item["extra"]) == ("B2C_1A_Sign", ["b", "a"], "b", ["a"])
    assert item["extraKeys"][0]["kid"] == "a" and "keys_v2/a" in item["fix"]


def test_a_copy_with_other_dates_shows_them():
    p = plan(desired(Fb=[sec()]), tenant(Fb=[key("k1"), key("k2", exp=Y)]), NOW)
    assert "key k1 in B2C_1A_Fb (oct sig) is present again as key k2 (oct sig, exp 2027-04-25T08:00:00Z)" in render_plan_text(p)


def test_drift_reports_them_as_bit_4():
    r = drift(desired(Sign=[gen()]), tenant(Sign=[live("a", nbf=X), live("b", nbf=X)]), NOW)
    assert r.exit_code == 4 and r.unmanaged == () and len(r.duplicates) == 1
    text = render_drift_text(r)
    assert "Keys present more than once" in text and "1 key is present more than once (exit code 4)" in text
    assert drift_data(r)["summary"]["duplicates"] == 1 and drift_data(r)["duplicates"][0]["kids"] == ["b", "a"]
    assert "present again as `a`" in render_drift_markdown(r)


def test_end_to_end_an_undated_key_is_not_added_again_and_its_copies_are_reported(emu, env, capsys, tmp_path):
    """The service dated a key added without dates: it is the manifest's key all the same. Copies an
    older b2ckeys added on every apply are reported until disabled."""
    graph, now = Graph(emu), int(time.time())
    graph("POST", "", {"id": "Fb"})
    dated = [graph("POST", "/B2C_1A_Fb/uploadSecret", {"use": "sig", "k": "s3cret", "nbf": now - DAY + i,
                                                       "exp": now + 400 * DAY}) for i in range(3)]
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: Fb\n    keys:\n      - {kind: secret, use: sig, value: {env: FB}}\n")
    env["FB"] = "s3cret"
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", str(path)], env)
    assert code == 0 and "No changes." not in out and "+ key" not in out
    assert f"key {dated[2]['kid']} in B2C_1A_Fb" in out
    assert f"present again as keys {dated[0]['kid']} (oct sig, nbf " in out and f", {dated[1]['kid']} (oct sig" in out
    code, out, _ = run(capsys, ["drift", str(path), "--format", "json"], env)
    assert code == 4 and json.loads(out)["duplicates"][0]["extra"] == [dated[0]["kid"], dated[1]["kid"]]
    for extra in dated[:2]:
        graph("PATCH", f"/B2C_1A_Fb/keys_v2/{extra['kid']}", {"status": "disabled"})
    code, out, _ = run(capsys, ["drift", str(path)], env)
    assert code == 0, out  # disabled copies are read from keys_v2: fixed
    code, out, _ = run(capsys, ["apply", "--auto-approve", str(path)], env)
    assert code == 0 and "No changes." in out
    assert len(emu.state()["keySets"][0]["keys"]) == 3  # never added again
