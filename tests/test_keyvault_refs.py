"""Key Vault references through the real CLI against the emulated vault: plan and apply,
rotation from the vault (a new version is one new key, a pinned version stays put), drift's
bits, a 403 and a missing secret as located errors, the PFX re-wrap, and the canaries."""

import hashlib
import json
import subprocess
import sys
import time

import pytest

from helpers.certkit import certificate, x5t
from helpers.cli import CANARY, ROOT, keys_in, run, writes
from helpers.vault import Vault
from reconciler.core.errors import ConfigError, ReconcilerError
from reconciler.emulator.pipeline import Response
from reconciler.graph.keyvault import _Credential
from reconciler.graph.vaultplaces import vault_resource, vault_url

DAY = 86_400
SECRET_KEY = """version: 1
keySets:
  - name: FacebookSecret
    keys:
      - kind: secret
        use: sig
        value: {keyVault: {vault: kv-dev, secret: facebook%s}}
"""


@pytest.fixture
def vault(emu):
    return Vault(emu, "kv-dev")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()  # a repository root, as manifests live in one
    monkeypatch.chdir(tmp_path)
    return tmp_path


def manifest(folder, version=""):
    path = folder / "keys.yaml"
    path.write_text(SECRET_KEY % (f", version: {version}" if version else ""))
    return str(path)


def uploaded(emu):
    return [r for r in writes(emu) if r["path"].endswith("/uploadSecret")]


def no_canary(*texts):
    for text in texts:
        assert CANARY not in text and "CANARY" not in text


def test_plan_names_vault_secret_and_version_and_apply_uploads_it(emu, env, vault, folder, capsys):
    now = int(time.time())
    version = vault.set_secret("facebook", CANARY, nbf=now - 60, exp=now + 365 * DAY)
    path = manifest(folder)
    code, out, err = run(capsys, ["plan", path, "--out", "plan.json"], env)
    assert code == 0, err
    assert f"upload secret from Key Vault kv-dev secret facebook version {version}" in out
    saved = (folder / "plan.json").read_text()
    assert version in saved
    code, shown, err = run(capsys, ["show", "plan.json"], env)
    assert code == 0 and shown in out, err  # a saved plan reads back with its vault reference
    code, markdown, err = run(capsys, ["plan", path, "--format", "markdown"], env)
    assert code == 0 and version in markdown
    code, out2, err2 = run(capsys, ["apply", "plan.json"], env)
    assert code == 0, err2
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 1}
    key = emu.state()["keySets"][0]["keys"][0]
    assert (key["nbf"], key["exp"]) == (now - 60, now + 365 * DAY)  # the version's dates
    code, out3, err3 = run(capsys, ["apply", path, "--auto-approve", "--debug"], env)
    assert code == 0 and "No changes" in out3
    no_canary(out, err, saved, markdown, out2, err2, out3, err3, json.dumps(emu.requests()), json.dumps(emu.state()))


def test_a_new_version_is_exactly_one_new_key_and_a_pinned_version_stays_put(emu, env, vault, folder, capsys):
    now = int(time.time())
    first = vault.set_secret("facebook", CANARY + "-1", nbf=now - 60, exp=now + 365 * DAY)
    pinned = manifest(folder, first)
    assert run(capsys, ["apply", pinned, "--auto-approve"], env)[0] == 0
    vault.set_secret("facebook", CANARY + "-2", nbf=now + 60, exp=now + 400 * DAY)
    code, out, _ = run(capsys, ["plan", pinned], env)
    assert code == 0 and "No changes" in out  # pinned: the new version changes nothing
    latest = manifest(folder)
    before = len(uploaded(emu))
    code, out, err = run(capsys, ["apply", latest, "--auto-approve"], env)
    assert code == 0, err
    assert len(uploaded(emu)) - before == 1
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 2}
    code, out, _ = run(capsys, ["plan", latest], env)
    assert "No changes" in out and "Not in any manifest" not in out  # the earlier version's key stays managed
    assert run(capsys, ["drift", latest], env)[0] == 0


