"""The active key in plans (each key set changed, now and after apply) and in drift, where
B2C's getActiveKey is asked too (one GET per key set) and a disagreement is a key problem."""

import json

from helpers.cli import run
from helpers.graph import Graph
from helpers.model import DAY, NOW, desired, gen, live, tenant
from reconciler.core.model import KeyType, KeyUse, LiveKey
from reconciler.plan.activekey import named_by_answer
from reconciler.plan.data import drift_data
from reconciler.plan.drift import drift
from reconciler.plan.planner import plan
from reconciler.render.drift_text import render_drift_text
from reconciler.render.text import render_plan_text


def test_plan_shows_the_active_key_of_each_key_set_it_changes():
    p = plan(desired(Sign=[gen(nbf=NOW - DAY), gen(nbf=NOW + 5 * DAY)], Enc=[gen(use="enc")], Same=[gen()]),
             tenant(Sign=[live("old", nbf=NOW - DAY)], Same=[live("s")]), NOW)
    text = render_plan_text(p)
    assert "  B2C_1A_Sign: key old, now and after apply" in text  # the new key is valid only in 5 days
    assert "  B2C_1A_Enc: a new key set; after apply a key this plan adds" in text
    assert "B2C_1A_Same" not in text  # not changed: not listed
    p = plan(desired(Sign=[gen(nbf=NOW - DAY), gen(nbf=NOW - 3600)]), tenant(Sign=[live("old", nbf=NOW - DAY)]), NOW)
    assert "B2C_1A_Sign: key old now; after apply a key this plan adds (nbf " in render_plan_text(p)


def test_a_plan_that_leaves_no_active_key_says_so():
    p = plan(desired(Later=[gen(nbf=NOW + DAY)]), tenant(), NOW)
    assert any("B2C_1A_Later will have no active key once this plan is applied" in w.message for w in p.warnings)


def test_drift_reports_a_disagreement_with_get_active_key():
    keys = [LiveKey("a", KeyType.RSA, KeyUse.SIG, NOW - 9 * DAY), LiveKey("b", KeyType.RSA, KeyUse.SIG, NOW - DAY)]
    live_state = tenant(Sign=keys, Lone=[live("l")])
    report = drift(desired(Sign=[gen(nbf=NOW - 9 * DAY), gen(nbf=NOW - DAY)], Lone=[gen()]), live_state, NOW,
                   graph_active={"B2C_1A_Sign": keys[0], "B2C_1A_Lone": live("l")})
    assert report.exit_code == 8 and [d.keyset_id for d in report.disagreements] == ["B2C_1A_Sign"]
    text = render_drift_text(report)
    assert ("! key set B2C_1A_Sign is using key a by B2C's getActiveKey, but key b by the rule b2ckeys applies "
            "to the keys listed: B2C's answer counts") in text
    assert "  B2C_1A_Lone: key l, as getActiveKey says" in text
    data = drift_data(report)
    assert data["summary"]["activeKeyDisagreements"] == 1
    assert {"keySet": "B2C_1A_Sign", "rule": "b", "getActiveKey": "a", "checked": True, "agree": False} in data["activeKeys"]


def test_drift_end_to_end_asks_get_active_key_once_per_key_set(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    for name in ("Sign", "Lone", "Old.bak"):
        graph("POST", "", {"id": name})
    a = graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA", "nbf": 1_000_000})
    b = graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA", "nbf": 2_000_000})
    lone = graph("POST", "/B2C_1A_Lone/generateKey", {"use": "sig", "kty": "RSA"})
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: Sign\n    keys:\n"
                    "      - {kind: generate, kty: RSA, use: sig, nbf: 1000000}\n"
                    "      - {kind: generate, kty: RSA, use: sig, nbf: 2000000}\n"
                    "  - {name: Lone, keys: [{kind: generate, kty: RSA, use: sig}]}\n")
    assert run(capsys, ["drift", str(path)], env)[0] == 0
    calls = [r["path"] for r in emu.requests() if r["path"].endswith("/getActiveKey")]
    assert sorted(c.split("/")[-2] for c in calls) == ["B2C_1A_Lone", "B2C_1A_Sign"]  # not the backup

    # disabled out of band: the list does not show it, getActiveKey does
    graph("PATCH", f"/B2C_1A_Sign/keys_v2/{b['kid']}", {"status": "disabled"})
    graph("PATCH", f"/B2C_1A_Lone/keys_v2/{lone['kid']}", {"status": "disabled"})
    code, out, _ = run(capsys, ["drift", str(path), "--format", "json"], env)
    assert code == 8
    checks = {c["keySet"]: (c["rule"], c["getActiveKey"], c["agree"]) for c in json.loads(out)["activeKeys"]}
    assert checks == {"B2C_1A_Sign": (b["kid"], a["kid"], False), "B2C_1A_Lone": (lone["kid"], None, False)}


