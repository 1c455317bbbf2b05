"""Sign-in talks to the authority's origin only: a discovery document (or anything else)
naming another origin gets a refusal naming both, before any credential leaves. End to end
against the emulator, with a second HTTPS listener that records whatever reaches it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers.cli import STARTER, graph_calls, run
from helpers.origins import discovery_naming, recording_origin
from reconciler.core.errors import AuthError
from reconciler.signin.loginsession import LoginSession

FB_SECRET = "CANARY-fb-secret-0r1g"


def private(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def signin(emu, tmp_path):
    """kind -> an environment that signs in with that credential kind."""

    def make(kind: str) -> dict[str, str]:
        env = {k: v for k, v in emu.env.items() if k != "AZURE_CLIENT_SECRET"}
        env["FACEBOOK_APP_SECRET"] = FB_SECRET
        if kind == "secret":
            env["AZURE_CLIENT_SECRET"] = emu.client_secret
        elif kind == "certificate":
            path = str(tmp_path / "app.pem")
            emu.write_client_certificate(path)
            env["AZURE_CLIENT_CERTIFICATE_PATH"] = path
        else:
            env["AZURE_FEDERATED_TOKEN_FILE"] = private(tmp_path / "token", emu.federated_token())
        return env

    return make


def held(env: dict[str, str]) -> list[bytes]:
    """What must never reach another origin: the secret, the key's lines, the token."""
    if "AZURE_CLIENT_SECRET" in env:
        return [env["AZURE_CLIENT_SECRET"].encode()]
    if "AZURE_FEDERATED_TOKEN_FILE" in env:
        return [Path(env["AZURE_FEDERATED_TOKEN_FILE"]).read_bytes()]
    key = Path(env["AZURE_CLIENT_CERTIFICATE_PATH"]).read_bytes().split(b"-----END CERTIFICATE-----")[1]
    return [line for line in key.splitlines() if len(line) > 40]


