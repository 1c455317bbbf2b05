"""`export`: pure tests of the manifest it writes, and the adoption cycle end to end:
a tenant populated out of band → export → validate → plan shows no change."""

import pytest

from helpers.cli import CANARY, run, writes
from helpers.graph import Graph
from helpers.model import DAY, NOW, key
from reconciler.core.model import KeyType, KeyUse, LiveKey, LiveKeySet, LiveState
from reconciler.core.shipped import SCHEMA_URL
from reconciler.manifest.export import DEFAULT_SCHEMA_REF, env_base, export_manifest
from reconciler.manifest.reader import load_manifests
from reconciler.plan.planner import plan


@pytest.mark.parametrize("name, expected", [
    ("FacebookSecret", "FACEBOOK_SECRET"),
    ("RESTApiKey", "REST_API_KEY"),
    ("Api-Key_v2", "API_KEY_V2"),
    ("GoogleOAuth2Secret", "GOOGLE_O_AUTH2_SECRET"),
    ("123", "KEY_123"),
])
def test_env_names_follow_the_key_set(name, expected):
    assert env_base(name) == expected


def exported(live_state, tmp_path):
    result = export_manifest(live_state)
    path = tmp_path / "exported.yaml"
    path.write_text(result.text)
    state = load_manifests([str(path)]).state
    return result, state, plan(state, live_state, NOW)


def test_round_trip_is_a_plan_without_changes(tmp_path):
    live_state = LiveState((
        LiveKeySet("B2C_1A_TokenSigningKeyContainer", (LiveKey("s1", KeyType.RSA, KeyUse.SIG),)),
        LiveKeySet("B2C_1A_Api", (key("a2", nbf=NOW, exp=NOW + 90 * DAY, use="enc"),
                                  key("a1", nbf=NOW - 90 * DAY, exp=NOW + DAY, use="enc"))),
        LiveKeySet("B2C_1A_Dup", (key("d1"), key("d2"))),
        LiveKeySet("B2C_1A_Old.bak", (key("b1"),)),
        LiveKeySet("B2C_1A_Mixed", (key("m1"), LiveKey("m2", KeyType.RSA, KeyUse.SIG))),
        LiveKeySet("B2C_1A_Empty", ()),
    ))
    result, state, p = exported(live_state, tmp_path)
    assert p.is_empty, p.changes
    assert [ks.id for ks in state.keysets] == ["B2C_1A_Api", "B2C_1A_Dup", "B2C_1A_TokenSigningKeyContainer"]
    api = state.find("B2C_1A_Api")
    assert [(k.secret.name, k.nbf) for k in api.keys] == [("API", NOW - 90 * DAY), ("API_2", NOW)]
    assert "nbf: 2026-10-17T08:00:00Z" in result.text and "exp: 2027-04-15T08:00:00Z" in result.text
    # what could not be exported stays unmanaged, said in comments and in `skipped`
    assert {(u.keyset_id, u.kid) for u in p.unmanaged} == {("B2C_1A_Empty", None), ("B2C_1A_Mixed", None)}
    assert "# B2C_1A_Mixed: not exported: its keys mix RSA and oct" in result.text
    assert "# B2C_1A_Empty: not exported: it has no keys" in result.text
    # of a key present twice, the copy B2C uses (listed last) is exported; the plan reports the other
    assert "# key d1: same kty, use, nbf and exp as key d2" in result.text
    assert [(d.keyset_id, d.kids) for d in p.duplicates] == [("B2C_1A_Dup", ("d2", "d1"))]
    assert len(result.skipped) == 3 and ".bak" not in result.text
    assert result.text.splitlines()[0] == f"# yaml-language-server: $schema={DEFAULT_SCHEMA_REF}"


def test_env_names_are_unique_across_key_sets(tmp_path):
    live_state = LiveState((LiveKeySet("B2C_1A_FacebookSecret", (key("a"),)),
                            LiveKeySet("B2C_1A_Facebook_Secret", (key("b"),))))
    _, state, p = exported(live_state, tmp_path)
    assert p.is_empty
    assert sorted(k.secret.name for ks in state.keysets for k in ks.keys) == ["FACEBOOK_SECRET", "FACEBOOK_SECRET_2"]


def test_empty_tenant_exports_a_valid_empty_manifest(tmp_path):
    result, state, p = exported(LiveState(), tmp_path)
    assert "keySets: []" in result.text and state.keysets == () and p.is_empty


def test_schema_modeline_names_the_published_schema_wherever_the_file_goes():
    # a relative path (../schemas/...) would dangle in the user's repository
    assert DEFAULT_SCHEMA_REF == SCHEMA_URL and SCHEMA_URL.startswith("https://")


def test_export_validate_plan_on_a_tenant_populated_out_of_band(emu, env, tmp_path, capsys):
    graph = Graph(emu)
    for name in ("TokenSigningKeyContainer", "TokenEncryptionKeyContainer", "FacebookSecret", "ApiKeys", "Gone.bak"):
        graph("POST", "", {"id": name})
    graph("POST", "/B2C_1A_TokenSigningKeyContainer/generateKey", {"use": "sig", "kty": "RSA"})
    graph("POST", "/B2C_1A_TokenEncryptionKeyContainer/generateKey", {"use": "enc", "kty": "RSA"})
    graph("POST", "/B2C_1A_FacebookSecret/uploadSecret",
          {"use": "sig", "k": CANARY, "nbf": 1767225600, "exp": 1798761600})
    graph("POST", "/B2C_1A_ApiKeys/uploadSecret", {"use": "enc", "k": CANARY + "-1", "exp": 1798761600})
    graph("POST", "/B2C_1A_ApiKeys/uploadSecret", {"use": "enc", "k": CANARY + "-2", "nbf": 1798761600})
    graph("POST", "/B2C_1A_Gone.bak/uploadSecret", {"use": "sig", "k": CANARY + "-3"})
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "keysets.schema.json").write_text("{}")
    (tmp_path / "manifests").mkdir()
    out = tmp_path / "manifests" / "exported.yaml"

    code, stdout, err = run(capsys, ["export", "--out", str(out)], env)
    assert code == 0, err
    text = out.read_text()
    assert text.startswith(f"# yaml-language-server: $schema={SCHEMA_URL}\n")
    assert "value: {env: FACEBOOK_SECRET}" in text and "nbf: 2026-01-01T00:00:00Z" in text
    assert "value: {env: API_KEYS}" in text and "value: {env: API_KEYS_2}" in text
    assert "Gone" not in text and CANARY not in text + stdout + err

    code, stdout, err = run(capsys, ["validate", str(out)], env)
    assert code == 0, err
    assert "Valid: 1 manifest, 4 key sets, 5 keys." in stdout
    before = len(writes(emu))
    code, stdout, _ = run(capsys, ["plan", "--detailed-exitcode", str(out)], env)
    assert code == 0 and "No changes." in stdout and "?" not in stdout
    assert len(writes(emu)) == before

    code, stdout, _ = run(capsys, ["export"], env)  # to standard output, the same manifest
    assert code == 0 and stdout == text


def test_names_yaml_would_misread_or_with_dots_are_exported_and_read_back(tmp_path):
    live_state = LiveState(tuple(LiveKeySet(f"B2C_1A_{name}", (LiveKey("k", KeyType.RSA, KeyUse.SIG),))
                                 for name in ("No", "1.5", "123", "My.Key", "on")))
    result, state, planned = exported(live_state, tmp_path)
    assert sorted(ks.id for ks in state.keysets) == sorted(ks.id for ks in live_state.keysets)
    assert result.skipped == () and planned.changes == ()
