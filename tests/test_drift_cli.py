"""`b2ckeys drift` end to end against the emulator: each exit bit from a tenant changed
out of band, the formats, and the window option."""

import json
import re
import time

import pytest

from helpers.cli import CANARY, run, writes
from helpers.graph import Graph
from reconciler.graph.client import GraphClient
from reconciler.plan.activekey import active_key

DAY = 86_400


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: Fb\n    keys:\n"
                    "      - {kind: secret, use: sig, value: {env: FACEBOOK_APP_SECRET}}\n")
    return path


def upload(graph, name, **key):
    graph("POST", "", {"id": name})
    return graph("POST", f"/B2C_1A_{name}/uploadSecret", {"use": "sig", "k": CANARY, **key})


def test_nothing_to_report_is_exit_0(emu, env, manifest, capsys):
    upload(Graph(emu), "Fb")
    Graph(emu)("POST", "", {"id": "Old.bak"})  # a backup: never reported
    code, out, _ = run(capsys, ["drift", str(manifest)], env)
    assert code == 0, out
    assert "No drift" in out


def test_each_bit_and_all_together(emu, env, manifest, tmp_path, capsys):
    code, out, _ = run(capsys, ["drift", str(manifest)], env)
    assert code == 2 | 8 == 10 and "+ key set B2C_1A_Fb" in out  # pending, and sign-ins using it fail now
    assert ("! key set B2C_1A_Fb is declared in a manifest but missing from the tenant: every sign-in that uses "
            "it fails now; 'b2ckeys apply' creates it") in out
    assert "Drift: 2 changes pending, 1 key problem (exit code 10)." in out
    code, out, _ = run(capsys, ["drift", "--format", "json", str(manifest)], env)
    assert code == 10 and [(n["keySet"], n["missing"]) for n in json.loads(out)["noActiveKey"]] == [("B2C_1A_Fb", True)]

    assert run(capsys, ["apply", "--auto-approve", str(manifest)], env)[0] == 0
    graph = Graph(emu)
    stray = upload(graph, "Stray", nbf=int(time.time()) - DAY)
    code, out, _ = run(capsys, ["drift", str(manifest)], env)
    assert code == 4 and "? key set B2C_1A_Stray" in out  # unmanaged

    expired = upload(graph, "Expired", exp=int(time.time()) - DAY)
    (tmp_path / "more.yaml").write_text(
        "version: 1\nkeySets:\n  - name: Stray\n    keys:\n      - {kind: secret, use: sig, value: {env: X}, "
        f"nbf: {stray['nbf']}}}\n  - name: Expired\n    keys:\n"
        f"      - {{kind: secret, use: sig, value: {{env: X}}, exp: {expired['exp']}}}\n")
    code, out, _ = run(capsys, ["drift", str(manifest), str(tmp_path / "more.yaml")], env)
    assert code == 8, out  # expired, and so no active key now
    assert f"! key {expired['kid']} in B2C_1A_Expired expired on" in out
    assert "! key set B2C_1A_Expired has no active key now, nor at the end of the window" in out

    (tmp_path / "absent.yaml").write_text("version: 1\nkeySets:\n  - name: Absent\n    keys:\n"
                                          "      - {kind: generate, kty: RSA, use: sig}\n")
    code, out, _ = run(capsys, ["drift", str(manifest), str(tmp_path / "absent.yaml")], env)
    assert code == 2 | 4 | 8
    assert "Drift: 2 changes pending, 2 not in any manifest, 3 key problems (exit code 14)." in out
    assert CANARY not in out


def test_expiring_and_the_window(emu, env, manifest, capsys):
    soon = upload(Graph(emu), "Fb", exp=int(time.time()) + 40 * DAY)
    manifest.write_text(manifest.read_text().replace("}}\n", f"}}, exp: {soon['exp']}}}\n"))
    code, out, _ = run(capsys, ["drift", str(manifest)], env)
    assert code == 0, out
    code, out, _ = run(capsys, ["drift", str(manifest), "--expiry-window", "60"], env)
    assert code == 8
    assert f"! key {soon['kid']} in B2C_1A_Fb expires on" in out
    assert re.search(r"\(in (39|40) days\)", out)
    assert "will have no active key at the end of the window" in out


def test_no_active_key_now_but_later(emu, env, manifest, capsys):
    later = upload(Graph(emu), "Fb", nbf=int(time.time()) + 3 * DAY)
    manifest.write_text(manifest.read_text().replace("}}\n", f"}}, nbf: {later['nbf']}}}\n"))
    code, out, _ = run(capsys, ["drift", str(manifest), "--format", "json"], env)
    assert code == 8
    data = json.loads(out)
    assert data["exitCode"] == 8 and data["changes"] == [] and data["expired"] == []
    assert [(n["keySet"], n["now"], n["windowEnd"]) for n in data["noActiveKey"]] == [("B2C_1A_Fb", True, False)]


def test_markdown_drift_and_errors(emu, env, manifest, capsys):
    upload(Graph(emu), "Stray")
    before = len(writes(emu))
    code, out, _ = run(capsys, ["drift", str(manifest), "--format", "markdown"], env)
    assert code == 2 | 4 | 8 and out.startswith("### b2ckeys drift\n")
    assert "- key set `B2C_1A_Stray`" in out and CANARY not in out
    del env["AZURE_TENANT_ID"]
    assert run(capsys, ["drift", str(manifest)], env)[0] == 1  # an error is 1, never a drift bit
    assert len(writes(emu)) == before  # drift only reads


def test_local_active_key_rule_agrees_with_get_active_key(emu, env):
    graph = Graph(emu)
    graph("POST", "", {"id": "Rot"})
    now = int(time.time())
    for nbf, exp in ((now - 9 * DAY, now + 9 * DAY), (now - 2 * DAY, None), (now - 5 * DAY, now + DAY),
                     (now + 2 * DAY, None), (None, now + 30 * DAY)):
        graph("POST", "/B2C_1A_Rot/uploadSecret", {"use": "sig", "k": "x", **({"nbf": nbf} if nbf else {}),
                                                   **({"exp": exp} if exp else {})})
    client = GraphClient(emu.url, emu.make_token, verify=emu.ca_path)
    keys = client.get_keyset("B2C_1A_Rot").keys
    assert active_key(keys, int(time.time())).kid == client.get_active_key("B2C_1A_Rot").kid
