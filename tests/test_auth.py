"""Every credential kind, the tenant and permission guards, and `doctor`, end to end:
`b2ckeys` in-process against the emulator over HTTPS, through the real msal and
requests (nothing patched). msal's managed identity client reads its endpoint from the
process environment, so those tests set IDENTITY_ENDPOINT / IDENTITY_HEADER there."""

import re
from pathlib import Path

import pytest

from helpers.cli import STARTER, graph_calls, run, writes
from reconciler.core.errors import AuthError
from reconciler.graph.settings import from_environment
from reconciler.graph.transport import Session
from reconciler.signin.auth import Identity, TokenProvider
from reconciler.signin.credentials import Kind
from reconciler.signin.preflight import missing_permission

ROOT = Path(__file__).resolve().parent.parent
READ, WRITE = "TrustFrameworkKeySet.Read.All", "TrustFrameworkKeySet.ReadWrite.All"
FB_SECRET = "CANARY-fb-secret-4e1a"
PASSWORD = "CANARY-pfx-password-51c2"
FOREIGN_GUID = "0badc0de-0000-4000-8000-000000000000"



@pytest.fixture
def base(emu):
    """The emulator's environment with no credential in it."""
    env = {k: v for k, v in emu.env.items() if k != "AZURE_CLIENT_SECRET"}
    env["FACEBOOK_APP_SECRET"] = FB_SECRET
    return env


@pytest.fixture
def signin(emu, base, tmp_path, monkeypatch):
    """kind -> an environment that signs in with that credential kind."""

    def make(kind, **overrides):
        env = dict(base)
        if kind == "secret":
            env["AZURE_CLIENT_SECRET"] = emu.client_secret
        elif kind in ("pem", "pem-encrypted", "pfx", "unregistered"):
            path = str(tmp_path / ("app.pfx" if kind == "pfx" else "app.pem"))
            password = PASSWORD if kind in ("pfx", "pem-encrypted") else None
            emu.write_client_certificate(path, password=password, register=kind != "unregistered")
            env["AZURE_CLIENT_CERTIFICATE_PATH"] = path
            if password:
                env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = password
        elif kind == "federated":
            token_file = tmp_path / "federated-token"
            token_file.write_text(emu.federated_token())
            token_file.chmod(0o600)  # as a pipeline should write it: else a warning
            env["AZURE_FEDERATED_TOKEN_FILE"] = str(token_file)
        elif kind.startswith("managed-identity"):
            for name, value in emu.managed_identity_env.items():
                if name.startswith("IDENTITY_"):
                    monkeypatch.setenv(name, value)
            env["B2CKEYS_AUTH"] = "managed-identity"
            if kind == "managed-identity-system":
                del env["AZURE_CLIENT_ID"], env["AZURE_TENANT_ID"]
        env.update(overrides)
        return env

    return make


