"""A vault secret with dates written in the manifest never rotates with the vault (the
manifest's dates win, so a new version matches the key already there): validate and plan
say so at the date, unless the manifest pins a version."""

from __future__ import annotations

import pytest

from helpers.cli import run

KEY = "      - kind: secret\n        use: sig\n        value: {keyVault: {vault: kv-b2c, secret: Facebook%s}}\n%s"


def manifest(tmp_path, version: str = "", dates: str = ""):
    path = tmp_path / "keys.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: FacebookSecret\n    keys:\n" + KEY % (version, dates))
    return str(path)


@pytest.mark.parametrize("dates, line, column", [("        nbf: 2026-01-01T00:00:00Z\n", 8, 14),
                                                 ("        exp: 2030-01-01T00:00:00Z\n", 8, 14)])
def test_dates_written_beside_a_vault_secret_are_warned_about_where_they_are(tmp_path, capsys, dates, line, column):
    path = manifest(tmp_path, dates=dates)
    code, out, err = run(capsys, ["validate", path], {})
    assert code == 0, err
    assert err.strip() == (f"{path}:{line}:{column}: warning: dates written here win over the Key Vault version's: "
                           "a new version in the vault makes no new key, so it is never uploaded; leave nbf and exp "
                           "out to rotate with the vault, or pin a version")


@pytest.mark.parametrize("version, dates", [("", ""), (", version: 0123abcd", "        nbf: 2026-01-01T00:00:00Z\n")])
def test_no_warning_without_dates_or_with_a_pinned_version(tmp_path, capsys, version, dates):
    code, out, err = run(capsys, ["validate", manifest(tmp_path, version, dates)], {})
    assert code == 0 and err == "", err
