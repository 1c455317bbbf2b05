"""The command line end to end against the emulator, over HTTPS, through the
real requests + msal code. `main(argv, environ)` runs in-process; a few tests
run the installed module in a subprocess, as a shell user would."""

import io
import os
import re
import subprocess
import sys

import pytest

from helpers.cli import CANARY, ROOT, STARTER, graph_calls, keys_in, run, writes
from reconciler.emulator import Emulator
from reconciler.graph.transport import Session


def test_plan_apply_plan_converges_and_second_apply_adds_nothing(emu, env, capsys):
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", STARTER], env)
    assert code == 2
    assert "Plan: 3 key sets to create, 3 keys to add." in out

    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], env)
    assert code == 0, err
    assert "Apply complete: 3 key sets created, 3 keys added." in out
    assert keys_in(emu) == {
        "B2C_1A_TokenSigningKeyContainer": 1,
        "B2C_1A_TokenEncryptionKeyContainer": 1,
        "B2C_1A_FacebookSecret": 1,
    }

    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", STARTER], env)
    assert code == 0
    assert "No changes." in out

    before = len(writes(emu))
    code, out, _ = run(capsys, ["apply", "--auto-approve", STARTER], env)
    assert code == 0 and "No changes." in out
    assert len(writes(emu)) == before
    assert sum(keys_in(emu).values()) == 3


def test_apply_uploads_the_referenced_secret(emu, env, capsys):
    import hashlib

    assert run(capsys, ["apply", "--auto-approve", STARTER], env)[0] == 0
    (fb,) = [ks for ks in emu.state()["keySets"] if ks["id"] == "B2C_1A_FacebookSecret"]
    assert fb["keys"][0]["secretSha256"] == hashlib.sha256(CANARY.encode()).hexdigest()


def test_apply_without_approval_and_without_terminal_refuses(emu, env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))  # not a terminal
    code, out, err = run(capsys, ["apply", STARTER], env)
    assert code == 1
    assert "--auto-approve" in err and "nothing was changed" in err
    assert writes(emu) == []


def test_missing_secret_fails_before_any_graph_call(emu, env, capsys):
    del env["FACEBOOK_APP_SECRET"]
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], env)
    assert code == 1
    assert "starter-pack.yaml:" in err and "FACEBOOK_APP_SECRET" in err
    assert graph_calls(emu) == []


def test_missing_secret_is_only_a_warning_in_validate(env, capsys):
    del env["FACEBOOK_APP_SECRET"]
    code, out, err = run(capsys, ["validate", STARTER], env)
    assert code == 0
    assert "warning:" in err and "FACEBOOK_APP_SECRET" in err
    assert "Valid: 1 manifest, 3 key sets, 3 keys." in out


def test_validate_reports_every_error_located_without_traceback(tmp_path, env, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nkeySets:\n  - name: A\n    keys:\n      - kind: generate\n        kty: RSA\n"
        "        use: sig\n        nbf: 2027-01-01T00:00:00Z\n        exp: 2026-01-01T00:00:00Z\n"
        "  - name: A\n    keys:\n      - kind: secret\n        use: sig\n        value: hunter2-literal\n"
    )
    code, out, err = run(capsys, ["validate", str(bad)], env)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) >= 3
    assert all(line.startswith(f"{bad}:") for line in lines), lines
    assert "Traceback" not in err and "hunter2-literal" not in err + out


def test_failure_mid_apply_reports_and_rerun_converges(emu, env, capsys, tmp_path):
    # Out of band: key set B already holds an oct key (B2C refuses an RSA key there),
    # and key set D exists, empty.
    session = Session(verify=emu.ca_path)
    headers = {"Authorization": f"Bearer {emu.make_token()}"}
    base = emu.url + "/beta/trustFramework/keySets"
    for name in ("B", "D"):
        session.post(base, json={"id": name}, headers=headers).raise_for_status()
    session.post(base + "/B2C_1A_B/uploadSecret", json={"use": "sig", "k": "x" * 16},
                 headers=headers).raise_for_status()

    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\nkeySets:\n" + "".join(
            f"  - name: {name}\n    keys:\n      - {{kind: generate, kty: RSA, use: sig}}\n"
            for name in "ABCD"
        )
    )
    code, out, err = run(capsys, ["apply", "--auto-approve", "--parallelism", "1", str(manifest)], env)
    assert code == 1
    # key sets A and C are created and filled, B fails, D is not attempted
    assert "Apply failed: 4 of 6 changes done (2 key sets created, 2 keys added)." in err
    assert "AADB2C95032" in err and "request-id" in err
    assert "Not attempted:\n  + key in B2C_1A_D: generate RSA sig key" in err

    code, out, _ = run(capsys, ["plan", str(manifest)], env)
    assert "Plan: 0 key sets to create, 2 keys to add." in out
    assert "+ key in B2C_1A_B" in out and "+ key in B2C_1A_D" in out


def test_wrong_client_secret_is_one_clear_line(emu, env, capsys):
    env["AZURE_CLIENT_SECRET"] = "CANARY-wrong-client-secret"
    code, out, err = run(capsys, ["plan", STARTER], env)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: sign-in to ")
    assert "AZURE_CLIENT_SECRET" in err
    assert "CANARY-wrong-client-secret" not in out + err
    assert graph_calls(emu) == []


def test_missing_tenant_settings_are_reported(env, capsys):
    del env["AZURE_TENANT_ID"]
    code, _, err = run(capsys, ["plan", STARTER], env)
    assert code == 1 and "AZURE_TENANT_ID" in err and "Traceback" not in err