KINDS = {
    "secret": Kind.SECRET,
    "pem": Kind.CERTIFICATE,
    "pem-encrypted": Kind.CERTIFICATE,
    "pfx": Kind.CERTIFICATE,
    "federated": Kind.FEDERATED,
    "managed-identity-user": Kind.MANAGED_IDENTITY,
    "managed-identity-system": Kind.MANAGED_IDENTITY,
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_credential_kind_signs_in_and_plans(emu, signin, capsys, kind):
    env = signin(kind)
    code, out, err = run(capsys, ["plan", STARTER], env)
    assert (code, err) == (0, "")
    assert "Plan: 3 key sets to create, 3 keys to add." in out
    assert writes(emu) == []

    provider = TokenProvider(from_environment(env, app_required=KINDS[kind] is not Kind.MANAGED_IDENTITY), env)
    assert provider.kind is KINDS[kind] and provider.claims == {}
    provider.token()
    assert provider.claims["tid"] == emu.tenant_id
    assert provider.claims["appid"] == emu.client_id
    assert provider.claims["appidacr"] == ("1" if kind == "secret" else "2")
    assert provider.identity() == Identity(emu.tenant_id, emu.client_id, (WRITE,))


FAILURES = [
    # (kind, environment overrides, federated token options, what the one line must say)
    ("unregistered", {}, None, "is not registered on app"),
    ("federated", {}, {"lifetime": -3600}, "expired or not yet valid"),
    ("federated", {}, {"subject": "repo:someone-else/keys:ref:refs/heads/main"}, "no federated credential of app"),
    ("pem", {"AZURE_CLIENT_ID": "00000000-0000-4000-8000-000000000001"}, None,
     "no app with AZURE_CLIENT_ID=00000000-0000-4000-8000-000000000001"),
    ("secret", {"AZURE_TENANT_ID": FOREIGN_GUID}, None, f"tenant AZURE_TENANT_ID={FOREIGN_GUID} was not found"),
    ("managed-identity-user", {"AZURE_CLIENT_ID": "00000000-0000-4000-8000-000000000002"}, None,
     "the managed identity was refused"),
]


@pytest.mark.parametrize("kind, overrides, federated, expected", FAILURES,
                         ids=["wrong-certificate", "expired-assertion", "foreign-assertion", "unknown-client",
                              "wrong-tenant", "unknown-managed-identity"])
def test_sign_in_failures_are_one_line_and_touch_no_key_set(emu, signin, capsys, kind, overrides, federated,
                                                            expected):
    env = signin(kind, **overrides)
    if federated:
        Path(env["AZURE_FEDERATED_TOKEN_FILE"]).write_text(emu.federated_token(**federated))
    for command in (["plan", STARTER], ["apply", "--auto-approve", STARTER]):
        code, out, err = run(capsys, command, env)
        assert code == 1
        assert err.count("\n") == 1 and err.startswith("error: sign-in to "), err
        assert expected in err
        assert "Traceback" not in err
    assert graph_calls(emu) == []


def test_federated_token_file_is_read_again_for_each_token(emu, signin):
    env = signin("federated")
    token_file = Path(env["AZURE_FEDERATED_TOKEN_FILE"])
    settings = from_environment(env)
    TokenProvider(settings, env).token()
    token_file.write_text(emu.federated_token("repo:contoso/b2c-keys:pull_request"))
    with pytest.raises(AuthError, match="no federated credential"):
        TokenProvider(settings, env).token()
    emu.config.update({"federated_subject": "repo:contoso/b2c-keys:pull_request"})
    assert TokenProvider(settings, env).token()
    token_requests = [r for r in emu.requests() if r["path"].endswith("/oauth2/v2.0/token")]
    assert [r["status"] for r in token_requests] == [200, 400, 200]


# -- permission guard ------------------------------------------------------------------------


@pytest.mark.parametrize("kind, grant", [("secret", "Grant admin consent"),
                                         ("managed-identity-user", "New-MgServicePrincipalAppRoleAssignment")])
def test_missing_role_stops_plan_before_any_key_set_call(emu, signin, capsys, kind, grant):
    emu.config.update({"roles": []})  # Entra then leaves the roles claim out
    code, out, err = run(capsys, ["plan", STARTER], signin(kind))
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: missing permission: 'b2ckeys plan' needs the Microsoft Graph application "
                          f"permission {READ} (or {WRITE})")
    assert "has roles: none" in err and grant in err and "nothing was read or changed" in err
    assert graph_calls(emu) == []


def test_read_only_role_may_plan_but_apply_is_refused_before_any_call(emu, signin, capsys):
    emu.config.update({"roles": [READ]})
    env = signin("secret")
    code, out, err = run(capsys, ["plan", STARTER], env)
    assert code == 0, err
    before = len(graph_calls(emu))
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], env)
    assert code == 1 and err.count("\n") == 1
    assert f"'b2ckeys apply' needs the Microsoft Graph application permission {WRITE};" in err
    assert f"has roles: {READ}" in err and "Grant admin consent" in err
    assert len(graph_calls(emu)) == before and writes(emu) == []


