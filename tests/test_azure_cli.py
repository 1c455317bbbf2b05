"""The Azure CLI credential (`B2CKEYS_AUTH=azure-cli`), end to end: `b2ckeys` runs a stand-in
`az`, an executable Python script first on PATH that answers `az account get-access-token
--resource R [--tenant T] --output json` as az does, with a token it gets from the emulator's
token endpoint with the emulator app's client credentials (or a token the test made, or a
failure). The commands run with no credential variable but B2CKEYS_AUTH: the stand-in's
settings are in a file beside it, as az keeps its account in ~/.azure."""

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import STARTER, graph_calls, run, writes
from reconciler.core.errors import AuthError, ConfigError
from reconciler.graph.settings import from_environment
from reconciler.signin.auth import Identity
from reconciler.signin.azurecli import REFRESH_SECONDS, AzureCliTokens, find_az
from reconciler.signin.credentials import Kind
from reconciler.signin.preflight import missing_permission

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in az is a script with a #! line")
READ, WRITE = "TrustFrameworkKeySet.Read.All", "TrustFrameworkKeySet.ReadWrite.All"
FOREIGN_GUID = "0badc0de-0000-4000-8000-000000000000"
AZ_CLI_APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's own app id
STDOUT_CANARY = "CANARY-az-stdout-7d31"

STAND_IN = r'''#!{python}
"""A stand-in for `az account get-access-token`: settings in az.json beside it, each call
appended to calls.txt."""
import datetime, json, os, ssl, sys, time, urllib.error, urllib.parse, urllib.request

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "az.json")) as f:
    conf = json.load(f)
with open(os.path.join(here, "calls.txt"), "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args[:2] != ["account", "get-access-token"] or "--output" not in args:
    sys.exit("ERROR: the stand-in answers only 'az account get-access-token ... --output json'")
options = dict(zip(args[2::2], args[3::2]))
mode = conf.get("mode", "emulator")
if mode == "fail":
    sys.stderr.write(conf["stderr"])
    sys.exit(conf.get("code", 1))
if mode == "garbage":
    print(conf.get("stdout", "not json"))
    sys.exit(0)
if mode == "hang":
    time.sleep(120)
tenant = options.get("--tenant", conf["tenant"])
if mode == "token":
    token = conf["token"]
else:
    form = urllib.parse.urlencode({{"grant_type": "client_credentials", "client_id": conf["client_id"],
                                    "client_secret": conf["client_secret"],
                                    "scope": options["--resource"].rstrip("/") + "/.default"}}).encode()
    context = ssl.create_default_context(cafile=conf["ca"])
    try:
        with urllib.request.urlopen(f"{{conf['authority']}}/{{tenant}}/oauth2/v2.0/token", form, timeout=30,
                                    context=context) as answer:
            token = json.load(answer)["access_token"]
    except urllib.error.HTTPError as e:
        sys.stderr.write("ERROR: " + json.load(e)["error_description"] + "\n")
        sys.exit(1)
expires = int(time.time()) + conf.get("lifetime", 3599)
out = {{"accessToken": token,
        "expiresOn": datetime.datetime.fromtimestamp(expires).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "subscription": "11111111-2222-4333-8444-555555555555", "tenant": tenant, "tokenType": "Bearer"}}
if not conf.get("old"):
    out["expires_on"] = expires
print(json.dumps(out, indent=2))
'''


class StandIn:
    """The stand-in `az` in its own folder; `configure(...)` changes what it does next."""

    def __init__(self, folder: Path, emu):
        self.folder = folder
        folder.mkdir()
        script = folder / "az"
        script.write_text(STAND_IN.format(python=sys.executable))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        self.path = str(script)
        self.base = {"client_id": emu.client_id, "client_secret": emu.client_secret, "authority": emu.url,
                     "ca": emu.ca_path, "tenant": emu.tenant_id}
        self.configure()

    def configure(self, **settings):
        (self.folder / "az.json").write_text(json.dumps({**self.base, **settings}))

    def calls(self) -> list[str]:
        calls = self.folder / "calls.txt"
        return calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def az(emu, tmp_path):
    return StandIn(tmp_path / "bin", emu)


