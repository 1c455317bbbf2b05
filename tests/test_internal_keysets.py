"""Key sets nobody declares or manages: B2C's `….bak` backups and b2ckeys' own lease key set.
Never reported as unmanaged, never pruned, never exported, never checked by drift; a manifest
may not declare the lease's name."""

from helpers.cli import run
from helpers.graph import Graph
from helpers.model import NOW, desired, gen, key, live
from reconciler.core.model import LEASE_KEYSET_ID, DesiredState, LiveKeySet, LiveState, is_internal
from reconciler.manifest.export import export_manifest
from reconciler.plan.drift import drift
from reconciler.plan.planner import plan
from reconciler.plan.prune import too_much_change


def test_is_internal():
    assert LEASE_KEYSET_ID == "B2C_1A_B2CKeysLock"
    assert all(is_internal(i) for i in ("B2C_1A_B2CKeysLock", "b2c_1a_b2ckeyslock", "B2C_1A_B2CKeysLock.bak",
                                        "B2C_1A_Sign.BAK"))
    assert not any(is_internal(i) for i in ("B2C_1A_B2CKeysLock2", "B2C_1A_Sign", "B2CKeysLock"))


def test_the_lease_is_neither_reported_nor_pruned_nor_exported():
    lease = LiveKeySet("B2C_1A_B2CKeysLock", (key("l1", exp=NOW - 1), key("l2", exp=NOW - 1)))
    state = LiveState((LiveKeySet("B2C_1A_A", (live("k"),)), lease, LiveKeySet("b2c_1a_b2ckeyslock.bak", ())))
    wanted = desired(A=[gen()])
    p = plan(wanted, state, 0)
    assert p.unmanaged == () and p.duplicates == () and p.changes == ()
    assert plan(DesiredState(wanted.keysets, prune=True), state, NOW).changes == ()
    internal_only = LiveState(tuple(LiveKeySet(f"B2C_1A_B2CKeysLock{'.bak' * (i % 2)}") for i in range(20)))
    assert too_much_change(1, internal_only) is None  # not counted for the 30%
    r = drift(wanted, state, NOW, graph_active={"B2C_1A_A": live("k")})
    assert r.exit_code == 0 and [a.keyset_id for a in r.active] == ["B2C_1A_A"]  # its expired keys: no problem
    assert "B2CKeysLock" not in export_manifest(state).text


def test_end_to_end(emu, env, capsys, tmp_path):
    graph = Graph(emu)
    for name in ("Sign", "B2CKeysLock"):
        graph("POST", "", {"id": name})
    graph("POST", "/B2C_1A_Sign/generateKey", {"use": "sig", "kty": "RSA"})
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nprune: true\nkeySets:\n  - {name: Sign, keys: [{kind: generate, kty: RSA, use: sig}]}\n")
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", str(path)], env)
    assert code == 0 and "No changes." in out and "B2CKeysLock" not in out
    assert run(capsys, ["drift", str(path)], env)[0] == 0
    asked = [r["path"].split("/")[-2] for r in emu.requests() if r["path"].endswith("/getActiveKey")]
    assert asked == ["B2C_1A_Sign"]
    code, out, _ = run(capsys, ["export"], env)
    assert code == 0 and "B2CKeysLock" not in out
    # declaring it is refused, located
    path.write_text("version: 1\nkeySets:\n  - {name: B2CKeysLock, keys: [{kind: generate, kty: RSA, use: sig}]}\n")
    code, _, err = run(capsys, ["validate", str(path)], env)
    assert code == 1 and f"{path}:3:12: key set name 'B2CKeysLock' is reserved" in err