def test_drift_reports_an_expiring_vault_secret_and_a_newer_version_than_the_pinned_one(emu, env, vault, folder,
                                                                                          capsys):
    now = int(time.time())
    first = vault.set_secret("facebook", CANARY, nbf=now - 60, exp=now + 10 * DAY)
    path = manifest(folder, first)
    assert run(capsys, ["apply", path, "--auto-approve"], env)[0] == 0
    code, out, _ = run(capsys, ["drift", path, "--expiry-window", "30"], env)
    assert code & 8 and not code & 2
    assert "Key Vault kv-dev secret facebook" in out and "expires on" in out
    assert run(capsys, ["drift", path, "--expiry-window", "5"], env)[0] == 0
    newer = vault.set_secret("facebook", CANARY + "-2", nbf=now, exp=now + 365 * DAY)
    code, out, _ = run(capsys, ["drift", path, "--expiry-window", "5", "--format", "json"], env)
    assert code == 2
    data = json.loads(out)
    assert data["vaultSecrets"][0]["newerVersion"] == newer
    no_canary(out)


def test_a_403_names_the_vault_and_the_role_at_the_manifest_line(emu, env, vault, folder, capsys):
    vault.set_secret("facebook", CANARY)
    emu.set_vault_roles("kv-dev", [])
    code, out, err = run(capsys, ["plan", manifest(folder)], env)
    assert code == 1
    assert f"{folder / 'keys.yaml'}:7:" in err and "Key Vault kv-dev" in err and "'Key Vault Secrets User'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_role_the_error_names_is_enough_for_plan_and_apply(emu, env, vault, folder, capsys):
    vault.set_secret("facebook", CANARY)
    emu.set_vault_roles("kv-dev", ["Key Vault Secrets User"])
    code, _, err = run(capsys, ["apply", manifest(folder), "--auto-approve"], env)
    assert code == 0, err
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 1}


def test_a_missing_secret_and_a_missing_version_are_located_errors(emu, env, vault, folder, capsys):
    code, _, err = run(capsys, ["plan", manifest(folder)], env)
    assert code == 1 and f"{folder / 'keys.yaml'}:7:" in err and "has no secret facebook" in err
    vault.set_secret("facebook", CANARY)
    code, _, err = run(capsys, ["plan", manifest(folder, "a" * 32)], env)
    assert code == 1 and f"has no version {'a' * 32} of secret facebook" in err