def test_an_answer_without_kid_is_tied_to_a_listed_key_by_its_other_fields():
    keys = [LiveKey("a", KeyType.RSA, KeyUse.SIG, NOW - 9 * DAY, NOW + DAY),
            LiveKey("b", KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + DAY, x5t="tb"),
            LiveKey("c", KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + 2 * DAY, status="disabled")]
    assert named_by_answer(None, keys) == (None, "")  # "no active key"
    assert named_by_answer(LiveKey("x", KeyType.RSA, KeyUse.SIG), keys) == ("x", "")  # a kid: as given
    # the documented example: no kid, no nbf; exp (and x5t) tell the key
    assert named_by_answer(LiveKey("", KeyType.RSA, KeyUse.SIG, exp=NOW + DAY, x5t="tb="), keys) == ("b", "")
    assert named_by_answer(LiveKey("", KeyType.RSA, KeyUse.SIG, nbf=NOW - 9 * DAY), keys) == ("a", "")
    assert named_by_answer(LiveKey("", KeyType.RSA, KeyUse.SIG, exp=NOW + 2 * DAY), keys)[0] is None  # disabled
    kid, why = named_by_answer(LiveKey("", KeyType.RSA, KeyUse.SIG, exp=NOW + DAY), keys)
    assert kid is None and why == "getActiveKey named no kid, and 2 keys listed have the fields it gave"
    assert named_by_answer(LiveKey("", KeyType.OCT, "sig"), keys)[1].endswith("no key listed has the fields it gave")


def test_drift_compares_a_kidless_answer_only_when_one_key_fits():
    keys = (LiveKey("old", KeyType.RSA, KeyUse.SIG, NOW - 9 * DAY, NOW + 90 * DAY),
            LiveKey("new", KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + 90 * DAY))
    state, wanted = tenant(Sign=keys), desired(Sign=[gen(nbf=NOW - 9 * DAY), gen(nbf=NOW - DAY)])
    agree = drift(wanted, state, NOW, graph_active={"B2C_1A_Sign": LiveKey("", KeyType.RSA, KeyUse.SIG, NOW - DAY)})
    assert agree.exit_code == 0 and agree.active[0].checked and agree.active[0].graph_kid == "new"
    differ = drift(wanted, state, NOW, graph_active={"B2C_1A_Sign": LiveKey("", KeyType.RSA, KeyUse.SIG, NOW - 9 * DAY)})
    assert differ.exit_code == 8 and differ.disagreements[0].graph_kid == "old"
    # both keys fit an answer that gives exp only: unknown, said so, and not a key problem
    unknown = drift(wanted, state, NOW, graph_active={"B2C_1A_Sign": LiveKey("", KeyType.RSA, KeyUse.SIG, exp=NOW + 90 * DAY)})
    assert unknown.exit_code == 0 and unknown.disagreements == ()
    check = unknown.active[0]
    assert not check.checked and check.unknown == "getActiveKey named no kid, and 2 keys listed have the fields it gave"
    assert ("  B2C_1A_Sign: key new; not compared: getActiveKey named no kid, and 2 keys listed have the fields it "
            "gave") in render_drift_text(unknown)
    (data,) = drift_data(unknown)["activeKeys"]
    assert data == {"keySet": "B2C_1A_Sign", "rule": "new", "getActiveKey": None, "checked": False, "agree": True,
                    "unknown": check.unknown}
