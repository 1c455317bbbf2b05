"""Secret hygiene (issue 8, item 3): canary secrets through every path never appear, Graph's
echoes of a request are scrubbed, `--debug` redacts, and a secret is held only for its call."""

from __future__ import annotations

import gc
import json
import threading
import types
from pathlib import Path

import pytest

from reconciler import applier, redact
from reconciler.auth import TokenProvider
from reconciler.cli import build_parser, main
from reconciler.emulator import Response
from reconciler.graph import GraphClient
from reconciler.manifest import load_manifests
from reconciler.planner import plan
from reconciler.secrets import resolve
from reconciler.settings import from_environment

ENV_CANARY = 'CANARY-env-"q"\\-8d1f'  # a quote and a backslash: JSON-escaped in an echo
FILE_CANARY = "CANARY-file-2b6c"


@pytest.fixture
def setup(emu, tmp_path):
    """Environment pointing at the emulator, and a manifest with an env secret and a file secret."""
    (tmp_path / "file-secret.txt").write_text(FILE_CANARY + "\nsecond line\n")  # one newline kept
    (tmp_path / "file-secret.txt").chmod(0o600)
    manifest = tmp_path / "keys.yaml"
    manifest.write_text(
        "version: 1\nkeySets:\n"
        "  - name: EnvSecret\n    keys:\n      - {kind: secret, use: sig, value: {env: ENV_SECRET}}\n"
        "  - name: FileSecret\n    keys:\n      - {kind: secret, use: enc, value: {file: file-secret.txt}}\n"
        "  - name: Signing\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n"
    )
    environ = dict(emu.env, ENV_SECRET=ENV_CANARY)
    return environ, str(manifest)


def forbidden(environ: dict) -> list[str]:
    return [ENV_CANARY, json.dumps(ENV_CANARY)[1:-1], FILE_CANARY, environ["AZURE_CLIENT_SECRET"], "eyJ"]


def run(capsys, argv, environ) -> tuple[int, str]:
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for secret in forbidden(environ):
        assert secret not in text, f"{secret!r} shown by {argv}"
    assert "Traceback" not in text
    return code, text


def command_options(name: str) -> dict | None:
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    if name not in choices:
        return None
    return {flag: action for action in choices[name]._actions for flag in action.option_strings}


def test_canaries_never_appear_in_any_command_output_or_file(setup, capsys, tmp_path):
    """validate, plan in every format this build has (and its plan file), apply, and drift and
    export where they exist, all with --debug: no secret, no client secret, no token."""
    environ, manifest = setup
    written: list[Path] = []
    runs = [["validate", manifest]]
    plan_options = command_options("plan")
    formats = plan_options["--format"].choices if "--format" in plan_options else [None]
    for fmt in formats:
        runs.append(["plan", manifest] + (["--format", fmt] if fmt else []))
    if "--out" in plan_options:
        written.append(tmp_path / "saved.plan")
        runs.append(["plan", manifest, "--out", str(written[-1])])
    runs += [["apply", "--auto-approve", manifest], ["plan", manifest]]
    if command_options("drift") is not None:
        runs.append(["drift", manifest])
    export = command_options("export")
    if export is not None:
        written.append(tmp_path / "exported.yaml")
        runs.append(["export"] + (["--out", str(written[-1])] if "--out" in export else []))
    debug_output = ""
    for argv in runs:
        code, text = run(capsys, ["--debug"] + argv, environ)
        assert code in (0, 2, 4, 8, 12, 14), (argv, text)  # drift's bits, plan's 2
        debug_output += text
    for path in written:
        content = path.read_text() if path.exists() else ""
        assert not any(secret in content for secret in forbidden(environ)), path
    assert "Authorization: Bearer [redacted]" in debug_output
    assert "/uploadSecret" in debug_output and "body " in debug_output
    requests = [line for line in debug_output.splitlines() if line.startswith("debug: b2ckeys.http: -> ")]
    assert requests and all("timeout " in line for line in requests)  # every request has a timeout


# What a Graph that echoes the request in its error could send back
def echo_in_json_message(ctx):
    return Response.json(400, {"error": {"code": "AADB2C90017", "message": "Invalid request: "
                                         + ctx.request.body.decode()}})


def echo_as_text(ctx):
    return Response(400, b"Invalid request: " + ctx.request.body, {"Content-Type": "text/plain"})


def echo_past_the_cut(ctx):  # the bare secret straddles where messages are cut (300 characters)
    return Response.json(400, {"error": {"code": "X", "message": "x" * 290 + json.loads(ctx.request.body)["k"]}})


def echo_in_code(ctx):
    return Response.json(400, {"error": {"code": ctx.request.body.decode(), "message": "bad"}})


def echo_the_token(ctx):
    return Response.json(400, {"error": {"code": "X", "message": "token was " + ctx.request.header("Authorization")}})


@pytest.mark.parametrize("keyset", ["EnvSecret", "FileSecret"])
@pytest.mark.parametrize("echo", [echo_in_json_message, echo_as_text, echo_past_the_cut, echo_in_code, echo_the_token])
def test_graph_echoing_the_request_in_an_error_is_scrubbed(emu, setup, capsys, echo, keyset):
    environ, manifest = setup
    emu.pipeline.before_request.append(
        lambda ctx: echo(ctx) if ctx.request.path.endswith(f"/B2C_1A_{keyset}/uploadSecret") else None)
    try:
        code, text = run(capsys, ["--debug", "apply", "--auto-approve", "--parallelism", "1", manifest], environ)
    finally:
        emu.pipeline.clear()
    assert code == 1 and "Apply failed" in text
    assert "[redacted]" in text
    assert "CANARY" not in text  # not even a part cut short


