"""The policy cross-check on Microsoft's starter pack (tests/fixtures/policies, MIT, see
SOURCE.md there), copied into a temporary folder with a policy of our own beside it:
`validate --policies` names each referenced key set no manifest declares with its file
and line, and `plan --policies` never deletes a key set a policy references."""

import shutil
import time
from pathlib import Path

import pytest

from helpers.cli import run, writes
from helpers.graph import Graph
from reconciler.manifest.policies import scan_policies, scan_text

FIXTURES = Path(__file__).parent / "fixtures" / "policies"
EXTRA = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE lol [<!ENTITY a "StorageReferenceId=&quot;B2C_1A_FromAnEntity&quot;"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<TrustFrameworkPolicy PolicyId="B2C_1A_Rest">
  <!-- <Key Id="old" StorageReferenceId="B2C_1A_CommentedOut" /> -->
  <Keys>
    <Key Id="BasicAuthenticationUsername" StorageReferenceId="B2C_1A_RestApiUsername" />
    <Key Id="BasicAuthenticationPassword"
         StorageReferenceId = 'B2C_1A_RestApiPassword'/>
    <Key Id="x" StorageReferenceId="{Settings:SigningKey}" />
    <Key Id="y">&b;</Key>
  </Keys>
</TrustFrameworkPolicy>
"""


@pytest.fixture
def policies(tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(FIXTURES, folder)
    (folder / "custom").mkdir()
    (folder / "custom" / "RestApi.xml").write_text(EXTRA)
    return folder


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("version: 1\nkeySets:\n"
                    "  - {name: TokenSigningKeyContainer, keys: [{kind: generate, kty: RSA, use: sig}]}\n"
                    "  - {name: TokenEncryptionKeyContainer, keys: [{kind: generate, kty: RSA, use: enc}]}\n"
                    "  - {name: RestApiUsername, keys: [{kind: secret, use: sig, value: {env: REST_USER}}]}\n")
    return path


def test_every_reference_with_its_line(policies):
    references, notes = scan_policies([str(policies)])
    found = {(Path(r.location.path).name, r.location.line, r.keyset_id) for r in references}
    assert ("TrustFrameworkBase.xml", 576, "B2C_1A_FacebookSecret") in found
    assert ("TrustFrameworkBase.xml", 1182, "B2C_1A_TokenEncryptionKeyContainer") in found
    assert sum(1 for f in found if f[2] == "B2C_1A_TokenSigningKeyContainer") == 7
    assert ("RestApi.xml", 6, "B2C_1A_RestApiUsername") in found
    assert ("RestApi.xml", 8, "B2C_1A_RestApiPassword") in found  # attribute over two lines, single quotes
    names = {r.keyset_id for r in references}
    assert "B2C_1A_CommentedOut" not in names and "B2C_1A_FromAnEntity" not in names  # comments skipped, no entities
    (note,) = notes
    assert "'{Settings:SigningKey}' is not a key set id" in note.message and note.location.line == 9


def test_columns_and_a_hostile_file_are_handled_fast():
    (ref,), _ = scan_text("p.xml", 'a\n  <Key StorageReferenceId="B2C_1A_X"/>')
    assert (ref.location.line, ref.location.column) == (2, 28)
    bomb = "<!--" + "x" * 2_000_000 + '\n<Key StorageReferenceId="B2C_1A_Y"/>' * 50_000
    started = time.monotonic()
    references, _ = scan_text("bomb.xml", bomb)
    assert references == [] and time.monotonic() - started < 5  # an unclosed comment runs to the end


def test_validate_names_each_undeclared_key_set_with_file_and_line(policies, manifest, env, capsys):
    code, out, err = run(capsys, ["validate", str(manifest), "--policies", str(policies)], env)
    assert code == 1
    lines = [line for line in err.splitlines() if "which no manifest declares" in line]
    assert lines == [
        f"{policies}/TrustFrameworkBase.xml:576:57: policy references key set B2C_1A_FacebookSecret, which no "
        "manifest declares",
        f"{policies}/custom/RestApi.xml:8:32: policy references key set B2C_1A_RestApiPassword, which no manifest "
        "declares",
    ]
    assert "{Settings:SigningKey}" in err and "warning:" in err
    with open(manifest, "a") as fh:
        fh.write("  - {name: FacebookSecret, keys: [{kind: secret, use: sig, value: {env: FB}}]}\n"
                 "  - {name: RestApiPassword, keys: [{kind: secret, use: sig, value: {env: REST_PASSWORD}}]}\n")
    code, out, err = run(capsys, ["validate", str(manifest), "--policies", str(policies)], env)
    assert code == 0, err
    assert "Valid: 1 manifest, 5 key sets, 5 keys, 11 policy references checked." in out
    code, _, err = run(capsys, ["validate", str(manifest), "--policies", str(policies / "nope")], env)
    assert code == 1 and "--policies: no such folder" in err


def test_plan_never_deletes_a_key_set_a_policy_references(emu, policies, manifest, env, capsys, tmp_path):
    graph = Graph(emu)
    for name in ("FacebookSecret", "Unused"):
        graph("POST", "", {"id": name})
    manifest.write_text(manifest.read_text().replace("version: 1\n", "version: 1\nprune: true\n"))
    env["REST_USER"] = "someone"
    code, out, err = run(capsys, ["plan", str(manifest), "--policies", str(policies)], env)
    assert code == 0
    assert "- delete key set B2C_1A_Unused (no manifest declares it)" in out
    assert "? key set B2C_1A_FacebookSecret (kept: a policy references it" in out and "TrustFrameworkBase.xml:576:57" in out
    assert "warning: policy references key set B2C_1A_RestApiPassword" in err  # a warning here, an error in validate
    code, out, err = run(capsys, ["apply", "--auto-approve", str(manifest), "--policies", str(policies)], env)
    assert code == 0, err
    assert sorted(ks["id"] for ks in emu.state()["keySets"]) == [   # B2C leaves a .bak of a deleted set
        "B2C_1A_FacebookSecret", "B2C_1A_RestApiUsername", "B2C_1A_TokenEncryptionKeyContainer",
        "B2C_1A_TokenSigningKeyContainer", "B2C_1A_Unused.bak"]

    # a saved plan remembers its policy folders
    graph("POST", "", {"id": "Unused"})
    saved = tmp_path / "plan.json"
    assert run(capsys, ["plan", str(manifest), "--policies", str(policies), "--out", str(saved)], env)[0] == 0
    before = len(writes(emu))
    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 0, err
    assert [w["method"] for w in writes(emu)[before:]] == ["DELETE"]
