"""Saved plans end to end against the emulator: `plan --out`, then `apply PLANFILE`
applies exactly those changes, or refuses a stale plan and says what changed."""

import json
import shutil

import pytest

from helpers.cli import CANARY, STARTER, graph_calls, keys_in, run, writes
from helpers.graph import Graph
from reconciler.plan import planfile
from reconciler.session import saved as saved_plan


@pytest.fixture
def manifests(tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    shutil.copy(STARTER, folder / "starter-pack.yaml")
    return folder


def test_saved_plan_is_applied_exactly(emu, env, manifests, tmp_path, capsys):
    saved = tmp_path / "b2ckeys.plan.json"
    code, out, _ = run(capsys, ["plan", str(manifests), "--out", str(saved)], env)
    assert code == 0 and f"Saved the plan to {saved}" in out
    assert writes(emu) == []
    data = json.loads(saved.read_text())
    assert data["kind"] == "b2ckeys-plan" and data["format_version"] == 1
    assert data["live"]["keySets"] == [] and data["manifests"]["paths"] == [str(manifests)]
    assert data["manifests"]["secretReferences"] == ["B2C_1A_FacebookSecret: env:FACEBOOK_APP_SECRET"]
    code, out, _ = run(capsys, ["plan", str(manifests), "--format", "json"], env)
    assert json.loads(out) == data["plan"]  # the plan part is exactly `plan --format json`

    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 0, err
    assert "still matches the tenant and the manifests" in out
    assert "Apply complete: 3 key sets created, 3 keys added." in out
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in writes(emu)].count(("POST", "keySets")) == 3
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 1, "B2C_1A_TokenEncryptionKeyContainer": 1,
                            "B2C_1A_TokenSigningKeyContainer": 1}

    # the same plan again is stale now: its own changes are in the tenant
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1 and "key set B2C_1A_FacebookSecret was created with 1 key" in err
    assert sum(keys_in(emu).values()) == 3


def test_stale_plan_is_refused_and_the_change_described(emu, env, manifests, tmp_path, capsys):
    assert run(capsys, ["apply", "--auto-approve", str(manifests)], env)[0] == 0
    (manifests / "extra.yaml").write_text("version: 1\nkeySets:\n  - name: Extra\n    keys:\n"
                                          "      - {kind: generate, kty: RSA, use: sig}\n")
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifests), "--out", str(saved)], env)[0] == 0

    graph = Graph(emu)
    added = graph("POST", "/B2C_1A_TokenSigningKeyContainer/generateKey",
                  {"use": "sig", "kty": "RSA", "nbf": 1893456000})
    graph("DELETE", "/B2C_1A_FacebookSecret")
    graph("POST", "", {"id": "Sneaky"})
    sneaky = graph("POST", "/B2C_1A_Sneaky/uploadSecret", {"use": "enc", "k": "x" * 16, "exp": 1924992000})
    before = len(writes(emu))

    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1
    assert f"the saved plan {saved} is stale: the tenant changed since the plan was made" in err
    assert "  - key set B2C_1A_FacebookSecret was deleted" in err
    assert f"  - key {added['kid']} in B2C_1A_TokenSigningKeyContainer was added: RSA sig, nbf 2030-01-01T00:00:00Z" in err
    assert "  - key set B2C_1A_Sneaky was created with 1 key" in err
    assert f"  - key {sneaky['kid']} in B2C_1A_Sneaky was added: oct enc, exp 2031-01-01T00:00:00Z" in err
    assert "Nothing was changed" in err and "x" * 16 not in err
    assert len(writes(emu)) == before


def test_changed_manifest_is_refused_before_any_graph_call(emu, env, manifests, tmp_path, capsys):
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifests), "--out", str(saved)], env)[0] == 0
    calls = len(graph_calls(emu))
    manifest = manifests / "starter-pack.yaml"
    manifest.write_text(manifest.read_text() + "# an edit after the review\n")
    (manifests / "late.yaml").write_text("version: 1\nkeySets:\n  - name: Late\n    keys:\n"
                                         "      - {kind: generate, kty: RSA, use: enc}\n")

    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1
    assert "the manifests changed since the plan was made" in err
    assert f"  - manifest {manifest} changed" in err and f"  - manifest {manifests / 'late.yaml'} is new" in err
    assert len(graph_calls(emu)) == calls and writes(emu) == []


def test_changed_secret_reference_is_refused(emu, env, manifests, tmp_path, capsys):
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifests), "--out", str(saved)], env)[0] == 0
    manifest = manifests / "starter-pack.yaml"
    manifest.write_text(manifest.read_text().replace("FACEBOOK_APP_SECRET", "OTHER_SECRET"))
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1
    assert "  - secret reference removed: B2C_1A_FacebookSecret: env:FACEBOOK_APP_SECRET" in err
    assert "  - secret reference added: B2C_1A_FacebookSecret: env:OTHER_SECRET" in err
    assert writes(emu) == []


def test_plan_that_time_made_stale_is_refused(emu, env, tmp_path, capsys, monkeypatch):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nkeySets:\n  - name: Short\n    keys:\n"
                        "      - {kind: secret, use: sig, value: {env: FACEBOOK_APP_SECRET}, "
                        "exp: 2099-01-01T00:00:00Z}\n")
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifest), "--out", str(saved)], env)[0] == 0
    monkeypatch.setattr(saved_plan, "_now", lambda: 4_102_444_800 + 1)  # 2100-01-01
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1 and "planning again now gives other changes" in err
    assert writes(emu) == []