def test_control_characters_in_an_answer_are_shown_escaped(emu, setup, capsys):
    environ, manifest = setup
    emu.faults.add({"method": "POST", "path": "*/uploadSecret", "status": 400, "code": "X\x1b[31m",
                    "message": "bad\x1b[2J\r\nrequest\u202e", "times": None})
    code, text = run(capsys, ["apply", "--auto-approve", manifest], environ)
    assert code == 1 and "HTTP 400 X\\x1b[31m: bad\\x1b[2J\\r request\\u202e" in text
    assert not any(ch in text for ch in "\x1b\r\u202e")


def test_a_fault_rule_echoing_the_secret_is_scrubbed(emu, setup, capsys):
    environ, manifest = setup
    emu.faults.add({"method": "POST", "path": "*/B2C_1A_FileSecret/uploadSecret", "status": 400, "code": "AADB2C90017",
                    "message": f"The key '{FILE_CANARY}' is not valid", "times": None})
    code, text = run(capsys, ["apply", "--auto-approve", manifest], environ)
    assert code == 1 and "The key '[redacted]' is not valid" in text


def test_an_echo_on_every_retry_is_scrubbed_in_the_final_error(emu, setup, capsys):
    environ, manifest = setup
    environ["B2CKEYS_TIME_SCALE"] = "1000"  # the retry waits, shortened
    emu.faults.add({"method": "POST", "path": "*/B2C_1A_FileSecret/uploadSecret", "status": 400, "code": "AADB2C90063",
                    "message": f"There is a problem with the service ({FILE_CANARY})", "times": None})
    code, text = run(capsys, ["apply", "--auto-approve", manifest], environ)
    assert code == 1 and "gave up after" in text and "([redacted])" in text


def test_an_internal_error_shows_neither_its_message_nor_a_traceback(setup, capsys, monkeypatch):
    environ, manifest = setup

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {ENV_CANARY} {FILE_CANARY}")

    monkeypatch.setattr("reconciler.planner.plan", broken)
    code, text = run(capsys, ["--debug", "plan", manifest], environ)
    assert code == 1
    assert "error: internal error (RuntimeError); please report it, with the output of --debug" in text
    assert "debug: b2ckeys: internal error RuntimeError at" in text and "in broken" in text


def test_debug_is_accepted_after_the_command_too(setup, capsys):
    environ, manifest = setup
    code, text = run(capsys, ["plan", manifest, "--debug"], environ)
    assert code == 0 and "debug: b2ckeys.http: -> GET " in text
    code, text = run(capsys, ["plan", manifest], environ)
    assert "debug:" not in text


def reachable_texts(*roots) -> list:
    """Every str and bytes reachable from `roots` through object references (not through
    modules, classes or functions: those are code, not state)."""
    found, seen, stack = [], set(), list(roots)
    skip = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
            types.MethodType)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes, bytearray)):
            found.append(obj)
        else:
            stack.extend(gc.get_referents(obj))
    return found


def test_secrets_are_held_only_for_the_call_that_needs_them(emu, setup):
    """After apply, neither the plan, nor the report, nor the Graph client (session, pools,
    connections) holds a secret value; no secret is left 'in play' in any thread."""
    environ, manifest = setup
    state = load_manifests([manifest]).state
    settings = from_environment(environ)
    client = GraphClient(settings.graph_url, TokenProvider(settings, environ), verify=settings.verify)
    the_plan = plan(state, client.list_keysets(), now=0)
    assert the_plan.changes
    report = applier.apply(the_plan, client, resolve=lambda ref: resolve(ref, environ), parallelism=2)
    assert report.ok
    gc.collect()
    # the file secret exists only in its file and, briefly, in its call (an env secret lives in
    # the environment anyway, which the credential may legitimately keep)
    leftovers = [t for t in reachable_texts(the_plan, report, client, state)
                 if (FILE_CANARY in t if isinstance(t, str) else FILE_CANARY.encode() in t)]
    assert leftovers == []
    assert redact._values() == []
    done = threading.Event()
    threading.Thread(target=lambda: (redact._values() == [] and done.set())).start()
    assert done.wait(5)


def test_the_reachability_check_would_see_a_held_secret():
    holder = types.SimpleNamespace(inner={"k": [b"x" + FILE_CANARY.encode()]})
    assert any(FILE_CANARY.encode() in t for t in reachable_texts(holder) if isinstance(t, bytes))


# -- redact, the unit --------------------------------------------------------------------------

def test_scrub_removes_tokens_and_credential_fields_always():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJl"
    text = (f"Authorization: Bearer {jwt} then {jwt} and client_secret=abc123&x=1 "
            '{"k": "s3cr3t", "access_token": "t0k"}')
    cleaned = redact.scrub(text)
    assert jwt not in cleaned and "abc123" not in cleaned and "s3cr3t" not in cleaned and "t0k" not in cleaned
    assert "Bearer [redacted]" in cleaned and "client_secret=[redacted]&x=1" in cleaned


def test_values_in_play_are_scrubbed_only_within_their_call_and_thread():
    with redact.in_play("hunter2-in-play"):
        assert redact.scrub("a hunter2-in-play b") == "a [redacted] b"
        other: list[str] = []
        thread = threading.Thread(target=lambda: other.append(redact.scrub("hunter2-in-play")))
        thread.start()
        thread.join()
        assert other == ["hunter2-in-play"]  # another worker's call does not see this secret
    assert redact.scrub("hunter2-in-play") == "hunter2-in-play"
    assert redact._values() == []


def test_each_line_of_a_multi_line_secret_is_scrubbed_too():
    assert redact.scrub("got line-one, then line-two", ["line-one\nline-two"]) == "got [redacted], then [redacted]"
