"""Pruning and its safeguards, as planner tables and end to end: `prune: true` deletes
undeclared key sets last; protected key sets, policy-referenced ones and `.bak` backups
are kept; more than 30% of at least 10 key sets needs `--allow-destroy`;
`disableUnmanagedKeys` never leaves a key set without an active key."""

import dataclasses
import json

import pytest

from helpers.cli import run, writes
from helpers.graph import Graph
from helpers.model import DAY, LOC, NOW, gen, live, tenant
from reconciler.core.changes import Action
from reconciler.core.diagnostics import Location
from reconciler.core.errors import ManifestError
from reconciler.core.model import DesiredKeySet, DesiredState, KeyType, KeyUse, LiveKey, PolicyReference
from reconciler.manifest.reader import load_manifests
from reconciler.plan.planner import plan
from reconciler.plan.prune import ALWAYS_PROTECTED


def desired(*, prune=True, protected=(), references=(), disable=False, **keysets):
    sets = tuple(DesiredKeySet(name, tuple(keys), LOC, disable_unmanaged=disable) for name, keys in keysets.items())
    return DesiredState(sets, prune=prune, protected=protected, references=references)


def actions(p):
    return [(c.action, c.keyset_id) for c in p.changes]


def test_prune_deletes_undeclared_key_sets_last_and_keeps_the_rest():
    p = plan(desired(A=[gen()], B=[gen()]),
             tenant(A=[live("a")], Old=[live("o")], **{"Old.bak": [live("b")]}, Keep=[], TokenSigningKeyContainer=[]),
             NOW)
    assert actions(p) == [(Action.CREATE_KEYSET, "B2C_1A_B"), (Action.GENERATE_KEY, "B2C_1A_B"),
                          (Action.DELETE_KEYSET, "B2C_1A_Keep"), (Action.DELETE_KEYSET, "B2C_1A_Old")]
    assert [(u.keyset_id, u.note) for u in p.unmanaged] == [
        ("B2C_1A_TokenSigningKeyContainer", "protected: never deleted")]  # .bak: neither deleted nor reported
    assert p.changes[-1].detail == "no manifest declares it"
    assert all(c.action.glyph == "-" for c in p.changes[2:])


def test_without_prune_nothing_is_deleted():
    p = plan(desired(prune=False, A=[gen()]), tenant(A=[live("a")], Old=[]), NOW)
    assert p.is_empty and [u.keyset_id for u in p.unmanaged] == ["B2C_1A_Old"]


def test_protection_by_list_by_flag_and_always(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nprune: true\nprotect: [B2C_1A_Saml, Rest]\nkeySets:\n"
                                     "  - name: Idp\n    protect: true\n    keys: [{kind: generate, kty: RSA, use: sig}]\n")
    (tmp_path / "b.yaml").write_text("version: 1\nprotect: [Other]\nkeySets: []\n")
    state = load_manifests([str(tmp_path)]).state
    assert state.prune and state.protected == ("B2C_1A_Idp", "B2C_1A_Other", "B2C_1A_Rest", "B2C_1A_Saml")
    names = ["Saml", "Rest", "Other", "Idp", "Gone", *[k[7:] for k in ALWAYS_PROTECTED]]
    live_state = tenant(**{n: [] for n in names})
    p = plan(dataclasses.replace(state, keysets=()), live_state, NOW)
    assert actions(p) == [(Action.DELETE_KEYSET, "B2C_1A_Gone")]
    # Idp's declaration removed, and its `protect: true` with it: only the list outlives a declaration
    (tmp_path / "a.yaml").write_text("version: 1\nprune: true\nprotect: [B2C_1A_Saml, Rest]\nkeySets: []\n")
    p = plan(load_manifests([str(tmp_path)]).state, live_state, NOW)
    assert actions(p) == [(Action.DELETE_KEYSET, "B2C_1A_Gone"), (Action.DELETE_KEYSET, "B2C_1A_Idp")]


