"""`plan` warns about each secret apply could not read now, as `validate` does: one located
line each on stderr, never on stdout (a JSON or Markdown plan a pipeline reads), and the
plan still succeeds (it holds references only)."""

import json

import pytest

from helpers.cli import CANARY, run, writes

MANIFEST = """version: 1
keySets:
  - name: Fb
    keys:
      - kind: secret
        use: sig
        value: {env: B2CKEYS_TEST_UNSET_SECRET}
  - name: FromFile
    keys:
      - kind: secret
        use: sig
        value: {file: secrets/missing.txt}
  - name: Present
    keys:
      - kind: secret
        use: sig
        value: {env: FACEBOOK_APP_SECRET}
"""


@pytest.fixture
def manifest(tmp_path):
    (tmp_path / ".git").mkdir()
    path = tmp_path / "keys.yaml"
    path.write_text(MANIFEST)
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_plan_warns_at_each_missing_secret_on_stderr_only(emu, env, capsys, manifest, fmt):
    code, out, err = run(capsys, ["plan", "--format", fmt, str(manifest)], env)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert warnings == [
        f"{manifest}:7:16: warning: environment variable B2CKEYS_TEST_UNSET_SECRET is not set; apply needs it",
        f"{manifest}:12:16: warning: secret file {manifest.parent / 'secrets' / 'missing.txt'} does not exist; "
        "apply needs it",
    ]
    assert "is not set" not in out and "does not exist" not in out and CANARY not in out + err
    if fmt == "json":
        assert len(json.loads(out)["changes"]) == 6  # three key sets, a key each
    assert writes(emu) == []


def test_validate_and_plan_say_the_same_words(emu, env, capsys, manifest):
    _, _, validated = run(capsys, ["validate", str(manifest)], env)
    _, _, planned = run(capsys, ["plan", str(manifest)], env)
    said = [line for line in validated.splitlines() if "warning:" in line]
    assert len(said) == 2 and said == [line for line in planned.splitlines() if "warning:" in line]


def test_plan_without_missing_secrets_warns_about_nothing(emu, env, capsys, manifest):
    env["B2CKEYS_TEST_UNSET_SECRET"] = CANARY
    (manifest.parent / "secrets").mkdir()
    (manifest.parent / "secrets" / "missing.txt").write_text(CANARY)
    (manifest.parent / "secrets" / "missing.txt").chmod(0o600)
    code, out, err = run(capsys, ["plan", str(manifest)], env)
    assert code == 0 and "warning" not in err and CANARY not in out + err
