"""The benchmark (bench/run.py) at tiny sizes, the emulator's seeding helper it relies on,
and plan's order of work (manifests' errors first, one request per page; the second
loading process is tests/test_loading.py's). No timing is asserted: only that every
figure is there."""

import json
import os
import subprocess
import sys

import pytest
import requests

from reconciler.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PLAN_FIELDS = {"keysets", "keys", "pages", "graph_requests", "sign_in_requests", "token_requests",
               "client_graph_requests",
               "requests_per_keyset", "throttled", "wall_s", "runs_wall_s", "lower_bound_s",
               "ratio_to_lower_bound", "peak_rss_mb", "load_overlapped", "phases_s", "emulator_page_ms",
               "emulator_list_s",
               "naive"}
NAIVE_READ_FIELDS = {"estimated", "graph_requests", "sign_in_requests", "throttled", "slept_on_429_s",
                     "wall_s", "peak_rss_mb", "round_trip_s", "ratio_to_b2ckeys"}
APPLY_CLIENT_FIELDS = {"graph_requests", "admitted", "throttled_429", "sign_in_requests", "max_in_window",
                       "keys_added", "wall_s", "ceiling_s", "wall_over_ceiling", "fraction_of_ceiling",
                       "peak_rss_mb", "sliding_window_floor_s"}


