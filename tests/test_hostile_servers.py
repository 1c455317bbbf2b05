"""What a slow, huge or endless answer cannot do: a deadline per request (connect, head and
whole body), a deadline for the whole run (B2CKEYS_DEADLINE), a cap on each answer applied
while it is read, a cap on the pages of a list; for Graph and for sign-in alike. And what
--debug and B2CKEYS_CA_BUNDLE leave behind: no body size, no file."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import requests

from helpers.graph import emulator_client
from reconciler.cli.main import main
from reconciler.core import errors
from reconciler.emulator import Response
from reconciler.graph.client import GraphClient
from reconciler.graph.retry import RetryPolicy
from reconciler.graph.settings import DEFAULT_DEADLINE_SECONDS, from_environment
from reconciler.graph.transport import MAX_ANSWER_BYTES, Session

LIST = "/beta/trustFramework/keySets"
MANIFEST = ("version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n"
            "        value: {env: KEY_SECRET}\n")
SECRET = "CANARY-hostile-answers-0123456789"
FAST = RetryPolicy(max_tries=2, scale=100)  # one retry, at once


@pytest.fixture
def env(emu, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    return dict(emu.env, KEY_SECRET=SECRET), str(manifest)


def run(capsys, argv, environ) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err, time.monotonic() - started


def answer(hooks, method: str, path_end: str, response: Response) -> list:
    """Answers every matching request with `response`; returns the list of those answered."""
    answered = []

    def hook(ctx):
        if ctx.request.method == method and ctx.request.path.endswith(path_end):
            answered.append(ctx.request.path)
            return response
        return None
    hooks.before_request.append(hook)
    return answered


def client_of(emu, **limits) -> GraphClient:
    return emulator_client(emu.env, **limits)


def slow_page(pace: float = 0.05, padding: int = 200) -> Response:
    """A valid, empty list page sent a byte every `pace` seconds: each byte well within a read
    timeout, the whole far beyond any reasonable wait."""
    return Response(200, b'{"value": []}' + b" " * padding, {"Content-Type": "application/json"}, pace=pace)


# -- a deadline per request ---------------------------------------------------------------------

def test_a_body_sent_a_byte_at_a_time_is_cut_at_the_request_deadline_and_read_again(emu, hooks):
    answered = answer(hooks, "GET", LIST, slow_page())
    client = client_of(emu, timeout=(1, 0.5), policy=FAST)  # each byte within 0.5 s; 1.5 s in all
    started = time.monotonic()
    with pytest.raises(errors.RetriesExhausted) as caught:
        client.list_keysets()
    assert time.monotonic() - started < 6
    assert len(answered) == 2  # a transient failure: the read was sent again
    message = str(caught.value)
    assert message.startswith("GET /trustFramework/keySets: gave up after 2 tries")
    assert f"{emu.url} sent no complete answer within 1.5 s" in message and "\n" not in message


def test_a_head_sent_a_line_at_a_time_is_cut_at_the_request_deadline(emu, hooks):
    headers = {f"X-Padding-{n}": "x" for n in range(100)}  # 100 lines, 0.05 s apart: 5 s of head
    answer(hooks, "GET", LIST, Response(200, b'{"value": []}', headers, pace=0.05))
    started = time.monotonic()
    with pytest.raises(requests.Timeout) as caught:
        Session(verify=emu.ca_path, timeout=(1, 0.5)).get(emu.url + LIST + "?$skiptoken=x")
    assert time.monotonic() - started < 3
    assert str(caught.value) == f"{emu.url} sent no complete answer to GET {LIST} within 1.5 s"


def test_a_sign_in_answer_sent_a_byte_at_a_time_is_cut_too(emu, env, hooks, capsys, monkeypatch):
    """doctor, whose token request went on for minutes; the sign-in session's timeout made small."""
    monkeypatch.setattr("reconciler.signin.auth.LOGIN_TIMEOUT_SECONDS", 0.5)  # 1 s in all
    environ, _ = env
    answer(hooks, "POST", "/oauth2/v2.0/token", Response(400, b'{"error": "slow"}' + b" " * 300,
                                                         {"Content-Type": "application/json"}, pace=0.05))
    code, output, took = run(capsys, ["doctor"], environ)
    assert code == 1 and took < 6
    line = next(line for line in output.splitlines() if line.startswith("error: "))
    assert line.startswith(f"error: sign-in to {emu.url}/{emu.tenant_id} failed: ")
    assert f"{emu.url} sent no complete answer to POST /{emu.tenant_id}/oauth2/v2.0/token within 1 s" in line