def test_missing_secret_stops_a_saved_plan_before_graph(emu, env, manifests, tmp_path, capsys):
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifests), "--out", str(saved)], env)[0] == 0
    calls = len(graph_calls(emu))
    del env["FACEBOOK_APP_SECRET"]
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1 and "FACEBOOK_APP_SECRET" in err
    assert len(graph_calls(emu)) == calls


def test_plan_file_never_holds_a_secret(emu, env, tmp_path, capsys):
    (tmp_path / "fb.txt").write_text("CANARY-from-a-file-4471\n")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nkeySets:\n"
                        "  - name: A\n    keys:\n      - {kind: secret, use: sig, value: {env: FACEBOOK_APP_SECRET}}\n"
                        "  - name: B\n    keys:\n      - {kind: secret, use: enc, value: {file: fb.txt}}\n")
    saved = tmp_path / "p.json"
    assert run(capsys, ["plan", str(manifest), "--out", str(saved)], env)[0] == 0
    text = saved.read_text()
    assert CANARY not in text and "CANARY-from-a-file" not in text
    assert '"file": "fb.txt"' in text
    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 0, err
    assert CANARY not in out + err and "CANARY-from-a-file" not in out + err
    assert keys_in(emu) == {"B2C_1A_A": 1, "B2C_1A_B": 1}  # the file secret was found from the saved reference


def test_plan_file_and_manifests_together_are_refused(env, manifests, tmp_path, capsys):
    saved = tmp_path / "p.json"
    saved.write_text(json.dumps({"format_version": 1, "kind": "b2ckeys-plan"}))
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved), str(manifests)], env)
    assert code == 1 and "either manifest paths or one plan file" in err


@pytest.mark.parametrize("content, message", [
    ('{"format_version": 99, "kind": "b2ckeys-plan", "manifests": {}, "live": {}, "plan": {}}',
     "format_version 99 is not one this b2ckeys reads"),
    ('{"format_version": 1, "kind": "something-else"}', "not a b2ckeys plan file"),
    ('{"format_version": 1, "kind": "b2ckeys-plan"', "not a readable b2ckeys plan file"),
    ('{"format_version": 1, "kind": "b2ckeys-plan", "x": ' + "[" * 200_000 + "]" * 200_000 + "}",
     "not a readable b2ckeys plan file"),  # nested too deep for the JSON parser: one line, no traceback
])
def test_unreadable_plan_files(env, tmp_path, capsys, content, message):
    saved = tmp_path / "p.json"
    saved.write_text(content)
    code, _, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 1 and message in err and "Traceback" not in err


def test_locations_and_times_read_back():
    assert planfile.parse_location("c:/m|x.yaml:3:5").line == 3
    assert planfile.parse_location("m.yaml") .path == "m.yaml"
    assert planfile.parse_time("2027-01-15T08:00:00Z") == 1_800_000_000
    assert planfile.parse_time(None) is None and planfile.parse_time(7) == 7


def test_live_changes_in_words():
    from reconciler.core.model import KeyType, KeyUse, LiveKey, LiveKeySet, LiveState
    from reconciler.plan.data import live_data
    from reconciler.plan.livediff import live_changes

    def state(*keysets):
        return live_data(LiveState(tuple(LiveKeySet(i, tuple(k)) for i, k in keysets)))

    a = LiveKey("a1", KeyType.RSA, KeyUse.SIG)
    b = LiveKey("b1", KeyType.OCT, KeyUse.ENC, 1_800_000_000, None, "enabled")
    then = state()
    now = state(("B2C_1A_A", [a]), ("B2C_1A_B", [b]), ("B2C_1A_C", []))
    assert live_changes(then, now) == [
        "key set B2C_1A_A was created with 1 key",
        "key a1 in B2C_1A_A was added: RSA sig",
        "key set B2C_1A_B was created with 1 key",
        "key b1 in B2C_1A_B was added: oct enc, nbf 2027-01-15T08:00:00Z, enabled",
        "key set B2C_1A_C was created",
    ]
    disabled = state(("B2C_1A_A", [a]), ("B2C_1A_B", [LiveKey("b1", KeyType.OCT, KeyUse.ENC, 1_800_000_000, None, "disabled")]))
    assert live_changes(now, disabled) == [
        "key b1 in B2C_1A_B: status changed from enabled to disabled",
        "key set B2C_1A_C was deleted",
    ]
    assert live_changes(now, now) == []


def test_canary_never_in_any_output(emu, env, manifests, tmp_path, capsys):
    """The secret is in the environment and, after apply, in the tenant: no format shows it."""
    assert run(capsys, ["apply", "--auto-approve", str(manifests)], env)[0] == 0
    Graph(emu)("POST", "/B2C_1A_FacebookSecret/uploadSecret", {"use": "sig", "k": CANARY, "nbf": 1893456000})
    seen = []
    for argv in (["plan", str(manifests), "--out", str(tmp_path / "p.json")],
                 *(["plan", str(manifests), "--format", f] for f in ("text", "json", "markdown")),
                 *(["drift", str(manifests), "--format", f] for f in ("text", "json", "markdown")),
                 ["export", "--out", str(tmp_path / "exported.yaml")], ["export"]):
        code, out, err = run(capsys, argv, env)
        assert code in (0, 4), (argv, err)
        seen.append(out + err)
    files = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert CANARY not in "".join(seen) + files
    assert "key set" in "".join(seen)  # the outputs were not empty


def test_unwritable_outputs_are_one_line_errors(env, manifests, tmp_path, capsys):
    code, _, err = run(capsys, ["plan", str(manifests), "--out", str(tmp_path / "no" / "p.json")], env)
    assert code == 1 and err.startswith("error: cannot write the plan file") and "Traceback" not in err
