"""Manifest loading: located errors (one fixture per failure mode), merging, the schema."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.core.diagnostics import Location, Severity
from reconciler.core.errors import ManifestError
from reconciler.core.model import DesiredKey, DesiredKeySet, DesiredState, KeyKind, KeyType, KeyUse, SecretRef
from reconciler.manifest.reader import LoadResult, find_manifest_files, load_manifests
from reconciler.manifest.schema import SCHEMA_FILE
from reconciler.manifest.yamlload import load_document

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
CANARIES = ("CANARY-literal-7f3a", "CANARY-key-9c1e")
LITERAL = "a secret must not be written in the manifest; reference it: value: {env: NAME} or value: {file: path/to/file}"


@pytest.fixture
def in_fixtures(monkeypatch):
    """Run in the fixture folder, so paths are given (and must come back) as bare file names."""
    monkeypatch.chdir(FIXTURES)


def errors_of(*paths: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifests(list(paths))
    return info.value


# fixture file → where the (single) error is, and a fragment of its message
CASES = [
    ("bad-yaml-syntax.yaml", "7:17", "invalid YAML: a ':' where no key can start"),
    ("bad-version.yaml", "1:10", "'version' must be 1 (got 2)"),
    ("unknown-property.yaml", "6:9", "unknown property 'ktyy' (allowed: kind, kty, use, nbf, exp, rotate)"),
    ("missing-use.yaml", "5:9", "missing required property 'use'"),
    ("bad-kind.yaml", "5:15", "'kind' must be one of: generate, secret, certificate, pkcs12 (got 'generated')"),
    ("bad-kty.yaml", "6:14", "'kty' must be one of: RSA, oct (got 'rsa')"),
    ("bad-use.yaml", "7:14", "'use' must be one of: sig, enc"),
    ("nbf-after-exp.yaml", "8:14", "'nbf' must be before 'exp' (line 9)"),
    ("bad-date.yaml", "8:14", "'nbf' must be an RFC 3339 date-time with a timezone"),
    ("impossible-date.yaml", "8:14", "'exp' is not a valid date-time"),
    ("literal-secret.yaml", "7:16", LITERAL),
    ("mixed-kty.yaml", "8:9", "B2C refuses to mix RSA and oct keys in one key set (AADB2C95032)"),
    ("mixed-use.yaml", "8:9", "B2C refuses to mix sig and enc keys in one key set (AADB2C95042)"),
    ("duplicate-key-in-keyset.yaml", "9:9",
     "the same key (kty, use, nbf, exp) is declared twice in key set 'B2C_1A_Foo': also at line 5"),
    ("duplicate-mapping-key.yaml", "8:9", "duplicate key 'use' (first at line 7): a key may appear once"),
    ("duplicate-keyset-same-file.yaml", "8:5",
     "key set 'B2C_1A_Foo' is declared twice: also at duplicate-keyset-same-file.yaml:3:5"),
    ("bad-name.yaml", "3:11", "key set name 'Foo/bak' may contain only letters, digits, '_', '.' and '-'"),
    ("reserved-backup-name.yaml", "3:11", "key set name 'Foo.BAK' is reserved: B2C keeps its backups of deleted "
     "key sets as <id>.bak"),
    ("prefix-only-name.yaml", "3:11", "key set name must not be just the B2C_1A_ prefix"),
    ("prefix-twice.yaml", "3:11", "key set name 'B2C_1A_b2c_1a_Foo' says B2C_1A_ twice: b2ckeys adds it once "
     "(write 'Foo' or 'B2C_1A_Foo')"),
    ("reserved-lease-name.yaml", "3:11", "key set name 'b2c_1a_b2ckeyslock' is reserved: B2C_1A_B2CKeysLock is "
     "b2ckeys' tenant lease, held while apply writes"),
    ("bad-tenant.yaml", "2:9", "'tenant' must be a domain (contoso.onmicrosoft.com) or a tenant id (GUID)"),
    ("not-a-mapping.yaml", "2:1", "the top level must be a mapping"),
    ("empty.yaml", "1:1", "the file is empty"),
    ("not-utf8.yaml", "3:14", "the file is not valid UTF-8 (byte 0xe9)"),
    ("secret-with-kty.yaml", "6:9", "'kty' is not allowed for kind secret (a secret key is always oct)"),
    ("generate-with-value.yaml", "8:9", "'value' is not allowed for kind generate"),
    ("generate-without-kty.yaml", "5:9", "missing required property 'kty' (RSA or oct)"),
    ("secret-without-value.yaml", "5:9", "missing required property 'value' (value: {env: NAME}"),
    ("secret-two-sources.yaml", "7:16", "'value' must be exactly one of {env: NAME} or {file: path/to/file}"),
    ("secret-unknown-source.yaml", "7:17", "unknown property in 'value' (allowed: env, file, keyVault)"),
    ("empty-keys.yaml", "4:11", "'keys' must list at least one key"),
    ("missing-keysets.yaml", "1:1", "missing required property 'keySets'"),
    ("missing-name.yaml", "3:5", "missing required property 'name'"),
    ("keys-not-a-list.yaml", "4:11", "'keys' must be a list"),
]


@pytest.mark.parametrize("name, where, fragment", CASES, ids=[c[0] for c in CASES])
def test_each_failure_mode_is_located(in_fixtures, name, where, fragment):
    error = errors_of(name)
    assert len(error.diagnostics) == 1, error.lines()
    (diagnostic,) = error.diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert str(diagnostic).startswith(f"{name}:{where}: ")
    assert fragment in diagnostic.message
    assert error.lines() == [str(diagnostic)]


def test_every_failure_fixture_has_a_case():
    failing = {p.name for p in FIXTURES.glob("*.yaml")} - {c[0] for c in CASES}
    multi = {"several-errors.yaml", "duplicate-keyset-a.yaml", "duplicate-keyset-b.yaml",
             "conflicting-tenant-a.yaml", "conflicting-tenant-b.yaml"}
    assert {n for n in failing if not n.startswith("valid-")} == multi


def test_path_is_kept_exactly_as_given(monkeypatch):
    monkeypatch.chdir(FIXTURES.parent)
    error = errors_of("manifests/bad-kind.yaml")
    assert error.diagnostics[0].location == Location("manifests/bad-kind.yaml", 5, 15)


def test_several_errors_in_one_file_are_all_reported_in_order(in_fixtures):
    error = errors_of("several-errors.yaml")
    assert [str(d.location) for d in error.diagnostics] == [
        "several-errors.yaml:1:10", "several-errors.yaml:8:9", "several-errors.yaml:11:16",
        "several-errors.yaml:12:11", "several-errors.yaml:14:9",
    ]
    messages = [d.message for d in error.diagnostics]
    assert messages[1] == "unknown property 'colour' (allowed: kind, kty, use, nbf, exp, rotate)"
    assert messages[2] == LITERAL
    assert messages[4] == "missing required property 'kty' (RSA or oct)"


def test_every_file_is_read_even_when_one_fails(in_fixtures):
    error = errors_of("bad-yaml-syntax.yaml", "bad-kind.yaml", "valid-starter.yaml", "bad-version.yaml")
    assert [str(d.location) for d in error.diagnostics] == [
        "bad-yaml-syntax.yaml:7:17", "bad-kind.yaml:5:15", "bad-version.yaml:1:10", "bad-version.yaml:3:5"]
    assert error.diagnostics[-1].message == "key set 'B2C_1A_Foo' is declared twice: also at bad-kind.yaml:3:5"


def test_key_set_declared_in_two_files_names_both_places(in_fixtures):
    error = errors_of("duplicate-keyset-a.yaml", "duplicate-keyset-b.yaml")
    assert error.lines() == [
        "duplicate-keyset-b.yaml:8:5: key set 'B2C_1A_shared' is declared twice: also at duplicate-keyset-a.yaml:3:5"
    ]


def test_different_tenants_across_files_name_both(in_fixtures):
    error = errors_of("conflicting-tenant-a.yaml", "conflicting-tenant-b.yaml")
    (line,) = error.lines()
    assert line.startswith("conflicting-tenant-b.yaml:2:9: tenant 'fabrikam.onmicrosoft.com' differs from tenant "
                           "'contoso.onmicrosoft.com' at conflicting-tenant-a.yaml:2:9")


def test_same_tenant_in_any_case_is_fine(tmp_path):
    for name, tenant in (("a.yaml", "contoso.onmicrosoft.com"), ("b.yaml", "Contoso.onmicrosoft.com")):
        (tmp_path / name).write_text(f"version: 1\ntenant: {tenant}\nkeySets: []\n")
    assert load_manifests([str(tmp_path)]).state.tenant == "contoso.onmicrosoft.com"


@pytest.mark.parametrize("name", ["literal-secret.yaml", "several-errors.yaml", "secret-unknown-source.yaml"])
def test_a_literal_secret_is_never_echoed(in_fixtures, name):
    error = errors_of(name)
    text = "\n".join([str(error), repr(error.diagnostics), *error.lines()])
    assert not any(canary in text for canary in CANARIES)


def test_valid_starter_loads_into_the_desired_state(in_fixtures):
    result = load_manifests(["valid-starter.yaml"])
    assert isinstance(result, LoadResult) and result.warnings == ()
    ref = SecretRef("env", "FACEBOOK_APP_SECRET", Location("valid-starter.yaml", 20, 16), "")
    assert result.state == DesiredState(
        keysets=(
            DesiredKeySet("TokenSigningKeyContainer", (DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG),)),
            DesiredKeySet("TokenEncryptionKeyContainer", (DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.ENC),)),
            DesiredKeySet("FacebookSecret", (DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, secret=ref),)),
        ),
        tenant="contoso.onmicrosoft.com",
        sources=("valid-starter.yaml",),
    )
    assert [k.id for k in result.state.keysets] == [
        "B2C_1A_TokenSigningKeyContainer", "B2C_1A_TokenEncryptionKeyContainer", "B2C_1A_FacebookSecret"]
    assert [str(k.location) for k in result.state.keysets] == [
        "valid-starter.yaml:6:5", "valid-starter.yaml:11:5", "valid-starter.yaml:16:5"]
    assert [str(k.keys[0].location) for k in result.state.keysets] == [
        "valid-starter.yaml:8:9", "valid-starter.yaml:13:9", "valid-starter.yaml:18:9"]


def test_dates_in_both_forms_and_file_references(monkeypatch):
    monkeypatch.chdir(FIXTURES.parent)
    state = load_manifests(["manifests/valid-dates-files.yaml"]).state
    rest, symmetric = state.keysets
    assert (rest.name, symmetric.name, symmetric.id) == ("RestApiKey", "SymmetricSigning", "B2C_1A_SymmetricSigning")
    first, second = rest.keys
    assert (first.nbf, first.exp) == (1767225600, 1798761600)  # 2026-01-01Z and epoch 2027-01-01Z
    assert (second.nbf, second.exp) == (1798761600, 1830297600)  # +01:00 offset, lower-case t/z
    assert first.secret == SecretRef("file", "secrets/restapi.txt",
                                     Location("manifests/valid-dates-files.yaml", 7, 16), "manifests",
                                     os.path.realpath(Path(__file__).parent.parent))  # the repository
    assert second.secret.name == "secrets/restapi-2027.txt"
    assert str(second.secret.location) == "manifests/valid-dates-files.yaml:13:11"
    assert all(k.kty is KeyType.OCT and k.kind is KeyKind.SECRET for k in rest.keys)
    assert symmetric.keys == (DesiredKey(KeyKind.GENERATE, KeyType.OCT, KeyUse.SIG, nbf=1767225600),)
    assert state.tenant is None


def test_a_file_without_key_sets_is_a_warning(in_fixtures):
    result = load_manifests(["valid-no-keysets.yaml"])
    assert result.state.keysets == ()
    assert [str(w) for w in result.warnings] == [
        "valid-no-keysets.yaml:3:10: warning: this manifest declares no key sets"]


def test_folders_expand_to_sorted_yaml_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel in ("m/b.yaml", "m/a.yml", "m/sub/c.yaml", "m/a/z.yaml", "m/.hidden/x.yaml", "m/notes.txt", "m/.x.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("version: 1\nkeySets: []\n")
    assert find_manifest_files(["m"]) == ["m/a/z.yaml", "m/a.yml", "m/b.yaml", "m/sub/c.yaml"]
    assert find_manifest_files(["m/"]) == ["m/a/z.yaml", "m/a.yml", "m/b.yaml", "m/sub/c.yaml"]
    assert find_manifest_files(["m/notes.txt", "m/b.yaml", "m", "m/b.yaml"]) == [
        "m/notes.txt", "m/b.yaml", "m/a/z.yaml", "m/a.yml", "m/sub/c.yaml"]
    assert load_manifests(["m"]).state.sources == ("m/a/z.yaml", "m/a.yml", "m/b.yaml", "m/sub/c.yaml")


def test_missing_paths_and_no_manifests_are_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(ManifestError) as info:
        find_manifest_files(["nope.yaml", "empty-folder", "gone/"])
    assert info.value.lines() == ["nope.yaml: no such file or folder", "gone/: no such file or folder"]
    with pytest.raises(ManifestError, match=r"no manifest \(\*\.yaml or \*\.yml\) found in empty-folder"):
        load_manifests(["empty-folder"])


def test_copied_starter_folder_loads(tmp_path):
    shutil.copy(FIXTURES / "valid-starter.yaml", tmp_path / "starter.yaml")
    shutil.copy(FIXTURES / "valid-dates-files.yaml", tmp_path / "more.yml")
    state = load_manifests([str(tmp_path)]).state
    assert [k.name for k in state.keysets] == ["RestApiKey", "SymmetricSigning", "TokenSigningKeyContainer",
                                               "TokenEncryptionKeyContainer", "FacebookSecret"]
    assert state.keysets[0].keys[0].secret.base_dir == str(tmp_path)


# --- the loader ------------------------------------------------------------------------------------------

def test_loader_keeps_timestamps_as_text_and_indexes_locations(in_fixtures):
    doc, problems = load_document("valid-dates-files.yaml")
    assert problems == []
    assert doc.data["keySets"][0]["keys"][0]["nbf"] == "2026-01-01T00:00:00Z"
    assert doc.at(("keySets", 0, "keys", 0, "nbf")) == Location("valid-dates-files.yaml", 8, 14)
    assert doc.key_at(("keySets", 0, "keys", 0, "nbf")) == Location("valid-dates-files.yaml", 8, 9)
    assert doc.at(("keySets", 1)) == Location("valid-dates-files.yaml", 16, 5)
    assert doc.at(("keySets", 1, "nothing", 3)) == doc.at(("keySets", 1))  # nearest located ancestor


@pytest.mark.parametrize("text, where, fragment", [
    ("version: 1\nkeySets: !!python/object:os.system x\n", "2:10", "the tag !!python/object:os.system is not allowed"),
    ("version: 1\n---\nversion: 1\n", "2:1", "expected a single document"),
    ("version: 1\n? [a, b]\n: x\n", "2:3", "a mapping key must be a plain value"),
    ("a: &x [*x]\n", "1:4", "a recursive alias is not supported"),
    ("version: 1\nkeySets: \x07\n", "2:10", "special characters are not allowed"),
    ("# only a comment\n", "1:1", "the file is empty"),
    ("version: 1\nkeySets: !!int CANARY-literal-7f3a\n", "2:10", "the value does not fit its tag !!int"),
])
def test_loader_turns_bad_yaml_into_located_errors(tmp_path, monkeypatch, text, where, fragment):
    monkeypatch.chdir(tmp_path)
    Path("m.yaml").write_text(text)
    _, problems = load_document("m.yaml")
    assert [str(p.location) for p in problems] == [f"m.yaml:{where}"]
    assert fragment in problems[0].message
    assert not any(canary in problems[0].message for canary in CANARIES)


def test_loader_accepts_merge_keys_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_bytes("\ufeffbase: &b {use: sig, kty: RSA}\nkey:\n  <<: *b\n  kty: oct\n".encode())
    doc, problems = load_document(str(path))
    assert problems == []
    assert doc.data["key"] == {"use": "sig", "kty": "oct"}
    assert doc.at(("key", "kty")) == Location(str(path), 4, 8)


# --- the schema and the layering -------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12_with_help_on_every_property():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and schema["$id"]

    def walk(node):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert sub.get("title") and sub.get("description"), name
            for key, value in node.items():
                if key not in ("if", "then"):  # conditions, not property definitions
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    for example in (FIXTURES / "valid-starter.yaml", FIXTURES / "valid-dates-files.yaml"):
        doc, _ = load_document(str(example))
        assert list(Draft202012Validator(schema).iter_errors(doc.data)) == []
    for example in schema["$defs"]["key"]["examples"]:
        assert Draft202012Validator(schema["$defs"]["key"] | {"$defs": schema["$defs"]}).is_valid(example)