# -- a deadline for the whole run ---------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf", "1e400", ""])
def test_a_bad_run_deadline_is_a_clear_error(emu, value):
    with pytest.raises(errors.ConfigError) as caught:
        from_environment({**emu.env, "B2CKEYS_DEADLINE": value})
    assert str(caught.value) == (f"B2CKEYS_DEADLINE={value!r} must be a number of seconds above 0 "
                                 f"(default {DEFAULT_DEADLINE_SECONDS:g}, {DEFAULT_DEADLINE_SECONDS / 3600:g} hours)")
    assert from_environment({**emu.env, "B2CKEYS_DEADLINE": "90.5"}).deadline.seconds == 90.5
    assert from_environment(emu.env).deadline.seconds == DEFAULT_DEADLINE_SECONDS


def test_the_run_deadline_cuts_the_request_in_flight_and_names_it(emu, env, hooks, capsys):
    """Slow answers are sent paced, not after a sleep: a sleeping request would reach the request
    log (and the tenant) after this test, in the next one's."""
    environ, manifest = env
    lists = answer(hooks, "GET", LIST, slow_page(padding=400))  # 20 s, well within 70 s per request
    code, output, took = run(capsys, ["plan", manifest], {**environ, "B2CKEYS_DEADLINE": "2.5"})
    assert code == 1 and took < 4.5
    assert (f"error: the run's deadline passed (B2CKEYS_DEADLINE=2.5 s) while waiting for the answer to "
            f"GET {LIST} from {emu.url}; raise B2CKEYS_DEADLINE if the run needs longer") in output
    assert len(lists) == 1  # not sent again


def test_the_run_deadline_bounds_sign_in_too(emu, env, hooks, capsys):
    environ, _ = env
    answer(hooks, "POST", "/oauth2/v2.0/token", slow_page(padding=400))
    code, output, took = run(capsys, ["doctor"], {**environ, "B2CKEYS_DEADLINE": "1.5"})
    assert code == 1 and took < 3.5
    assert (f"error: the run's deadline passed (B2CKEYS_DEADLINE=1.5 s) while waiting for the answer to POST "
            f"/{emu.tenant_id}/oauth2/v2.0/token from {emu.url}; raise B2CKEYS_DEADLINE if the run needs "
            "longer") in output


def test_no_request_starts_after_the_run_deadline(emu, env, capsys):
    """A 429 asks for a wait past the deadline: b2ckeys says so at once instead of waiting to be refused."""
    environ, manifest = env
    emu.faults.add(f"GET:{LIST}:status=429:retry_after=10")
    code, output, took = run(capsys, ["plan", manifest], {**environ, "B2CKEYS_DEADLINE": "5"})
    assert code == 1 and took < 5
    assert ("error: the run's deadline (B2CKEYS_DEADLINE=5 s) comes before the next try of GET "
            "/trustFramework/keySets (last answer: HTTP 429 AADB2C95043") in output
    assert len([r for r in emu.requests() if r["path"] == LIST]) == 1


def test_an_apply_stopped_by_the_run_deadline_still_gives_the_lease_back(emu, env, hooks, capsys):
    environ, manifest = env
    answer(hooks, "POST", "/uploadSecret", slow_page(padding=400))  # answered by the hook: nothing is added
    code, output, took = run(capsys, ["apply", "--auto-approve", manifest], {**environ, "B2CKEYS_DEADLINE": "4"})
    assert code == 1 and took < 8
    assert "the run's deadline passed (B2CKEYS_DEADLINE=4 s) while waiting for the answer to POST " in output
    assert "a write may have taken effect" in output
    assert [ks["id"] for ks in emu.state()["keySets"]] == ["B2C_1A_S"]  # the lease is gone


# -- a cap on each answer -----------------------------------------------------------------------

@contextmanager
def endless_answer() -> Iterator[tuple[str, list[int]]]:
    """A plain loopback server whose answer has no length and never ends (it stops at 64 MiB);
    `written[0]` counts the bytes it could send before the client hung up."""
    listener = socket.create_server(("127.0.0.1", 0))
    written = [0]

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                         b'{"value": [')
            chunk = b'{"id": "B2C_1A_x", "keys": []},' * 2048
            try:
                while written[0] < 64 << 20:
                    conn.sendall(chunk)
                    written[0] += len(chunk)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", written
    finally:
        thread.join(timeout=10)
        listener.close()


def test_an_endless_answer_is_refused_while_it_is_read(emu):
    with endless_answer() as (url, written):
        client = GraphClient(url, lambda: "token-for-the-endless-server", max_answer_bytes=1 << 20, policy=FAST)
        with pytest.raises(errors.GraphError) as caught:
            client.list_keysets()
    assert written[0] < 16 << 20  # the client stopped reading at 1 MiB (and the sockets' buffers)
    assert str(caught.value) == (f"GET /trustFramework/keySets: HTTP 200: the answer from {url} is larger "
                                 f"than 1 MiB, the most b2ckeys reads of one answer; refused")
    assert client.request_count == 1  # not read again


