"""Secret references: env and file resolution, located errors, values never in messages."""

from __future__ import annotations

import pytest

from reconciler.core.diagnostics import Location, Severity
from reconciler.core.errors import SecretError
from reconciler.core.model import DesiredKey, DesiredKeySet, DesiredState, KeyKind, KeyType, KeyUse, SecretRef
from reconciler.manifest.secrets import missing_secret_diagnostics, problem, resolve

CANARY = "CANARY-secret-5b2d"
WHERE = Location("manifests/prod.yaml", 12, 16)


def env(name: str) -> SecretRef:
    return SecretRef("env", name, WHERE)


def file(name: str, base_dir) -> SecretRef:
    return SecretRef("file", name, WHERE, str(base_dir))


def test_env_is_resolved(monkeypatch):
    monkeypatch.setenv("B2CKEYS_TEST_SECRET", CANARY)
    assert problem(env("B2CKEYS_TEST_SECRET")) is None
    assert resolve(env("B2CKEYS_TEST_SECRET")) == CANARY


@pytest.mark.parametrize("value, message", [
    (None, "environment variable B2CKEYS_TEST_SECRET is not set"),
    ("", "environment variable B2CKEYS_TEST_SECRET is empty"),
])
def test_missing_or_empty_env_is_a_located_problem(monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv("B2CKEYS_TEST_SECRET", raising=False)
    else:
        monkeypatch.setenv("B2CKEYS_TEST_SECRET", value)
    assert problem(env("B2CKEYS_TEST_SECRET")) == message
    with pytest.raises(SecretError) as info:
        resolve(env("B2CKEYS_TEST_SECRET"))
    assert info.value.location == WHERE
    assert str(info.value) == f"manifests/prod.yaml:12:16: {message}"


@pytest.mark.parametrize("content, expected", [
    (CANARY.encode(), CANARY),
    (CANARY.encode() + b"\n", CANARY),
    (CANARY.encode() + b"\r\n", CANARY),
    (CANARY.encode() + b"\n\n", CANARY + "\n"),  # only one newline is the editor's
    (b"\xef\xbb\xbf" + CANARY.encode() + b"\n", CANARY),  # a UTF-8 byte order mark is dropped
    ("sécret ✓\n".encode(), "sécret ✓"),
])
def test_file_is_resolved_relative_to_the_manifest_folder(tmp_path, content, expected):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "s.txt").write_bytes(content)
    ref = file("secrets/s.txt", tmp_path)
    assert problem(ref) is None
    assert resolve(ref) == expected


@pytest.mark.parametrize("setup, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\n", "is empty"),
    (b"\r\n", "is empty"),
    (b"\xff" + CANARY.encode(), "is not valid UTF-8"),
    ("folder", "is a folder"),
])
def test_unreadable_file_is_a_located_problem_without_the_content(tmp_path, setup, message):
    target = tmp_path / "s.txt"
    if setup == "folder":
        target.mkdir()
    elif setup is not None:
        target.write_bytes(setup)
    ref = file("s.txt", tmp_path)
    assert problem(ref) == f"secret file {target} {message}"
    with pytest.raises(SecretError) as info:
        resolve(ref)
    assert info.value.location == WHERE
    assert str(info.value).startswith("manifests/prod.yaml:12:16: secret file ")
    assert CANARY not in str(info.value)


def test_a_file_next_to_the_manifest_with_no_base_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.txt").write_text("x\n")
    assert resolve(SecretRef("file", "s.txt", WHERE)) == "x"
    assert problem(SecretRef("file", "other.txt", WHERE)) == "secret file other.txt does not exist"


def test_unknown_source_is_a_problem():
    assert problem(SecretRef("vault", "x", WHERE)) == "unknown secret source 'vault' (use env or file)"


def test_missing_secret_diagnostics_one_per_unresolvable_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("B2CKEYS_SET", CANARY)
    monkeypatch.delenv("B2CKEYS_UNSET", raising=False)
    (tmp_path / "ok.txt").write_text(CANARY)

    def key(ref: SecretRef, nbf: int) -> DesiredKey:
        return DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, nbf=nbf, secret=ref)

    at = [Location("m.yaml", line, 16) for line in (5, 9, 13, 17)]
    state = DesiredState((
        DesiredKeySet("Generated", (DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG),)),
        DesiredKeySet("Secrets", (
            key(SecretRef("env", "B2CKEYS_SET", at[0]), 1),
            key(SecretRef("env", "B2CKEYS_UNSET", at[1]), 2),
            key(SecretRef("file", "ok.txt", at[2], str(tmp_path)), 3),
            key(SecretRef("file", "gone.txt", at[3], str(tmp_path)), 4),
        )),
    ))
    for severity in (Severity.WARNING, Severity.ERROR):
        found = missing_secret_diagnostics(state, severity)
        assert [(d.severity, d.location) for d in found] == [(severity, at[1]), (severity, at[3])]
        assert found[0].message == "environment variable B2CKEYS_UNSET is not set"
        assert found[1].message == f"secret file {tmp_path / 'gone.txt'} does not exist"
        assert all(CANARY not in str(d) for d in found)
    assert missing_secret_diagnostics(DesiredState(()), Severity.ERROR) == []