def test_a_token_without_roles_claim_is_refused_with_the_same_message():
    for roles in (None, ()):
        message = missing_permission(Identity("t", "a", roles), command="plan", write=False, kind=Kind.SECRET)
        assert message.startswith(f"missing permission: 'b2ckeys plan' needs the Microsoft Graph application "
                                  f"permission {READ} (or {WRITE}); the token of app a has roles: none.")
    assert missing_permission(Identity("t", "a", (READ,)), command="apply", write=True, kind=Kind.SECRET)
    assert missing_permission(Identity("t", "a", (WRITE,)), command="apply", write=True, kind=Kind.SECRET) is None


# -- tenant guard ----------------------------------------------------------------------------


def manifest(tmp_path, tenant):
    path = tmp_path / "tenant.yaml"
    path.write_text(f"version: 1\ntenant: {tenant}\nkeySets:\n"
                    "  - name: Guarded\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n")
    return str(path)


@pytest.mark.parametrize("form", ["domain", "guid"])
def test_tenant_guard_lets_the_signed_in_tenant_through(emu, signin, capsys, tmp_path, form):
    tenant = emu.tenant_domain.upper() if form == "domain" else emu.tenant_id.upper()
    code, out, err = run(capsys, ["apply", "--auto-approve", manifest(tmp_path, tenant)], signin("secret"))
    assert code == 0, err
    assert [ks["id"] for ks in emu.state()["keySets"]] == ["B2C_1A_Guarded"]


@pytest.mark.parametrize("tenant, expected", [
    (FOREIGN_GUID, f"wrong tenant: the manifests are for tenant {FOREIGN_GUID}, but b2ckeys is signed in to tenant "),
    ("fabrikam.onmicrosoft.com", "wrong tenant: the manifests are for tenant fabrikam.onmicrosoft.com, which "),
])
def test_tenant_guard_stops_plan_and_apply_for_another_tenant(emu, signin, capsys, tmp_path, tenant, expected):
    path = manifest(tmp_path, tenant)
    for command in (["plan", path], ["apply", "--auto-approve", path]):
        code, out, err = run(capsys, command, signin("secret"))
        assert code == 1 and err.count("\n") == 1
        assert err.startswith("error: " + expected) and emu.tenant_id in err
        assert err.rstrip().endswith("nothing was read or changed")
    assert graph_calls(emu) == []


# -- doctor ----------------------------------------------------------------------------------


def lines(text):
    return dict(re.match(r"([^:]+):\s+(.*)", line).groups() for line in text.splitlines() if ": " in line)


def test_doctor_shows_who_we_are_and_counts_key_sets(emu, signin, capsys):
    headers = {"Authorization": f"Bearer {emu.make_token()}"}
    Session(verify=emu.ca_path).post(emu.url + "/beta/trustFramework/keySets", json={"id": "One"},
                                     headers=headers).raise_for_status()
    code, out, err = run(capsys, ["doctor"], signin("secret"))
    assert (code, err) == (0, "")
    shown = lines(out)
    assert shown == {"cloud": "global", "login host": emu.url, "Graph": emu.url,
                     "credential": "client secret (AZURE_CLIENT_SECRET)",
                     "tenant": emu.tenant_id,
                     "client id": emu.client_id, "roles": WRITE, "key sets": "1 (Graph reachable)"}
    assert out.rstrip().endswith("All good.")


def test_doctor_names_a_missing_role_and_exits_1(emu, signin, capsys):
    emu.config.update({"roles": []})
    code, out, err = run(capsys, ["doctor"], signin("federated"))
    assert code == 1
    assert lines(out)["roles"] == "none"
    assert lines(out)["credential"].startswith("federated token (AZURE_FEDERATED_TOKEN_FILE=")
    assert err.count("\n") == 1 and err.startswith("error: missing permission: 'b2ckeys plan' needs")
    assert graph_calls(emu) == []


def test_doctor_reports_a_failed_sign_in_as_one_problem(emu, signin, capsys):
    code, out, err = run(capsys, ["doctor"], signin("secret", AZURE_CLIENT_SECRET="CANARY-wrong-secret"))
    assert code == 1 and "cloud:" in out and "All good." not in out
    assert err.count("\n") == 1 and err.startswith("error: sign-in to ")
    assert "CANARY-wrong-secret" not in out + err