@pytest.mark.parametrize("status, headers", [(200, {}), (302, {"Location": "https://127.0.0.1:1/elsewhere"})])
def test_an_answer_announced_larger_than_the_cap_is_refused_before_its_body(emu, hooks, status, headers):
    """Also a redirect's: requests would read its body whole to prepare following it."""
    big = Response(status, b" " * (MAX_ANSWER_BYTES + 1), {"Content-Type": "application/json", **headers}, pace=0.001)
    answer(hooks, "GET", LIST, big)  # its body would take hours
    started = time.monotonic()
    with pytest.raises(errors.GraphError, match=rf"^GET /trustFramework/keySets: HTTP {status}: the answer from "
                                                r"\S+ is larger than 8 MiB, the most b2ckeys reads"):
        client_of(emu).list_keysets()
    assert time.monotonic() - started < 3


def test_a_huge_sign_in_answer_is_refused_with_one_line(emu, env, hooks, capsys):
    environ, _ = env
    answer(hooks, "POST", "/oauth2/v2.0/token",
           Response(200, b" " * (MAX_ANSWER_BYTES + 1), {"Content-Type": "application/json"}))
    code, output, _ = run(capsys, ["doctor"], environ)
    errors_ = [line for line in output.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors_) == 1
    assert errors_[0].startswith(f"error: sign-in to {emu.url}/{emu.tenant_id} failed: ")
    assert (f"the answer to POST /{emu.tenant_id}/oauth2/v2.0/token from {emu.url} is larger than 8 MiB, "
            "the most b2ckeys reads of one answer; refused") in errors_[0]


# -- a cap on the pages of a list ---------------------------------------------------------------

def test_a_list_of_endless_distinct_pages_stops_at_the_page_cap(emu, hooks):
    def next_page(ctx):
        if ctx.request.method == "GET" and ctx.request.path == LIST:
            token = int((ctx.request.query.get("$skiptoken") or ["0"])[0]) + 1
            return Response.json(200, {"value": [], "@odata.nextLink": f"{emu.url}{LIST}?$skiptoken={token}"})
        return None
    hooks.before_request.append(next_page)
    client = client_of(emu, max_pages=5)
    with pytest.raises(errors.GraphError) as caught:
        client.list_keysets()
    assert str(caught.value) == ("GET /trustFramework/keySets: HTTP 200: Graph sent more than 5 pages for one "
                                 "list (the most b2ckeys reads); refused")
    assert client.request_count == 5


# -- what --debug and B2CKEYS_CA_BUNDLE leave behind --------------------------------------------

def test_debug_never_logs_the_size_of_a_request_body(emu, env, capsys):
    """The size of uploadSecret's body (or of a token request's) gives away the secret's length."""
    environ, manifest = env
    code, output, _ = run(capsys, ["--debug", "apply", "--auto-approve", manifest], environ)
    assert code == 0
    requests_ = [line for line in output.splitlines() if line.startswith("debug: b2ckeys.http: -> ")]
    uploads = [line for line in requests_ if "/uploadSecret" in line]
    assert uploads and "with a body" in uploads[0]
    assert [line for line in requests_ if re.search(r"\d+ bytes|form body", line)] == []


def test_an_extra_ca_bundle_that_holds_no_certificate_is_said_at_once(emu, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(errors.ConfigError, match=f"^B2CKEYS_CA_BUNDLE={bundle}: no CA certificate could be read"):
        from_environment({**emu.env, "B2CKEYS_CA_BUNDLE": str(bundle)})


def test_an_extra_ca_bundle_leaves_no_file_behind(emu, env, hooks, capsys, monkeypatch, tmp_path):
    """No file is made for the combined trust (a killed run used to leave 234 KB in the temp folder):
    none exists even while a request is in flight, where TMPDIR points."""
    environ, manifest = env
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # as TMPDIR would
    seen: list[list[str]] = []
    hooks.before_request.append(lambda ctx: seen.append(os.listdir(temp)) and None)
    code, _, _ = run(capsys, ["plan", manifest], environ)
    assert code == 0 and seen and all(found == [] for found in seen)
    context = Session(verify=from_environment(environ).verify).get_adapter(emu.url).poolmanager \
        .connection_pool_kw["ssl_context"]
    names = {dict(part[0] for part in cert["subject"]).get("commonName") for cert in context.get_ca_certs()}
    assert "ISRG Root X1" in names  # the public roots
    assert any(name and "b2ckeys emulator" in name for name in names)  # and the extra CA
