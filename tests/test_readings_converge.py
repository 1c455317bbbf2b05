"""Every reading of the unknowns, the whole loop through the real client: apply, apply again,
plan and drift. For each reading the emulator offers: the first apply converges, the second
finds nothing to do, the plan is empty, no key is present twice, and drift's verdict is
right (the one key set with only a future key has no active key; nothing else is wrong)."""

import json

import pytest

from helpers.cli import STARTER, run
from reconciler.graph.lease import LEASE_KEYSET_ID

FUTURE = """\
version: 1
keySets:
  - name: NextYear            # only a key that starts in a year: no active key now
    keys:
      - {kind: generate, kty: oct, use: sig, nbf: 2099-01-01T00:00:00Z, exp: 2100-01-01T00:00:00Z}
  - name: Rotating            # two dated keys, the later one active
    keys:
      - {kind: generate, kty: RSA, use: sig, nbf: 2025-01-01T00:00:00Z, exp: 2098-01-01T00:00:00Z}
      - {kind: generate, kty: RSA, use: sig, nbf: 2026-01-01T00:00:00Z, exp: 2099-01-01T00:00:00Z}
"""
DECLARED = {"B2C_1A_TokenSigningKeyContainer": 1, "B2C_1A_TokenEncryptionKeyContainer": 1,
            "B2C_1A_FacebookSecret": 1, "B2C_1A_NextYear": 1, "B2C_1A_Rotating": 2}

READINGS = ["getactivekey-404", "getactivekey-no-kid", "list-without-keys", "default-dates", "read-lag=1",
            "not-found-404", "conflict-409", "relative-next-link", "prefix-doubled", "delete-without-bak",
            "page-size=1"]


@pytest.mark.parametrize("reading", [None] + READINGS)
def test_each_reading_converges_with_no_duplicate(emu, env, tmp_path, capsys, reading):
    if reading:
        emu.config.update({"readings": [reading]})
    env = {**env, "B2CKEYS_SETTLE_SECONDS": "4"}  # longer than read-lag=1, short enough for a test
    extra = tmp_path / "future.yaml"
    extra.write_text(FUTURE)
    paths = [STARTER, str(extra)]

    code, out, err = run(capsys, ["apply", "--auto-approve", *paths], env)
    assert code == 0, err
    assert "Apply complete" in out
    code, out, err = run(capsys, ["apply", "--auto-approve", *paths], env)
    assert code == 0, err
    assert "No changes" in out
    code, out, err = run(capsys, ["plan", "--detailed-exitcode", *paths], env)
    assert code == 0, out + err

    keysets = {ks["id"]: ks["keys"] for ks in emu.state()["keySets"]}
    assert {i: len(keys) for i, keys in keysets.items() if not i.lower().startswith(LEASE_KEYSET_ID.lower())
            and not i.endswith(".bak")} == DECLARED
    assert not any(i.lower().startswith(LEASE_KEYSET_ID.lower()) for i in keysets)  # the lease was given back

    code, out, err = run(capsys, ["drift", "--format", "json", *paths], env)
    report = json.loads(out)
    assert code == 8, out + err  # a key problem: NextYear has no active key; nothing pending or unmanaged
    assert report["summary"] == {"changesPending": 0, "unmanaged": 0, "keyProblems": 1,
                                 "activeKeyDisagreements": 0, "duplicates": 0}
    assert [n["keySet"] for n in report["noActiveKey"]] == ["B2C_1A_NextYear"]
    rotating = next(a for a in report["activeKeys"] if a["keySet"] == "B2C_1A_Rotating")
    later = max(keysets["B2C_1A_Rotating"], key=lambda k: k["nbf"])
    assert rotating["rule"] == later["kid"]
    if reading != "getactivekey-no-kid":
        assert rotating["getActiveKey"] == later["kid"]