def test_benchmark_at_tiny_sizes_writes_every_field(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--sizes", "10,20", "--additions", "30", "--latency-ms", "5",
         "--time-scale", "60", "--naive-max", "10", "--repeat", "1", "--startup-runs", "1",
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| key sets |" in done.stdout and "Targets" in done.stdout

    results = json.loads(out.read_text())
    assert set(results) == {"meta", "plan", "apply", "startup", "targets"}
    meta = results["meta"]
    assert meta["page_size"] == 100 and meta["latency_ms"] == 5 and "page_size_note" in meta
    assert [row["keysets"] for row in results["plan"]] == [10, 20]
    for row in results["plan"]:
        assert PLAN_FIELDS <= set(row)
        assert NAIVE_READ_FIELDS <= set(row["naive"])
        assert {"imports", "load", "list", "sign_in", "plan", "total", "cpu"} <= set(row["phases_s"])
        assert row["load_overlapped"] is False  # tiny manifests load first
        assert row["graph_requests"] == row["pages"] == 1  # one page, no request per key set
        assert 1 <= row["keys"] / row["keysets"] <= 3
    assert [row["naive"]["estimated"] for row in results["plan"]] == [False, True]
    assert results["plan"][0]["naive"]["graph_requests"] == 10  # one GET per key set

    apply = results["apply"]
    assert apply["additions"] == 30 and apply["time_scale"] == 60
    for name in ("b2ckeys", "naive"):
        assert APPLY_CLIENT_FIELDS <= set(apply[name])
        assert apply[name]["keys_added"] == 30
    assert {"apply", "load", "list"} <= set(apply["b2ckeys"]["phases_s"])

    for name in ("help", "validate"):
        assert set(results["startup"][name]) == {"argv", "median_s", "runs_s"}
    assert len(results["targets"]) >= 6
    assert all({"target", "measured", "met"} == set(t) for t in results["targets"])


# -- Emulator.seed and POST /_emulator/seed ---------------------------------------------

def test_seed_loads_keysets_without_graph_requests(emu):
    assert emu.seed([
        {"id": "B2C_1A_Signing", "keys": [{"kty": "RSA", "use": "sig"},
                                          {"kty": "rsa", "use": "sig", "nbf": 100, "exp": 200}]},
        {"id": "B2C_1A_Secret", "keys": [{"kty": "oct", "use": "enc", "kid": "k1", "status": "disabled"}]},
        {"id": "B2C_1A_Empty", "keys": []},
    ]) == 3
    assert emu.stats()["graph_requests"] == 0
    state = emu.state()["keySets"]
    assert [ks["id"] for ks in state] == ["B2C_1A_Signing", "B2C_1A_Secret", "B2C_1A_Empty"]
    assert [(k["kty"], k["nbf"], k["exp"]) for k in state[0]["keys"]] == [("RSA", None, None), ("RSA", 100, 200)]
    assert state[1]["keys"][0]["kid"] == "k1" and state[1]["keys"][0]["status"] == "disabled"
    listed = requests.get(f"{emu.url}/beta/trustFramework/keySets/B2C_1A_Signing", verify=emu.ca_path,
                          headers={"Authorization": "Bearer " + emu.make_token()}).json()
    assert all(k["n"] and k["e"] == "AQAB" for k in listed["keys"])  # a public key to show
    assert not set(listed["keys"][0]) & {"k", "d", "p", "q", "dp", "dq", "qi"}
    # what the state shows seeds another emulator the same
    emu.reset()
    assert emu.seed(state) == 3 and emu.state()["keySets"] == state


@pytest.mark.parametrize("keysets, code", [
    ([{"id": "has space", "keys": []}], "AADB2C"),
    ([{"id": "B2C_1A_X", "keys": [{"kty": "RSA", "use": "sig"}, {"kty": "oct", "use": "sig"}]}], "AADB2C95032"),
    ([{"id": "B2C_1A_X", "keys": [{"kty": "oct", "use": "sig"}, {"kty": "oct", "use": "enc"}]}], "AADB2C95042"),
    ([{"id": "B2C_1A_X", "keys": [{"kty": "EC", "use": "sig"}]}], "AADB2C95031"),
    ([{"id": "B2C_1A_X", "keys": [{"kty": "oct", "use": "sig", "nbf": 5, "exp": 5}]}], "AADB2C95026"),
    ([{"id": "B2C_1A_X", "keys": []}, {"id": "b2c_1a_x", "keys": []}], "AADB2C95028"),
])
def test_seed_refuses_what_b2c_would_and_adds_nothing(emu, keysets, code):
    from reconciler.emulator.store import StoreError

    with pytest.raises(StoreError) as refused:
        emu.seed([{"id": "B2C_1A_Fine", "keys": []}, *keysets])
    assert refused.value.code == code
    assert emu.state()["keySets"] == []


def test_seed_control_endpoint(emu):
    url = f"{emu.url}/_emulator/seed"
    answer = requests.post(url, json={"keySets": [{"id": "B2C_1A_A", "keys": [{"kty": "oct", "use": "sig"}]}]},
                           verify=emu.ca_path)
    assert answer.status_code == 200 and answer.json() == {"seeded": 1}
    again = requests.post(url, json={"keySets": [{"id": "B2C_1A_A", "keys": []}]}, verify=emu.ca_path)
    assert again.status_code == 409 and "AADB2C95028" in again.json()["error"]
    assert requests.post(url, json=[], verify=emu.ca_path).status_code == 400
    assert len(emu.state()["keySets"]) == 1


# -- plan: the manifests' errors first, one request per page ------------------------------

def test_plan_manifest_errors_come_before_sign_in_errors(emu, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nkeySets:\n  - name: A\n    keys: []\n")
    env = {k: v for k, v in emu.env.items() if k != "AZURE_TENANT_ID"}
    assert main(["plan", str(bad)], environ=env) == 1
    err = capsys.readouterr().err
    assert "'keys' must list at least one key" in err and "AZURE_TENANT_ID" not in err


def test_plan_reports_a_manifest_error_without_waiting_for_a_slow_sign_in(tmp_path, capsys):
    import time

    from reconciler.emulator import Emulator

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nkeySets:\n  - name: A\n    keys: []\n")
    with Emulator(faults=["GET:*/openid-configuration:delay=6"]) as slow:  # its own: stray requests stay here
        began = time.monotonic()
        assert main(["plan", str(bad)], environ=dict(slow.env)) == 1
        assert time.monotonic() - began < 4.5
    assert "'keys' must list at least one key" in capsys.readouterr().err


def test_plan_of_a_large_tenant_makes_one_request_per_page(emu, tmp_path, capsys):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import workload
    finally:
        sys.path.pop(0)
    emu.config.update({"page_size": 7})
    emu.seed(workload.tenant(60))
    workload.write_manifests(str(tmp_path), 60)
    assert main(["plan", "--detailed-exitcode", str(tmp_path)], environ=dict(emu.env)) == 0
    assert "No changes." in capsys.readouterr().out
    assert emu.stats()["graph_requests"] == 9  # ceil(60 / 7) pages, nothing per key set


@pytest.mark.parametrize("pages, expected", [
    (1, 2 * 0.05),  # the token request and one page
    (100, 101 * 0.05),  # 10,000 key sets at 100 a page: latency bounds it
    (200, 201 * 0.05),  # the throttle's limit, not yet its window
    (201, 0.05 + 60 + 0.05),  # the 201st page waits a minute after the first
    (500, 0.05 + 2 * 60 + 100 * 0.05),  # 50,000 key sets: the throttle, not the latency, bounds it
])
def test_the_lower_bound_counts_the_throttle_beyond_200_pages_a_minute(pages, expected):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        from run import lower_bound
    finally:
        sys.path.remove(os.path.join(ROOT, "bench"))
    assert lower_bound(pages, 0.05) == pytest.approx(expected)