@pytest.fixture
def cli_env(emu, az):
    """No credential variable: B2CKEYS_AUTH, the Graph root, the CA bundle and the tenant only,
    and PATH with the stand-in first (and nothing else: no real az can answer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    env.update({"B2CKEYS_AUTH": "azure-cli", "B2CKEYS_GRAPH_URL": emu.url, "B2CKEYS_CA_BUNDLE": emu.ca_path,
                "AZURE_TENANT_ID": emu.tenant_id, "PATH": str(az.folder), "FACEBOOK_APP_SECRET": "CANARY-fb-4c2e"})
    return env


def test_plan_apply_doctor_sign_in_through_az(emu, az, cli_env, capsys):
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert (code, err) == (0, "")
    assert "Plan: 3 key sets to create, 3 keys to add." in out
    assert az.calls() == [f"account get-access-token --resource {emu.url} --tenant {emu.tenant_id} --output json"]

    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], cli_env)
    assert (code, err) == (0, "")
    assert len(emu.state()["keySets"]) == 3
    assert len(az.calls()) == 2  # one per run; the apply's many requests reuse its token

    code, out, err = run(capsys, ["doctor"], cli_env)
    assert (code, err) == (0, "")
    shown = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert shown["credential"].strip() == (f"Azure CLI (the account az is signed in as; {az.path}, "
                                           "B2CKEYS_AUTH=azure-cli)")
    assert shown["signed in"].strip() == f"app {emu.client_id} (a service principal)"
    assert shown["tenant"].strip() == emu.tenant_id and shown["roles"].strip() == WRITE
    assert out.rstrip().endswith("All good.")


def test_without_azure_tenant_id_az_is_asked_for_its_own_tenant(emu, az, cli_env, capsys):
    del cli_env["AZURE_TENANT_ID"]
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert (code, err) == (0, "")
    assert az.calls() == [f"account get-access-token --resource {emu.url} --output json"]


@pytest.mark.parametrize("cloud, resource", [("usgov", "https://graph.microsoft.us"),
                                             ("dod", "https://dod-graph.microsoft.us"),
                                             ("china", "https://microsoftgraph.chinacloudapi.cn"),
                                             ("global", "https://graph.microsoft.com")])
def test_the_resource_is_the_clouds_graph(az, cli_env, cloud, resource):
    del cli_env["B2CKEYS_GRAPH_URL"]
    cli_env["B2CKEYS_CLOUD"] = cloud
    tokens = AzureCliTokens(az.path, cli_env, resource=from_environment(cli_env, app_required=False).graph_url)
    assert tokens.command[1:] == ["account", "get-access-token", "--resource", resource, "--output", "json"]


def test_a_token_is_reused_until_shortly_before_it_expires(emu, az, cli_env):
    now = [time.time()]
    tokens = AzureCliTokens(az.path, cli_env, resource=emu.url, tenant=emu.tenant_id, clock=lambda: now[0])
    first = tokens.token()
    now[0] += 3599 - REFRESH_SECONDS - 30  # still well before its expiry
    assert tokens.token() == first and len(az.calls()) == 1
    now[0] += 60  # now within REFRESH_SECONDS of it
    second = tokens.token()
    assert second != first and len(az.calls()) == 2
    now[0] = time.time()  # the second token is fresh again
    assert tokens.token() == second and len(az.calls()) == 2


def test_a_token_about_to_expire_is_renewed_during_a_run(emu, az, cli_env, capsys):
    az.configure(lifetime=REFRESH_SECONDS - 60)  # valid, but inside the renewal margin from the start
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], cli_env)
    assert (code, err) == (0, "")
    assert len(az.calls()) > 3  # asked again before each request


def test_the_local_time_expires_on_of_older_az_is_read(emu, az, cli_env):
    az.configure(old=True)
    tokens = AzureCliTokens(az.path, cli_env, resource=emu.url)
    tokens.token()
    assert abs(tokens._expires_on - (time.time() + 3599)) < 30


def test_az_missing_is_one_line(emu, cli_env, capsys, tmp_path):
    cli_env["PATH"] = str(tmp_path)
    for command in (["plan", STARTER], ["doctor"]):
        code, out, err = run(capsys, command, cli_env)
        assert code == 1 and err.count("\n") == 1, err
        assert "B2CKEYS_AUTH=azure-cli: az is not installed: the Azure CLI was not found on PATH" in err
    assert graph_calls(emu) == []


def test_az_failing_shows_its_stderr_escaped_with_a_hint(emu, az, cli_env, capsys):
    token = emu.make_token()
    az.configure(mode="fail", stderr=f"ERROR: Please run 'az login' to setup account.\x1b[31m\n"
                                     f"\"accessToken\": \"{token}\"\n", code=1)
    for command in (["plan", STARTER], ["doctor"]):
        code, out, err = run(capsys, ["--debug", *command], cli_env)
        assert code == 1
        line = [e for e in err.splitlines() if e.startswith("error:")]
        assert len(line) == 1, err
        assert line[0].startswith(f"error: az account get-access-token --resource {emu.url} --tenant "
                                  f"{emu.tenant_id} --output json failed (exit 1): run az login --tenant "
                                  f"{emu.tenant_id} (in a pipeline: azure/login or an AzureCLI@2 task")
        assert "az said: ERROR: Please run 'az login' to setup account.\\x1b[31m" in line[0]
        assert "\x1b" not in err and token not in err + out and token.split(".")[2] not in err + out
    assert graph_calls(emu) == []


@pytest.mark.parametrize("stdout", [f"{STDOUT_CANARY} is not json", json.dumps({"accessToken": STDOUT_CANARY}),
                                    json.dumps({"accessToken": "", "expires_on": 1}), "[]",
                                    STDOUT_CANARY * 200_000],  # 4 MB: read and dropped past the limit
                         ids=["text", "no-expiry", "empty-token", "list", "huge"])
def test_az_printing_garbage_is_one_line_that_does_not_show_it(emu, az, cli_env, capsys, stdout):
    az.configure(mode="garbage", stdout=stdout)
    code, out, err = run(capsys, ["--debug", "plan", STARTER], cli_env)
    assert code == 1 and STDOUT_CANARY not in out + err
    assert [e for e in err.splitlines() if e.startswith("error:")] == [
        f"error: az account get-access-token --resource {emu.url} --tenant {emu.tenant_id} --output json: az "
        "printed something that is not the answer of 'az account get-access-token' (an access token and when "
        "it expires), not shown as it may hold a token; check 'az version' and what az prints"]


def test_az_hanging_is_stopped_at_the_timeout(emu, az, cli_env, capsys):
    az.configure(mode="hang")
    cli_env["B2CKEYS_AZ_TIMEOUT"] = "1"
    started = time.monotonic()
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert time.monotonic() - started < 30
    assert code == 1 and err.count("\n") == 1
    assert "az did not answer within 1 s and was stopped" in err and "B2CKEYS_AZ_TIMEOUT" in err


def test_a_bad_timeout_is_a_config_error(az, cli_env):
    with pytest.raises(ConfigError, match="B2CKEYS_AZ_TIMEOUT='soon' must be a number of seconds"):
        AzureCliTokens(az.path, {**cli_env, "B2CKEYS_AZ_TIMEOUT": "soon"}, resource="https://graph.microsoft.com")


def test_a_tenant_or_resource_that_az_or_cmd_could_misread_is_refused(az, cli_env):
    with pytest.raises(ConfigError, match="is not a tenant id or domain"):
        AzureCliTokens(az.path, cli_env, resource="https://graph.microsoft.com", tenant="--help")
    with pytest.raises(ConfigError, match="cannot be passed to az as --resource"):
        AzureCliTokens(az.path, cli_env, resource="https://graph.microsoft.com/&calc.exe")


def test_az_token_of_another_tenant_is_refused_by_the_guard(emu, az, cli_env, capsys, tmp_path):
    az.configure(mode="token", token=emu.make_token(tid=FOREIGN_GUID))
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"error: wrong tenant: AZURE_TENANT_ID={emu.tenant_id}, but the Azure CLI's token is "
                          f"for tenant {FOREIGN_GUID}; run az login --tenant {emu.tenant_id}")
    code, out, err = run(capsys, ["doctor"], cli_env)
    assert code == 1 and f"tenant:      {FOREIGN_GUID} (AZURE_TENANT_ID={emu.tenant_id})\n" in out
    assert err.startswith(f"error: wrong tenant: AZURE_TENANT_ID={emu.tenant_id}, but the Azure CLI's token")
    assert graph_calls(emu) == []

    az.configure()  # a token of the emulator's tenant, for manifests of another one
    path = tmp_path / "tenant.yaml"
    path.write_text(f"version: 1\ntenant: {FOREIGN_GUID}\nkeySets:\n"
                    "  - name: Guarded\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n")
    code, out, err = run(capsys, ["apply", "--auto-approve", str(path)], cli_env)
    assert code == 1 and err.startswith(f"error: wrong tenant: the manifests are for tenant {FOREIGN_GUID}")
    assert writes(emu) == []


def user_token(emu, scp):
    emu.config.update({"roles": []})  # a user's token has no roles claim
    return emu.make_token(scp=scp, idtyp="user", upn="alex@contoso.example", appid=AZ_CLI_APP, azp=AZ_CLI_APP)


def test_a_users_delegated_scope_passes_the_permission_guard(emu, az, cli_env, capsys):
    az.configure(mode="token", token=user_token(emu, f"openid profile {WRITE} User.Read"))
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], cli_env)
    assert (code, err) == (0, "")
    assert len(emu.state()["keySets"]) == 3
    code, out, err = run(capsys, ["doctor"], cli_env)
    assert code == 0, err
    assert "signed in:   user alex@contoso.example\n" in out
    assert f"scopes:      openid, profile, {WRITE}, User.Read (delegated, of a user)\n" in out


def test_a_users_token_without_the_scope_is_refused_before_any_call(emu, az, cli_env, capsys):
    az.configure(mode="token", token=user_token(emu, "Directory.AccessAsUser.All User.Read"))
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"error: missing permission: 'b2ckeys plan' needs the Microsoft Graph permission "
                          f"{READ} (or {WRITE}); the Azure CLI's token for user alex@contoso.example has "
                          "delegated scopes: Directory.AccessAsUser.All, User.Read. To fix, sign az in as the "
                          "pipeline's app (az login --service-principal")
    assert graph_calls(emu) == []
    read_only = Identity("t", AZ_CLI_APP, None, (READ,), "alex@contoso.example")
    assert missing_permission(read_only, command="plan", write=False, kind=Kind.AZURE_CLI) is None
    assert "needs the Microsoft Graph permission " + WRITE in missing_permission(
        read_only, command="apply", write=True, kind=Kind.AZURE_CLI)


def test_the_token_never_shows_in_any_output(emu, az, cli_env, capsys, tmp_path):
    token = emu.make_token()
    az.configure(mode="token", token=token)
    plan_file = tmp_path / "saved.plan"
    outputs = []
    for command in (["--debug", "plan", "--out", str(plan_file), STARTER], ["--debug", "apply", "--auto-approve",
                                                                            STARTER], ["--debug", "doctor"]):
        code, out, err = run(capsys, command, cli_env)
        assert code == 0, err
        outputs.append(out + err)
    outputs.append(plan_file.read_text())
    assert "debug: b2ckeys.http: -> GET" in outputs[0]  # the debug log ran
    assert f"debug: b2ckeys.signin: running az account get-access-token --resource {emu.url}" in outputs[0]
    assert "debug: b2ckeys.signin: az answered: exit 0, " in outputs[0]
    for text in outputs:
        for part in (token, *token.split(".")[1:]):
            assert part not in text


# -- found without asking --------------------------------------------------------------------


def test_with_no_credential_variable_az_on_path_is_used_and_said_once(emu, az, cli_env, capsys):
    del cli_env["B2CKEYS_AUTH"]
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], cli_env)
    assert code == 0
    assert err == (f"warning: no credential variable is set: signing in as the account of the Azure CLI "
                   f"({az.path}); set B2CKEYS_AUTH=azure-cli to choose it explicitly, or another credential "
                   "(docs/signing-in.md)\n")
    code, out, err = run(capsys, ["doctor"], cli_env)
    assert code == 0 and err.count("\n") == 1 and "no credential variable is set" in err
    assert "no credential variable is set)\n" in out  # the credential line


def test_with_no_credential_and_no_az_the_message_names_both(emu, cli_env, capsys, tmp_path):
    del cli_env["B2CKEYS_AUTH"]
    cli_env["PATH"] = str(tmp_path)
    assert find_az(cli_env) is None
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1 and err.count("\n") == 1
    assert "B2CKEYS_AUTH=azure-cli (the Azure CLI is not on PATH" in err


def test_azure_cli_with_another_credential_is_refused(emu, cli_env, capsys):
    cli_env["AZURE_CLIENT_SECRET"] = emu.client_secret
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1
    assert err == ("error: B2CKEYS_AUTH=azure-cli and AZURE_CLIENT_SECRET are both set: unset one of them "
                   "(the Azure CLI needs no other credential)\n")


def test_az_token_endpoint_refusal_is_shown(emu, az, cli_env, capsys):
    cli_env["AZURE_TENANT_ID"] = FOREIGN_GUID  # the stand-in asks the emulator for a tenant it does not know
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1 and err.count("\n") == 1
    assert "failed (exit 1)" in err and "AADSTS90002" in err
    with pytest.raises(AuthError):
        AzureCliTokens(az.path, cli_env, resource=emu.url, tenant=FOREIGN_GUID).token()



def test_the_runs_deadline_bounds_az(emu, az, cli_env, capsys):
    az.configure(mode="hang")
    cli_env["B2CKEYS_DEADLINE"] = "1"
    code, out, err = run(capsys, ["plan", STARTER], cli_env)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: the run's deadline passed (B2CKEYS_DEADLINE=1 s) while waiting for the answer "
                          f"to az account get-access-token --resource {emu.url}")


def test_an_environment_without_path_finds_no_az(az):
    assert find_az({}) is None and find_az({"PATH": ""}) is None
    assert find_az({"PATH": os.pathsep.join(["/nonexistent", str(az.folder)])}) == az.path


def test_a_key_vault_reference_asks_az_for_the_vault_resource(emu, az, cli_env, capsys, tmp_path, monkeypatch):
    emu.add_vault("kv-dev")
    cli_env["B2CKEYS_KEYVAULT_URL"] = emu.url + "/vaults/{name}"
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text("version: 1\nkeySets:\n  - name: Fb\n    keys:\n      - kind: secret\n"
                                        "        use: sig\n        value: {keyVault: {vault: kv-dev, secret: fb}}\n")
    code, _, err = run(capsys, ["plan", "keys.yaml"], cli_env)
    assert code == 1 and "keys.yaml:7:" in err and "has no secret fb" in err  # signed in to the vault: it answered
    assert az.calls() == [f"account get-access-token --resource {emu.url} --tenant {emu.tenant_id} --output json",
                          f"account get-access-token --resource https://vault.azure.net --tenant {emu.tenant_id} "
                          "--output json"]