# -- nothing secret in any output --------------------------------------------------------------


def test_no_secret_password_key_or_token_in_any_output(emu, signin, capsys, tmp_path, monkeypatch):
    outputs, hidden = [], {PASSWORD, FB_SECRET, emu.client_secret, emu.identity_header}

    def runs(env, *commands):
        for command in commands:
            outputs.append("".join(run(capsys, command, env)[1:]))

    for kind in ("pem-encrypted", "pfx", "federated", "managed-identity-user", "secret"):
        env = signin(kind)
        runs(env, ["plan", STARTER], ["doctor"])
        if kind == "pem-encrypted":
            key_pem = Path(env["AZURE_CLIENT_CERTIFICATE_PATH"]).read_text().split("-----END CERTIFICATE-----")[1]
            hidden.update(line for line in key_pem.splitlines() if len(line) > 20 and "-----" not in line)
        if kind == "federated":
            hidden.add(Path(env["AZURE_FEDERATED_TOKEN_FILE"]).read_text())
    runs(signin("pfx", AZURE_CLIENT_CERTIFICATE_PASSWORD="CANARY-wrong-password"), ["plan", STARTER])
    runs(signin("secret", AZURE_CLIENT_SECRET="CANARY-wrong-secret"), ["plan", STARTER], ["doctor"])
    env = signin("managed-identity-user")
    monkeypatch.setenv("IDENTITY_HEADER", "CANARY-wrong-identity-header")
    runs(env, ["plan", STARTER], ["doctor"])
    everything = "\n".join(outputs)
    assert "Plan: 3 key sets to create" in everything and "error: sign-in to managed identity" in everything
    hidden |= {"CANARY-wrong-password", "CANARY-wrong-secret", "CANARY-wrong-identity-header"}
    assert len(hidden) > 20  # the key's base64 lines are in it
    assert not [value for value in hidden if value in everything]
    assert "eyJ" not in everything and "PRIVATE KEY" not in everything


# -- credentials with apply's workers -------------------------


def sign_ins(emu):
    return [r for r in emu.requests() if r["path"].endswith(("/oauth2/v2.0/token", "/msi/token"))]


@pytest.mark.parametrize("kind", ["secret", "pem", "federated", "managed-identity-user"])
def test_threads_sharing_a_provider_sign_in_once(emu, signin, kind):
    import threading

    env = signin(kind)
    provider = TokenProvider(from_environment(env), env)
    start, tokens = threading.Barrier(8), []

    def worker():
        start.wait()
        tokens.append(provider.token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert [r["status"] for r in sign_ins(emu)] == [200]


@pytest.mark.parametrize("kind", ["pem", "federated", "managed-identity-user"])
def test_parallel_apply_with_each_credential_kind_survives_faults_and_throttling(emu, signin, capsys, kind):
    emu.config.update({"throttle": {"app_per_minute": 4, "tenant_per_minute": 45, "time_scale": 60}})
    emu.faults.add({"method": "POST", "path": "*/generateKey", "status": 503, "times": 2})
    env = signin(kind, B2CKEYS_MAX_RPM="0", B2CKEYS_TIME_SCALE="60")
    code, out, err = run(capsys, ["apply", "--auto-approve", "--parallelism", "6", STARTER], env)
    assert (code, err) == (0, ""), err
    assert emu.stats()["faults"] == {"status": 2} and emu.stats()["throttled"] > 0
    assert len(emu.state()["keySets"]) == 3
    assert [r["status"] for r in sign_ins(emu)] == [200]


def test_parallel_apply_is_refused_by_the_permission_guard_before_any_key_set_call(emu, signin, capsys):
    emu.config.update({"roles": [READ]})
    code, out, err = run(capsys, ["apply", "--auto-approve", "--parallelism", "8", STARTER], signin("pem"))
    assert code == 1 and err.count("\n") == 1
    assert f"'b2ckeys apply' needs the Microsoft Graph application permission {WRITE};" in err
    assert graph_calls(emu) == []
