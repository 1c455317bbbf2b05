"""apply under faults, throttling and interrupts, against the emulator.

Whatever the schedule of failures, reruns of apply converge to `No changes.`, and
the tenant never holds a duplicate key or a key no manifest asked for. The
emulator's minute is scaled to one second (time scale 60) and so are the client's
waits (B2CKEYS_TIME_SCALE), so that all of it runs in seconds.
"""

import collections
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from reconciler.cli.main import main

SCALE = 60
NOW = int(time.time())
DAY = 86_400


def manifest_text(n_keysets: int, seed: int = 0) -> str:
    """n key sets: RSA sig/enc ones with one or two keys, secret ones with dated keys."""
    rng = random.Random(seed)
    lines = ["version: 1", "keySets:"]
    for i in range(n_keysets):
        lines += [f"  - name: KS{i:03d}", "    keys:"]
        if i % 3 == 2:
            for j in range(rng.randint(1, 3)):
                nbf = NOW - DAY + j * 30 * DAY
                lines.append(f"      - {{kind: secret, use: sig, value: {{env: SECRET_{i % 4}}}, "
                             f"nbf: {nbf}, exp: {nbf + 400 * DAY}}}")
        else:
            use = "sig" if i % 2 else "enc"
            lines.append(f"      - {{kind: generate, kty: RSA, use: {use}}}")
            if rng.random() < 0.3:
                lines.append(f"      - {{kind: generate, kty: RSA, use: {use}, nbf: {NOW + 90 * DAY}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def env(emu):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    environ.update(emu.env)
    environ.update({f"SECRET_{i}": f"CANARY-fault-secret-{i}" for i in range(4)})
    environ["B2CKEYS_TIME_SCALE"] = str(SCALE)
    return environ


def write_manifest(tmp_path, n, seed=0):
    path = tmp_path / "keys.yaml"
    path.write_text(manifest_text(n, seed))
    return str(path)


def expected_identities(manifest: str):
    from reconciler.manifest.reader import load_manifests

    state = load_manifests([manifest]).state
    return {ks.id: collections.Counter((k.kty.value.lower(), k.use.value, k.nbf, k.exp) for k in ks.keys)
            for ks in state.keysets}


def tenant_identities(emu):
    return {ks["id"]: collections.Counter((k["kty"].lower(), k["use"], k.get("nbf"), k.get("exp")) for k in ks["keys"])
            for ks in emu.state()["keySets"]}


def apply_until_done(capsys, manifest, env, *extra, runs=4):
    """apply, rerun while it exits 1 (as a pipeline with retries would); returns the exit codes."""
    codes = []
    for _ in range(runs):
        codes.append(main(["apply", "--auto-approve", *extra, manifest], environ=env))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        assert "CANARY-fault-secret" not in captured.out + captured.err
        if codes[-1] == 0:
            break
    return codes


def plan_is_clean(capsys, manifest, env) -> bool:
    code = main(["plan", "--detailed-exitcode", manifest], environ=env)
    out = capsys.readouterr().out
    return code == 0 and "No changes." in out


def random_schedule(seed: int) -> list[dict]:
    rng = random.Random(seed)
    menu = [
        {"method": "POST", "path": "*/uploadSecret", "status": 400, "code": "AADB2C90063"},
        {"method": "POST", "path": "*/uploadSecret", "commit_then_drop": True},
        {"method": "POST", "path": "*/generateKey", "commit_then_drop": True},
        {"method": "POST", "path": "*/generateKey", "status": 503},
        {"method": "POST", "path": "*/trustFramework/keySets", "commit_then_drop": True},
        {"method": "POST", "path": "*/trustFramework/keySets", "reset": True},
        {"method": "POST", "path": "/beta/*", "status": 429, "retry_after": 0.02},
        {"method": "POST", "path": "/beta/*", "status": 429},  # no Retry-After: backoff
        {"method": "POST", "path": "/beta/*", "status": 409, "code": "AADB2C95053"},
        {"method": "GET", "path": "/beta/*", "status": 500},
        {"method": "GET", "path": "/beta/*", "reset": True},
        {"method": "POST", "path": "*/oauth2/v2.0/token", "status": 503},
    ]
    chosen = rng.sample(menu, rng.randint(3, 6))
    return [dict(rule, probability=round(rng.uniform(0.05, 0.3), 2), seed=rng.randrange(10**6)) for rule in chosen]


@pytest.mark.parametrize("seed", range(12))
def test_random_fault_schedules_converge_without_duplicates(emu, env, capsys, tmp_path, seed):
    manifest = write_manifest(tmp_path, 9, seed)
    for rule in random_schedule(seed):
        emu.faults.add(rule)
    codes = apply_until_done(capsys, manifest, env)
    assert codes[-1] == 0, f"apply did not converge in {len(codes)} runs: {codes}"
    emu.faults.clear()
    assert plan_is_clean(capsys, manifest, env)
    assert tenant_identities(emu) == expected_identities(manifest)


@pytest.mark.parametrize("path", ["*/trustFramework/keySets", "*/generateKey", "*/uploadSecret"])
def test_a_lost_answer_never_becomes_a_duplicate(emu, env, capsys, tmp_path, path):
    manifest = write_manifest(tmp_path, 3)
    times = 2 if path.endswith("/keySets") else 1  # the first create is the tenant lease's: both answers lost
    emu.faults.add({"method": "POST", "path": path, "commit_then_drop": True, "times": times})
    code = main(["apply", "--auto-approve", manifest], environ=env)
    out = capsys.readouterr().out
    assert code == 0
    assert "answer was lost" in out
    assert emu.stats()["faults"] == {"commit_then_drop": times}
    assert tenant_identities(emu) == expected_identities(manifest)
    assert not [ks for ks in emu.state()["keySets"] if "B2CKeysLock" in ks["id"]]  # the lease was taken and given back


def test_upload_rejected_with_service_problem_is_retried(emu, env, capsys, tmp_path):
    manifest = write_manifest(tmp_path, 3)
    emu.faults.add({"method": "POST", "path": "*/uploadSecret", "status": 400, "code": "AADB2C90063", "times": 2})
    assert main(["apply", "--auto-approve", manifest], environ=env) == 0
    capsys.readouterr()
    assert tenant_identities(emu) == expected_identities(manifest)


def test_pacing_keeps_every_window_under_the_limit(emu, env, capsys, tmp_path):
    manifest = write_manifest(tmp_path, 24)
    emu.config.update({"throttle": {"app_per_minute": 30, "tenant_per_minute": 45, "time_scale": SCALE}})
    env["B2CKEYS_MAX_RPM"] = "30"
    assert main(["apply", "--auto-approve", "--parallelism", "6", manifest], environ=env) == 0
    capsys.readouterr()
    stats = emu.stats()
    assert stats["throttled"] == 0
    assert max(stats["max_in_window"]["apps"].values()) <= 30
    assert stats["graph_requests"] > 30  # it did have to wait for the window
    assert tenant_identities(emu) == expected_identities(manifest)


def test_without_pacing_throttling_is_survived(emu, env, capsys, tmp_path):
    manifest = write_manifest(tmp_path, 15)
    emu.config.update({"throttle": {"app_per_minute": 12, "tenant_per_minute": 45, "time_scale": SCALE}})
    env["B2CKEYS_MAX_RPM"] = "0"
    assert apply_until_done(capsys, manifest, env, "--parallelism", "4")[-1] == 0
    assert emu.stats()["throttled"] > 0
    assert tenant_identities(emu) == expected_identities(manifest)


def test_retries_end_with_a_clear_error(emu, env, capsys, tmp_path):
    manifest = write_manifest(tmp_path, 1)
    emu.faults.add({"method": "GET", "path": "/beta/*", "status": 503, "times": None})
    assert main(["plan", manifest], environ=env) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GET /trustFramework/keySets: gave up after 8 tries over ")
    assert "last answer: HTTP 503 ServiceUnavailable" in err and "request-id" in err


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_mid_apply_reports_and_rerun_converges(emu, env, capsys, tmp_path, signum, code):
    manifest = write_manifest(tmp_path, 30)
    emu.config.update({"latency": {"fixed_ms": 40, "jitter_ms": 10}})
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--parallelism", "2", manifest],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    done_lines = 0
    while done_lines < 6:
        line = process.stdout.readline()
        assert line, "apply ended before it could be interrupted"
        done_lines += line.startswith("+ ")
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "no new change starts" in err
    assert "Apply interrupted:" in err and "Not attempted:" in err and "Run apply again to finish" in err
    emu.config.update({"latency": {"fixed_ms": 0, "jitter_ms": 0}})
    assert apply_until_done(capsys, manifest, env, runs=1) == [0]
    assert plan_is_clean(capsys, manifest, env)
    assert tenant_identities(emu) == expected_identities(manifest)