def test_manifests_must_agree_on_prune(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nprune: true\nkeySets: []\n")
    (tmp_path / "b.yaml").write_text("version: 1\nprune: false\nkeySets: []\n")
    with pytest.raises(ManifestError, match="prune: false differs from prune: true at .*a.yaml:2:8"):
        load_manifests([str(tmp_path)])


def test_a_key_set_a_policy_references_is_kept():
    ref = PolicyReference("B2C_1A_FacebookSecret", Location("policies/Base.xml", 576, 46))
    p = plan(desired(references=(ref,), A=[gen()]), tenant(A=[live("a")], FacebookSecret=[]), NOW)
    assert p.is_empty
    assert p.unmanaged[0].note == "kept: a policy references it, at policies/Base.xml:576:46"


@pytest.mark.parametrize("live_sets, deleted, unsafe", [
    (10, 3, False),  # 30% of 10: not more than 30%
    (10, 4, True),
    (20, 7, True),
    (9, 9, False),  # fewer than 10 key sets: no threshold (as octoDNS)
])
def test_too_much_change(live_sets, deleted, unsafe):
    declared = {f"K{i}": [gen()] for i in range(live_sets - deleted)}
    p = plan(desired(**declared), tenant(**{f"K{i}": [live(f"k{i}")] for i in range(live_sets)},
                                          **{"X.bak": [], "Y.bak": []}), NOW)
    assert p.count(Action.DELETE_KEYSET) == deleted
    assert bool(p.unsafe) is unsafe
    if unsafe:
        assert p.unsafe[0] in p.warnings and "apply refuses it without --allow-destroy" in p.unsafe[0].message
        assert f"deletes {deleted} of {live_sets} key sets" in p.unsafe[0].message  # backups not counted


def key(kid, nbf=None, exp=None, status=None):
    return LiveKey(kid, KeyType.RSA, KeyUse.SIG, nbf, exp, status)


def test_disable_unmanaged_keys():
    p = plan(desired(disable=True, Sign=[gen(nbf=NOW - DAY)]),
             tenant(Sign=[key("m", nbf=NOW - DAY), key("stray"), key("off", status="disabled")]), NOW)
    assert [(c.action, c.kid, c.action.glyph) for c in p.changes] == [(Action.DISABLE_KEY, "stray", "~")]
    assert p.unmanaged == ()  # the disabled ones are as the manifest says
    (view,) = p.active
    assert view.now_kid == "m" and view.after_kid == "m"


def test_disabling_never_leaves_a_key_set_without_an_active_key():
    # the managed key is not valid yet: the unmanaged key B2C uses now stays enabled, with a warning
    p = plan(desired(disable=True, Sign=[gen(nbf=NOW + 5 * DAY)]),
             tenant(Sign=[key("m", nbf=NOW + 5 * DAY), key("now", nbf=NOW - DAY), key("older", nbf=NOW - 9 * DAY)]), NOW)
    assert [(c.action, c.kid) for c in p.changes] == [(Action.DISABLE_KEY, "older")]
    assert any("key now in B2C_1A_Sign" in w.message and "stays enabled" in w.message for w in p.warnings)
    assert [u.kid for u in p.unmanaged] == ["now"]
    # a key the same plan adds, valid now, lets every unmanaged key go
    p = plan(desired(disable=True, Sign=[gen()]), tenant(Sign=[key("now", nbf=NOW - DAY)]), NOW)
    assert [(c.action, c.kid) for c in p.changes] == [(Action.GENERATE_KEY, None), (Action.DISABLE_KEY, "now")]
    assert p.active[0].after_change == 0
    # no active key now anyway: nothing is disabled
    p = plan(desired(disable=True, Sign=[gen(nbf=NOW + DAY)]), tenant(Sign=[key("m", nbf=NOW + DAY), key("x", exp=NOW - 1)]), NOW)
    assert p.changes == () and "has no active key now" in p.warnings[0].message


# -- end to end --------------------------------------------------------------------------------------------------


def write(tmp_path, text, name="m.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_too_much_change_needs_allow_destroy(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    for i in range(10):
        graph("POST", "", {"id": f"K{i}"})
    path = write(tmp_path, "version: 1\nprune: true\nkeySets:\n" + "".join(
        f"  - name: K{i}\n    keys: [{{kind: generate, kty: RSA, use: sig}}]\n" for i in range(6)))
    code, out, err = run(capsys, ["plan", path], env)
    assert code == 0 and "warning: this plan deletes 4 of 10 key sets (40%)" in err + out
    before = len(writes(emu))
    code, out, err = run(capsys, ["apply", "--auto-approve", path], env)
    assert code == 1 and "--allow-destroy" in err and "nothing was changed" in err
    assert len(writes(emu)) == before
    code, out, err = run(capsys, ["apply", "--auto-approve", "--allow-destroy", path], env)
    assert code == 0, err
    assert "Apply complete: 0 key sets created, 6 keys added, 4 key sets deleted." in out
    methods = [w["method"] for w in writes(emu)[before:]]
    assert methods == ["POST"] * 6 + ["DELETE"] * 4  # deletes last
    ids = sorted(ks["id"] for ks in emu.state()["keySets"])
    assert ids == sorted([f"B2C_1A_K{i}" for i in range(6)] + [f"B2C_1A_K{i}.bak" for i in range(6, 10)])
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", path], env)
    assert code == 0 and "No changes." in out and ".bak" not in out  # backups: not unmanaged, not deleted


def test_lost_answers_of_delete_and_disable(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    graph("POST", "", {"id": "Old"})
    graph("POST", "", {"id": "Sign"})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA"})
    stray = graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA", "nbf": 1_000_000})
    path = write(tmp_path, "version: 1\nprune: true\nkeySets:\n  - name: Sign\n    disableUnmanagedKeys: true\n"
                           "    keys: [{kind: generate, kty: RSA, use: sig}]\n")
    env["B2CKEYS_TIME_SCALE"] = "60"
    emu.faults.add({"method": "DELETE", "path": "*", "commit_then_drop": True, "times": 1})
    emu.faults.add({"method": "PATCH", "path": "*", "commit_then_drop": True, "times": 1})
    code, out, err = run(capsys, ["apply", "--auto-approve", path], env)
    assert code == 0, err
    assert f"~ disable key {stray['kid']} in B2C_1A_Sign (no desired key matches it): done (disabled; its answer was lost)" in out
    assert "- delete key set B2C_1A_Old (no manifest declares it): done (deleted; its answer was lost)" in out
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", path], env)
    assert code == 0 and "No changes." in out  # the disabled key is read from keys_v2: nothing to do again


def test_saved_plan_with_deletes_and_disables(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    graph("POST", "", {"id": "Old"})
    graph("POST", "", {"id": "Sign"})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA"})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA", "nbf": 1_000_000})
    path = write(tmp_path, "version: 1\nprune: true\nkeySets:\n  - name: Sign\n    disableUnmanagedKeys: true\n"
                           "    keys: [{kind: generate, kty: RSA, use: sig}]\n")
    saved = tmp_path / "plan.json"
    assert run(capsys, ["plan", path, "--out", str(saved)], env)[0] == 0
    changes = json.loads(saved.read_text())["plan"]["changes"]
    assert [(c["action"], c.get("reason")) for c in changes] == [("disable_key", "unmanaged_key"),
                                                                  ("delete_keyset", "not_declared")]
    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 0, err
    assert [ks["id"] for ks in emu.state()["keySets"]] == ["B2C_1A_Sign", "B2C_1A_Old.bak"]  # B2C's backup
    assert [k["status"] for k in emu.state()["keySets"][0]["keys"]] == ["enabled", "disabled"]


def test_a_read_only_app_can_still_plan_with_disable_unmanaged_keys(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    graph("POST", "", {"id": "Sign"})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA"})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA", "nbf": 1_000_000})
    path = write(tmp_path, "version: 1\nkeySets:\n  - name: Sign\n    disableUnmanagedKeys: true\n"
                           "    keys: [{kind: generate, kty: RSA, use: sig}]\n")
    emu.config.update({"roles": ["TrustFrameworkKeySet.Read.All"]})  # keys_v2 needs ReadWrite.All
    code, out, err = run(capsys, ["plan", path], env)
    assert code == 0, err
    assert "warning: the status of unmanaged keys cannot be read" in out and "~ disable key" in out