def test_plain_http_graph_refused_off_loopback(env, capsys):
    env["B2CKEYS_GRAPH_URL"] = "http://graph.example.com"
    code, _, err = run(capsys, ["plan", STARTER], env)
    assert code == 1 and "plain http is refused" in err


def test_no_colour_when_piped_or_no_color(emu, env, capsys):
    code, out, _ = run(capsys, ["plan", STARTER], env)
    assert "\033[" not in out


def test_canary_secret_never_printed_nor_logged(env, capsys, tmp_path):
    log = io.StringIO()
    with Emulator(log_stream=log) as own:
        env.update(own.env)
        outputs = []
        for argv in (["validate", STARTER], ["plan", STARTER], ["apply", "--auto-approve", STARTER],
                     ["plan", STARTER]):
            code, out, err = run(capsys, argv, env)
            assert code == 0, err
            outputs.append(out + err)
    everything = "".join(outputs) + log.getvalue()
    assert log.getvalue()  # the emulator did log requests
    assert CANARY not in everything
    assert env["AZURE_CLIENT_SECRET"] not in everything


def test_demo_runs_two_environments_from_two_vaults_and_a_rotation_without_showing_the_secret(env, capsys):
    """Two tenants with a vault each; a plan per environment; apply; a new version in prod's vault
    is exactly one new key in prod's next plan; then drift is clean in both. FACEBOOK_APP_SECRET
    (the canary) is dev's secret: put in the vault, uploaded, never shown."""
    folder = os.getcwd()
    code, out, err = run(capsys, ["demo"], env)
    assert code == 0, err
    assert os.getcwd() == folder  # the demo ran in the starter's folder, and came back
    commands = re.findall(r"^\$ b2ckeys (.*)$", out, flags=re.M)
    assert commands == [
        "validate manifests/",
        "plan manifests/ --env dev", "plan manifests/ --env prod",
        "apply --auto-approve manifests/ --env dev", "apply --auto-approve manifests/ --env prod",
        "plan --detailed-exitcode manifests/ --env prod", "apply --auto-approve manifests/ --env prod",
        "drift manifests/ --env dev", "drift manifests/ --env prod",
    ]
    validate, plan_dev, plan_prod, apply_dev, apply_prod, rotation, applied, drift_dev, drift_prod = \
        re.split(r"^\$ b2ckeys .*$", out, flags=re.M)[1:]
    assert "Valid for environment dev" in validate and "Valid for environment prod" in validate
    versions = re.findall(r"Set Secret: PUT https://127\.0\.0\.1:\d+/vaults/(kv-b2c-\w+)/secrets/FacebookAppSecret "
                          r"-> version ([0-9a-f]{32})", out)
    assert [vault for vault, _ in versions] == ["kv-b2c-dev", "kv-b2c-prod", "kv-b2c-prod"]
    (_, dev1), (_, prod1), (_, prod2) = versions
    for name, vault, version, plan, apply in (("dev", "kv-b2c-dev", dev1, plan_dev, apply_dev),
                                              ("prod", "kv-b2c-prod", prod1, plan_prod, apply_prod)):
        assert plan.startswith(f"\nEnvironment: {name}\n")
        assert f"upload secret from Key Vault {vault} secret FacebookAppSecret version {version}" in plan
        assert "Plan: 3 key sets to create, 3 keys to add." in plan
        assert "Apply complete: 3 key sets created, 3 keys added." in apply
    [added] = [line.strip() for line in rotation.splitlines() if line.strip().startswith("+ ")]  # exactly one key
    assert added.startswith("+ key in B2C_1A_FacebookSecret: upload secret from Key Vault kv-b2c-prod secret "
                            f"FacebookAppSecret version {prod2} (sig), nbf "), added  # the new version
    assert "Plan: 0 key sets to create, 1 key to add." in rotation
    assert "Not in any manifest" not in rotation  # the old version's key stays managed
    assert "Apply complete: 0 key sets created, 1 key added." in applied
    assert "No drift" in drift_dev and "No drift" in drift_prod
    assert "kv-b2c-dev" not in rotation and dev1 not in rotation  # dev's vault is not prod's
    assert CANARY not in out + err


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("validate", "plan", "apply", "emulator", "demo"):
        assert command in result.stdout


def test_emulator_command_env_file_drives_plan_and_apply_from_a_shell(emulator_process):
    env_file = emulator_process()["ENV_FILE"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    script = (
        f"set -a; . {env_file}; set +a; export FACEBOOK_APP_SECRET=s3cret-value; "
        f"{sys.executable} -m reconciler apply --auto-approve {ROOT / 'manifests'} && "
        f"{sys.executable} -m reconciler plan --detailed-exitcode {ROOT / 'manifests'}"
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Apply complete: 3 key sets created, 3 keys added." in result.stdout
    assert "No changes." in result.stdout



@pytest.mark.parametrize("answer, applied", [("yes", True), ("no", False)])
def test_apply_on_a_terminal_asks_for_yes(emu, env, answer, applied):
    import pty

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", STARTER],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        os.write(controller, f"{answer}\n".encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert "Make these changes? Only 'yes' is accepted:" in out
    if applied:
        assert process.returncode == 0, err
        assert "Apply complete: 3 key sets created, 3 keys added." in out
    else:
        assert process.returncode == 1
        assert "apply cancelled; nothing was changed" in err
        assert writes(emu) == []
