"""`b2ckeys schema [--out FILE]`: the shipped manifest JSON Schema, whose `$id` is the https
URL the docs name for editors."""

import json

from helpers.cli import ROOT, run
from reconciler.core.shipped import SCHEMA_URL, shipped_file


def test_schema_writes_the_shipped_schema_to_stdout(capsys):
    code, out, err = run(capsys, ["schema"], {})
    assert code == 0 and err == ""
    assert out == shipped_file("schemas", "keysets.schema.json").read_text(encoding="utf-8")
    assert json.loads(out)["$id"] == SCHEMA_URL


def test_schema_id_is_an_https_url():
    assert SCHEMA_URL.startswith("https://") and SCHEMA_URL.endswith("/keysets.schema.json")
    assert json.loads((ROOT / "schemas" / "keysets.schema.json").read_text())["$id"] == SCHEMA_URL


def test_schema_out_creates_folders(tmp_path, capsys):
    target = tmp_path / "editor" / "schemas" / "keysets.schema.json"
    code, out, err = run(capsys, ["schema", "--out", str(target)], {})
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == shipped_file("schemas", "keysets.schema.json").read_text()
    assert str(target) in err


def test_schema_out_that_cannot_be_written_is_one_line(tmp_path, capsys):
    code, out, err = run(capsys, ["schema", "--out", str(tmp_path)], {})  # a folder, not a file
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path}: cannot write the schema")


def test_docs_name_the_schema_url_for_editors():
    text = (ROOT / "docs" / "manifests.md").read_text()
    assert f"# yaml-language-server: $schema={SCHEMA_URL}" in text
    assert "b2ckeys schema --out" in text


def test_validate_still_works_offline_with_the_https_id(tmp_path, capsys):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"# yaml-language-server: $schema={SCHEMA_URL}\nversion: 1\nkeySets:\n"
                        "  - name: A\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n")
    code, out, err = run(capsys, ["validate", str(manifest)], {})
    assert code == 0 and "Valid: 1 manifest, 1 key set, 1 key." in out, err
