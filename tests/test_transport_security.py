"""Transport: TLS verification never off, plain http only to loopback, no
redirect followed (so neither the token nor the client secret reaches another host), the token
only to Graph's own origin, a timeout on every request."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest
import requests

from reconciler.cli.main import main
from reconciler.core import errors
from reconciler.emulator import Response
from reconciler.graph.client import GraphClient
from reconciler.graph.retry import RetryPolicy
from reconciler.graph.settings import check_url
from reconciler.graph.transport import DEFAULT_TIMEOUT, Session

MANIFEST = ("version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n"
            "        value: {env: KEY_SECRET}\n")
CANARY = "CANARY-transport-5c7e"


@contextmanager
def other_host() -> Iterator[tuple[str, list[dict]]]:
    """A plain loopback HTTP server that records every request it gets, and answers 200."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                         "body": self.rfile.read(length) if length else b""})
            payload = b'{"value": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def hook(emu, answer: Callable) -> Iterator[None]:
    emu.pipeline.before_request.append(answer)
    try:
        yield
    finally:
        emu.pipeline.clear()


@pytest.fixture
def env(emu, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    return dict(emu.env, KEY_SECRET=CANARY), str(manifest)


def run(capsys, argv, environ) -> tuple[int, str]:
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


# -- TLS ----------------------------------------------------------------------------------------

def test_tls_verification_cannot_be_turned_off():
    for verify in (False, None):
        with pytest.raises(ValueError, match="TLS verification cannot be turned off"):
            Session(verify=verify)
    with pytest.raises(ValueError, match="TLS verification cannot be turned off"):
        Session().get("https://127.0.0.1:1/", verify=False)


def test_no_environment_variable_turns_tls_verification_off(emu, env, capsys, monkeypatch):
    """Without B2CKEYS_CA_BUNDLE the emulator's certificate is not trusted, whatever the
    environment says to requests, urllib3 or Python."""
    environ, manifest = env
    for name, value in (("CURL_CA_BUNDLE", ""), ("REQUESTS_CA_BUNDLE", ""), ("PYTHONHTTPSVERIFY", "0"),
                        ("SSL_CERT_FILE", ""), ("B2CKEYS_INSECURE", "1"), ("B2CKEYS_VERIFY", "false")):
        monkeypatch.setenv(name, value)
        environ[name] = value
    del environ["B2CKEYS_CA_BUNDLE"]
    code, output = run(capsys, ["plan", manifest], environ)
    assert code == 1 and "B2CKEYS_CA_BUNDLE" in output
    assert emu.requests() == []  # not one request got past the TLS handshake


# -- plain http ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["AZURE_AUTHORITY_HOST", "B2CKEYS_GRAPH_URL"])
@pytest.mark.parametrize("url, reason", [
    ("http://login.example.com", "plain http is refused except on loopback"),
    ("http://localhost.example.com", "plain http is refused except on loopback"),
    ("http://127.0.0.1.nip.io", "plain http is refused except on loopback"),
    ("http://10.0.0.1", "plain http is refused except on loopback"),
    ("ftp://127.0.0.1", "not an https URL"),
    ("file:///etc/passwd", "not an https URL"),
])
def test_plain_http_off_loopback_is_refused_for_login_and_graph(emu, env, capsys, variable, url, reason):
    environ, manifest = env
    environ[variable] = url
    code, output = run(capsys, ["plan", manifest], environ)
    assert code == 1 and f"error: {variable}={url}: {reason}" in output
    assert emu.requests() == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.5.6.7", "http://localhost:1", "http://[::1]:2"])
def test_plain_http_to_loopback_is_allowed(url):
    check_url(url, "AZURE_AUTHORITY_HOST")


# -- redirects ----------------------------------------------------------------------------------

def redirect_to(target: str, status: int, method: str, path_end: str):
    def answer(ctx):
        request = ctx.request
        if request.method == method and request.path.endswith(path_end):
            return Response.empty(status, {"Location": target + request.path})
        return None
    return answer


@pytest.mark.parametrize("status, method, path_end, command", [
    (302, "GET", "/beta/trustFramework/keySets", "plan"),
    (307, "POST", "/uploadSecret", "apply"),
    (308, "POST", "/beta/trustFramework/keySets", "apply"),
    (307, "POST", "/oauth2/v2.0/token", "plan"),
    (302, "GET", "/.well-known/openid-configuration", "plan"),
], ids=["graph-list-302", "upload-307", "create-308", "token-307", "discovery-302"])
def test_a_redirect_is_never_followed_so_nothing_reaches_the_other_host(emu, env, capsys, status, method,
                                                                      path_end, command):
    environ, manifest = env
    argv = ["apply", "--auto-approve", manifest] if command == "apply" else ["plan", manifest]
    with other_host() as (other, seen), hook(emu, redirect_to(other, status, method, path_end)):
        code, output = run(capsys, argv, environ)
    assert code == 1
    assert seen == []  # no token, no client secret, no key: nothing at all
    assert CANARY not in output and environ["AZURE_CLIENT_SECRET"] not in output


def test_the_redirect_test_would_catch_a_client_that_follows(emu):
    """The same set-up against a plain requests session: the token request, client secret
    included, is sent on to the other host. This is what b2ckeys' Session prevents."""
    with other_host() as (other, seen), hook(emu, redirect_to(other, 307, "POST", "/oauth2/v2.0/token")):
        requests.post(f"{emu.url}/{emu.tenant_id}/oauth2/v2.0/token", verify=emu.ca_path, timeout=10,
                      data={"client_id": emu.client_id, "client_secret": emu.client_secret,
                            "grant_type": "client_credentials"})
    assert len(seen) == 1 and emu.client_secret.encode() in seen[0]["body"]


# -- the token only to Graph ------------------------------------------------------------------

@pytest.mark.parametrize("next_origin", ["other", "http-same-port"])
def test_a_next_page_on_another_origin_is_refused(emu, env, capsys, next_origin):
    environ, manifest = env
    with other_host() as (other, seen):
        origin = other if next_origin == "other" else emu.url.replace("https://", "http://")

        def answer(ctx):
            if ctx.request.method == "GET" and ctx.request.path == "/beta/trustFramework/keySets":
                return Response.json(200, {"value": [], "@odata.nextLink": origin + "/beta/trustFramework/keySets?$skiptoken=2"})
            return None

        with hook(emu, answer):
            code, output = run(capsys, ["plan", manifest], environ)
    assert code == 1
    assert f"Graph sent a next page on another host ({origin}); refused" in output
    assert seen == []


# -- timeouts -----------------------------------------------------------------------------------

class _Recording(requests.adapters.HTTPAdapter):
    def __init__(self):
        super().__init__()
        self.timeouts: list = []

    def send(self, request, **kwargs):
        self.timeouts.append(kwargs.get("timeout"))
        raise requests.ConnectionError("recorded, not sent")


def test_every_request_of_a_session_has_a_timeout():
    session = Session()
    recorder = _Recording()
    session.mount("https://", recorder)
    calls = [lambda: session.get("https://graph.invalid/"),
             lambda: session.post("https://graph.invalid/", data="x", timeout=None),
             lambda: session.request("DELETE", "https://graph.invalid/")]
    for call in calls:
        with pytest.raises(requests.ConnectionError):
            call()
    assert recorder.timeouts == [DEFAULT_TIMEOUT] * 3
    session = Session(timeout=7)
    session.mount("https://", recorder)
    with pytest.raises(requests.ConnectionError):
        session.get("https://graph.invalid/")
    assert recorder.timeouts[-1] == 7


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_silent_server_times_out_instead_of_hanging():
    with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            Session(timeout=(1, 0.5)).get(f"http://127.0.0.1:{port}/")
        assert time.monotonic() - started < 5
        client = GraphClient(f"https://127.0.0.1:{port}", lambda: "t", timeout=(1, 0.5),
                             policy=RetryPolicy(max_tries=1))
        started = time.monotonic()
        with pytest.raises(errors.GraphError):
            client.list_keysets()
        assert time.monotonic() - started < 5


def test_a_library_logging_a_traceback_does_not_reach_the_terminal(emu, env):
    """msal logs a traceback when the token answer is not JSON (here: a redirect); Python would
    print it on stderr. Run as a shell user would, since pytest captures log records itself."""
    import subprocess
    import sys

    environ, manifest = env
    with other_host() as (other, seen), hook(emu, redirect_to(other, 307, "POST", "/oauth2/v2.0/token")):
        result = subprocess.run([sys.executable, "-m", "reconciler", "plan", manifest], env=environ,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and seen == []
    assert result.stderr.startswith("error: sign-in to ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