def test_validate_checks_the_shape_only_and_reaches_no_vault(emu, env, folder, capsys):
    path = manifest(folder)
    offline = {k: v for k, v in env.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    code, out, err = run(capsys, ["validate", path], offline)
    assert code == 0, err
    assert emu.requests() == []
    (folder / "bad.yaml").write_text(SECRET_KEY.replace("secret: facebook%s", "name: facebook"))
    code, _, err = run(capsys, ["validate", str(folder / "bad.yaml")], offline)
    assert code == 1 and "bad.yaml:7:" in err


def test_a_vault_certificate_is_rewrapped_for_upload_pkcs12_and_keeps_its_thumbprint(emu, env, vault, folder,
                                                                                    capsys):
    cert = certificate("saml idp", nbf=int(time.time()) - DAY)
    vault.import_certificate("saml-idp", cert)
    (folder / "saml.yaml").write_text("""version: 1
keySets:
  - name: SamlIdp
    keys:
      - kind: pkcs12
        file: {keyVault: {vault: kv-dev, certificate: saml-idp}}
""")
    code, out, err = run(capsys, ["plan", "saml.yaml"], env)
    assert code == 0, err
    assert f"x5t {x5t(cert)}" in out and "one-time password" in out
    assert run(capsys, ["plan", "saml.yaml", "--out", "plan.json"], env)[0] == 0
    code, out, err = run(capsys, ["apply", "plan.json"], env)
    assert code == 0, err
    (live,) = emu.state()["keySets"][0]["keys"]
    assert live["x5t"].rstrip("=") == x5t(cert)
    assert "No changes" in run(capsys, ["plan", "saml.yaml"], env)[1]
    upload = [r for r in writes(emu) if r["path"].endswith("/uploadPkcs12")]
    assert len(upload) == 1


def test_a_saved_plan_uploads_the_version_it_planned_even_after_a_newer_one(emu, env, vault, folder, capsys):
    now = int(time.time())
    vault.set_secret("facebook", CANARY + "-planned", nbf=now - 60, exp=now + 365 * DAY)
    path = manifest(folder)
    assert run(capsys, ["plan", path, "--out", "plan.json"], env)[0] == 0
    vault.set_secret("facebook", CANARY + "-newer", nbf=now + 60, exp=now + 400 * DAY)
    code, out, err = run(capsys, ["apply", "plan.json", "--debug"], env)
    assert code == 0, err
    (key,) = emu.state()["keySets"][0]["keys"]
    assert key["secretSha256"] == hashlib.sha256((CANARY + "-planned").encode()).hexdigest()
    assert key["nbf"] == now - 60
    no_canary(out, err, (folder / "plan.json").read_text(), json.dumps(emu.requests()))
    assert "vaults/kv-dev/secrets/facebook" in err and "Authorization: Bearer [redacted]" in err  # --debug: the vault's token redacted


def test_a_challenge_naming_another_resource_is_refused_before_any_token_is_sent(emu, env, vault, folder, capsys,
                                                                                   hooks):
    vault.set_secret("facebook", CANARY)
    challenge = 'Bearer authorization="https://login.example/t", resource="https://attacker.example"'
    hooks.before_request.append(lambda ctx: Response.json(
        401, {"error": {"code": "Unauthorized", "message": "no"}}, headers={"WWW-Authenticate": challenge})
        if ctx.area == "vault" else None)
    try:
        code, _, err = run(capsys, ["plan", manifest(folder)], env)
    finally:  # azure-keyvault keeps challenges per vault URL for the process: the next test's is honest
        from azure.keyvault.secrets._shared import http_challenge_cache  # only this test leaves one behind
        http_challenge_cache.clear()
    assert code == 1
    assert "keys.yaml:7:" in err and "attacker.example" in err and "no token was sent" in err


@pytest.mark.parametrize("cloud, resource, url", [
    ("global", "https://vault.azure.net", "https://kv-b2c.vault.azure.net"),
    ("usgov", "https://vault.usgovcloudapi.net", "https://kv-b2c.vault.usgovcloudapi.net"),
    ("dod", "https://vault.usgovcloudapi.net", "https://kv-b2c.vault.usgovcloudapi.net"),
    ("china", "https://vault.azure.cn", "https://kv-b2c.vault.azure.cn"),
])
def test_each_cloud_has_its_vault_resource_and_domain(cloud, resource, url):
    environ = {"B2CKEYS_CLOUD": cloud}
    assert vault_resource(environ) == resource
    assert vault_url("kv-b2c", environ) == url
    assert vault_url(url + "/", environ) == url
    template = {**environ, "B2CKEYS_KEYVAULT_URL": "https://127.0.0.1:8443/vaults/{name}"}
    assert vault_url("kv-b2c", template) == "https://127.0.0.1:8443/vaults/kv-b2c"


@pytest.mark.parametrize("vault, environ", [
    ("kv b2c", {}), ("http://example.com", {}), ("kv", {"B2CKEYS_KEYVAULT_URL": "https://example.com/vaults"}),
    ("https://attacker.example", {}),  # a manifest cannot send a vault token where it likes
    ("https://kv.vault.azure.net.attacker.example", {}), ("http://kv.vault.azure.net", {}),
    ("https://kv.vault.azure.net", {"B2CKEYS_CLOUD": "china"}),
    ("https://127.0.0.1:9/vaults/kv", {"B2CKEYS_KEYVAULT_URL": "https://127.0.0.1:8443/vaults/{name}"}),
])
def test_a_vault_that_is_neither_a_name_nor_an_https_url_is_refused(vault, environ):
    with pytest.raises(ConfigError):
        vault_url(vault, environ)


def test_a_vault_url_on_the_template_s_origin_is_taken(emu, env, vault, folder, capsys):
    vault.set_secret("facebook", CANARY)
    (folder / "keys.yaml").write_text(SECRET_KEY.replace("vault: kv-dev", f"vault: {vault.url}") % "")
    code, out, err = run(capsys, ["plan", "keys.yaml"], env)
    assert code == 0, err
    assert f"Key Vault {vault.url} secret facebook version" in out


def test_a_manifest_naming_a_vault_on_another_host_gets_no_token(emu, env, folder, capsys):
    (folder / "keys.yaml").write_text(SECRET_KEY.replace("vault: kv-dev", "vault: https://attacker.example") % "")
    code, _, err = run(capsys, ["plan", "keys.yaml"], env)
    assert code == 1 and "keys.yaml:7:" in err and "no token is sent to it" in err


def test_the_credential_adapter_gives_a_token_for_the_vault_scope_only():
    asked = []
    credential = _Credential(lambda: asked.append(1) or "token", "https://vault.azure.net/.default")
    assert credential.get_token("https://vault.azure.net/.default").token == "token"
    with pytest.raises(ReconcilerError, match="refused, no token was sent"):
        credential.get_token("https://graph.microsoft.com/.default")
    assert asked == [1]


def test_a_manifest_without_vault_references_never_imports_azure(tmp_path):
    code = ("import sys; from reconciler.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            f"main(['validate', {str(ROOT / 'examples' / 'starter-pack.yaml')!r}])\n"
            "print('AZURE', sorted(m for m in sys.modules if m.startswith('azure')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "AZURE []" in result.stdout, result.stdout + result.stderr


def test_plan_and_drift_read_versions_only_and_apply_reads_the_one_value(emu, env, vault, folder, capsys):
    vault.set_secret("facebook", CANARY)
    path = manifest(folder)
    start = len(emu.requests())
    assert run(capsys, ["plan", path], env)[0] == 0
    assert run(capsys, ["drift", path], env)[0] == 10  # the key set is missing: created by apply
    reads = [r["path"] for r in emu.requests()[start:] if "/vaults/" in r["path"]]
    assert reads and all(p.endswith("/secrets/facebook/versions") for p in reads)
    start = len(emu.requests())
    assert run(capsys, ["apply", path, "--auto-approve"], env)[0] == 0
    values = [r for r in emu.requests()[start:] if "/vaults/" in r["path"] and not r["path"].endswith("/versions")
              and r["status"] == 200]
    assert len(values) == 1 and values[0]["method"] == "GET"


def test_a_missing_vault_is_a_located_error(emu, env, folder, capsys):
    (folder / "keys.yaml").write_text(SECRET_KEY.replace("kv-dev", "kv-nowhere") % "")
    code, _, err = run(capsys, ["plan", "keys.yaml"], env)
    assert code == 1 and "keys.yaml:7:" in err and "there is no Key Vault kv-nowhere" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_vault_certificate_key_uploads_the_certificate_only(emu, env, vault, folder, capsys):
    cert = certificate("saml signing", nbf=int(time.time()) - DAY)
    vault.import_certificate("saml-signing", cert)
    (folder / "saml.yaml").write_text("""version: 1
keySets:
  - name: SamlSigning
    keys:
      - kind: certificate
        file: {keyVault: {vault: kv-dev, certificate: saml-signing}}
""")
    code, out, err = run(capsys, ["apply", "saml.yaml", "--auto-approve"], env)
    assert code == 0, err
    assert [r["path"].rsplit("/", 1)[1] for r in writes(emu)][-1] == "uploadCertificate"
    (live,) = emu.state()["keySets"][0]["keys"]
    assert live["x5t"].rstrip("=") == x5t(cert)


def test_the_vault_session_sends_to_the_vault_s_origin_only(emu):
    from reconciler.graph.keyvault import _OriginSession
    from reconciler.graph.settings import from_environment

    session = _OriginSession(emu.url + "/vaults/kv-dev", from_environment(emu.env))
    start = len(emu.requests())
    with pytest.raises(ReconcilerError, match="only the vault's own origin"):
        session.get("https://127.0.0.1:1/vaults/kv-dev/secrets/x?api-version=7.4")
    host, port = emu.url.rsplit(":", 1)
    with pytest.raises(ReconcilerError):  # the same host on another port is another origin
        session.get(f"{host}:{int(port) + 1}/vaults/kv-dev")
    assert len(emu.requests()) == start
    assert session.get(emu.url + "/vaults/kv-dev/secrets/x?api-version=7.4").status_code == 401
