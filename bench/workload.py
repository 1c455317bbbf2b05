"""The benchmark's tenants and manifests: deterministic, built in memory.

`tenant(n)` gives n key sets (1 to 3 keys each) in the shape `Emulator.seed` takes;
`write_manifests(folder, n)` writes manifests that declare exactly those key sets,
so that `plan` finds nothing to change: the steady state of a managed tenant, where
the plan's cost is all in reading. Mixed like real tenants: RSA signing keys, RSA
encryption keys, and oct secrets (client secrets of identity providers) with dates.

`additions(n_keys)` gives the apply scenario: key sets that exist and are empty, and
manifests that add `n_keys` keys to them, four per key set, half by uploadSecret and
half by generateKey with kty oct (never RSA: RSA-2048 generation costs the emulator
~50-100 ms of CPU per key, which would measure the emulator instead of the client).
"""

from __future__ import annotations

import os
import random

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
KEYSETS_PER_FILE = 500  # a manifest folder split in files, as large tenants do
SECRET_ENV = "BENCH_SECRET"


def _keys(i: int, rng: random.Random) -> list[dict]:
    count = rng.randint(1, 3)
    if i % 3 == 2:  # a secret, rotated: every key dated
        return [{"kty": "oct", "use": "sig", "nbf": T0 + j * 180 * DAY, "exp": T0 + (j + 2) * 365 * DAY}
                for j in range(count)]
    use = "sig" if i % 3 == 0 else "enc"
    keys = [{"kty": "RSA", "use": use}]
    keys += [{"kty": "RSA", "use": use, "nbf": T0 + j * 90 * DAY, "exp": T0 + (j + 4) * 365 * DAY}
             for j in range(1, count)]
    return keys


def name(i: int) -> str:
    return f"Bench{i:05d}"


def tenant(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": "B2C_1A_" + name(i), "keys": _keys(i, rng)} for i in range(n)]


def _key_yaml(key: dict) -> list[str]:
    if key["kty"] == "oct":
        lines = ["      - kind: secret", f"        use: {key['use']}",
                 f"        value: {{env: {SECRET_ENV}}}"]
    else:
        lines = ["      - kind: generate", f"        kty: {key['kty']}", f"        use: {key['use']}"]
    for field in ("nbf", "exp"):
        if field in key:
            lines.append(f"        {field}: {key[field]}")
    return lines


def _write(folder: str, keysets: list[dict], key_yaml=_key_yaml) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    files = []
    for start in range(0, len(keysets), KEYSETS_PER_FILE):
        lines = ["# yaml-language-server: $schema=../schemas/keysets.schema.json", "version: 1",
                 "keySets:"]
        for ks in keysets[start:start + KEYSETS_PER_FILE]:
            lines += [f"  - name: {ks['id'].removeprefix('B2C_1A_')}", "    keys:"]
            for key in ks["keys"]:
                lines += key_yaml(key)
        path = os.path.join(folder, f"keysets-{start // KEYSETS_PER_FILE:03d}.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        files.append(path)
    return files


def write_manifests(folder: str, n: int) -> list[str]:
    return _write(folder, tenant(n))


# -- the apply scenario ------------------------------------------------------------------

KEYS_PER_KEYSET = 4


def additions(n_keys: int) -> tuple[list[dict], list[dict]]:
    """(the tenant to seed: empty key sets; the desired key sets with their keys)."""
    n_sets = -(-n_keys // KEYS_PER_KEYSET)
    empty, desired = [], []
    left = n_keys
    for i in range(n_sets):
        kind = "secret" if i % 2 == 0 else "generate"
        count = min(KEYS_PER_KEYSET, left)
        left -= count
        keyset_id = f"B2C_1A_Add{i:05d}"
        empty.append({"id": keyset_id, "keys": []})
        desired.append({"id": keyset_id, "keys": [
            {"kind": kind, "kty": "oct", "use": "sig", "nbf": T0 + j * 90 * DAY,
             "exp": T0 + (j + 2) * 365 * DAY} for j in range(count)]})
    return empty, desired


def _addition_yaml(key: dict) -> list[str]:
    if key["kind"] == "secret":
        lines = ["      - kind: secret", f"        use: {key['use']}",
                 f"        value: {{env: {SECRET_ENV}}}"]
    else:
        lines = ["      - kind: generate", "        kty: oct", f"        use: {key['use']}"]
    return lines + [f"        nbf: {key['nbf']}", f"        exp: {key['exp']}"]


def write_addition_manifests(folder: str, desired: list[dict]) -> list[str]:
    return _write(folder, desired, _addition_yaml)