def refused(err: str, authority: str, other: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: sign-in to {authority}/") and " refused: " in err, err
    assert f"names {other} for the token request" in err
    assert f"not the authority's origin {authority}" in err
    assert "nothing was sent there" in err


@pytest.mark.parametrize("command", ["doctor", "plan"])
@pytest.mark.parametrize("kind", ["secret", "certificate", "federated"])
def test_a_token_endpoint_on_another_origin_gets_no_credential(emu, signin, capsys, kind, command):
    env = signin(kind)
    argv = ["doctor"] if command == "doctor" else ["plan", STARTER]
    with recording_origin(emu) as (other, seen), \
            discovery_naming(emu, token_endpoint=f"{other}/{emu.tenant_id}/oauth2/v2.0/token"):
        code, out, err = run(capsys, argv, env)
    assert seen == []  # not the secret, not the assertion, not even a connection's request
    assert code == 1
    refused(err, emu.url, other)
    assert graph_calls(emu) == []
    assert not [value for value in held(env) if value.decode() in out + err]


def test_another_host_on_the_same_port_is_another_origin(emu, signin, capsys):
    """`localhost` is the emulator itself here, under another name: still refused."""
    hosts = []

    def record(ctx):
        hosts.append(ctx.request.header("Host"))

    other = emu.url.replace("127.0.0.1", "localhost")
    with discovery_naming(emu, token_endpoint=f"{other}/{emu.tenant_id}/oauth2/v2.0/token"):
        emu.pipeline.before_request.insert(0, record)
        code, out, err = run(capsys, ["plan", STARTER], signin("secret"))
    assert code == 1
    refused(err, emu.url, other)
    assert [h for h in hosts if not h.startswith("127.0.0.1:")] == []
    assert [r["path"] for r in emu.requests() if r["method"] == "POST"] == []


def test_a_refused_sign_in_is_one_line_for_a_shell_user(emu, signin):
    """As run from a shell: exit 1, one line on stderr, no traceback logged by a library."""
    env = {**os.environ, **signin("secret")}
    with recording_origin(emu) as (other, seen), \
            discovery_naming(emu, token_endpoint=f"{other}/{emu.tenant_id}/oauth2/v2.0/token"):
        result = subprocess.run([sys.executable, "-m", "reconciler", "plan", STARTER], env=env,
                                capture_output=True, text=True, timeout=60)
    assert seen == []
    assert result.returncode == 1
    refused(result.stderr, emu.url, other)


def test_endpoints_msal_does_not_use_for_an_app_may_be_elsewhere(emu, signin, capsys):
    """Entra's own document names Graph for `userinfo_endpoint`; an app's sign-in posts to
    the token endpoint only, so the rest is no reason to refuse."""
    with recording_origin(emu) as (other, seen), discovery_naming(
            emu, authorization_endpoint=f"{other}/authorize", device_authorization_endpoint=f"{other}/device",
            userinfo_endpoint=f"{other}/oidc/userinfo", end_session_endpoint=f"{other}/logout"):
        code, out, err = run(capsys, ["plan", STARTER], signin("secret"))
    assert (code, err) == (0, "")
    assert seen == []


def test_msal_force_region_does_not_send_sign_in_to_a_regional_host(emu, signin, capsys, monkeypatch):
    """msal would sign in at `<region>.<authority host>` when MSAL_FORCE_REGION is set;
    b2ckeys signs in where AZURE_AUTHORITY_HOST says, whatever msal's variables say."""
    monkeypatch.setenv("MSAL_FORCE_REGION", "westus2")
    code, out, err = run(capsys, ["plan", STARTER], signin("secret"))
    assert (code, err) == (0, ""), err
    assert [r["status"] for r in emu.requests() if r["path"].endswith("/oauth2/v2.0/token")] == [200]


# -- origins compare normalised ----------------------------------------------------------------


class _Recording(requests.adapters.HTTPAdapter):
    """Records what the session would send, and sends nothing."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        raise requests.ConnectionError("recorded, not sent")


@pytest.mark.parametrize("url", [
    "https://login.microsoftonline.com/t/oauth2/v2.0/token",
    "https://LOGIN.MicrosoftOnline.com/t/oauth2/v2.0/token",
    "HTTPS://login.microsoftonline.com:443/t/v2.0/.well-known/openid-configuration",
])
def test_the_same_origin_written_otherwise_is_let_through(url):
    session, recorder = LoginSession("https://login.microsoftonline.com/t"), _Recording()
    session.mount("https://", recorder)
    with pytest.raises(requests.ConnectionError):
        session.post(url, data={"client_secret": "CANARY"})
    assert len(recorder.urls) == 1


@pytest.mark.parametrize("url, shown", [
    ("https://login.microsoftonline.com:8443/t/token", "https://login.microsoftonline.com:8443"),
    ("http://login.microsoftonline.com/t/token", "http://login.microsoftonline.com"),
    ("https://login.microsoftonline.com.evil.example/t/token", "https://login.microsoftonline.com.evil.example"),
    ("https://evil.example@login.microsoftonline.com/t/token", "https://[user info]@login.microsoftonline.com"),
    ("https://westus2.login.microsoft.com/t/token", "https://westus2.login.microsoft.com"),
    ("https://login.microsoftonline.com\x1b\u202e.evil/t", r"https://login.microsoftonline.com\x1b\u202e.evil"),
])
def test_any_other_origin_is_refused_before_a_byte_is_sent(url, shown):
    session, recorder = LoginSession("https://login.microsoftonline.com/t"), _Recording()
    for scheme in ("https://", "http://"):
        session.mount(scheme, recorder)
    for method in ("GET", "POST"):
        with pytest.raises(AuthError) as caught:
            session.request(method, url, data={"client_secret": "CANARY"})
        message = str(caught.value)
        assert f"names {shown} for " in message and "https://login.microsoftonline.com" in message
        assert "\n" not in message and "\x1b" not in message and "CANARY" not in message
    assert recorder.urls == []
