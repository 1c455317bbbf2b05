"""Secret hygiene: canary secrets through every path never appear, Graph's
echoes of a request are scrubbed, `--debug` redacts, and a secret is held only for its call."""

from __future__ import annotations

import base64
import gc
import json
import re
import threading
import time
import types

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from helpers.certkit import DAY, PFX_PASSWORD, certificate, write
from reconciler.cli.main import build_parser, main
from reconciler.core.changes import Action
from reconciler.emulator import Response
from reconciler.graph.client import GraphClient, redact
from reconciler.graph.settings import from_environment
from reconciler.manifest.secrets import resolve
from reconciler.manifest.state import load_state
from reconciler.plan.planner import plan
from reconciler.session import applier
from reconciler.signin.auth import TokenProvider

ENV_CANARY = 'CANARY-env-"q"\\-8d1f'  # a quote and a backslash: JSON-escaped in an echo
FILE_CANARY = "CANARY-file-2b6c"
PFX_FILE_CANARY = "CANARY-pfx-file-password-9c4d"  # the password of idp-file.pfx, only ever in a file
NOW = int(time.time())
PFX_PIECES: list[str] = []  # pieces of the test .pfx in base64, set by `setup`


@pytest.fixture(scope="module")
def pfx_bytes(tmp_path_factory) -> tuple[bytes, bytes]:
    """Two PKCS#12 files (certificate and private key): one encrypted with the canary PFX_PASSWORD
    (given in an env variable), one with PFX_FILE_CANARY (given in a file)."""
    folder = tmp_path_factory.mktemp("pfx")
    cert = certificate("idp", nbf=NOW - DAY)
    return (write(folder / "idp.pfx", cert, "pfx").read_bytes(),
            write(folder / "idp-file.pfx", cert, "pfx", password=PFX_FILE_CANARY).read_bytes())


@pytest.fixture
def setup(emu, tmp_path, pfx_bytes):
    """Environment pointing at the emulator, and a manifest with an env secret, a file secret, a
    PKCS#12 key whose password is in an env variable, another whose password is in a file, a
    certificate and a generated key."""
    (tmp_path / "file-secret.txt").write_text(FILE_CANARY + "\nsecond line\n")  # one newline kept
    (tmp_path / "pfx-password.txt").write_text(PFX_FILE_CANARY + "\n")
    (tmp_path / "idp.pfx").write_bytes(pfx_bytes[0])
    (tmp_path / "idp-file.pfx").write_bytes(pfx_bytes[1])
    write(tmp_path / "saml.pem", certificate("saml", nbf=NOW - DAY))
    for private in ("file-secret.txt", "pfx-password.txt", "idp.pfx", "idp-file.pfx"):
        (tmp_path / private).chmod(0o600)
    manifest = tmp_path / "keys.yaml"
    manifest.write_text(
        "version: 1\nkeySets:\n"
        "  - name: EnvSecret\n    keys:\n      - {kind: secret, use: sig, value: {env: ENV_SECRET}}\n"
        "  - name: FileSecret\n    keys:\n      - {kind: secret, use: enc, value: {file: file-secret.txt}}\n"
        "  - name: Signing\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n"
        "  - name: IdpEnv\n    keys:\n      - {kind: pkcs12, file: idp.pfx, password: {env: PFX_PASSWORD}}\n"
        "  - name: IdpFile\n    keys:\n      - {kind: pkcs12, file: idp-file.pfx, password: {file: pfx-password.txt}}\n"
        "  - name: Saml\n    keys:\n      - {kind: certificate, file: saml.pem}\n"
    )
    PFX_PIECES[:] = [base64.b64encode(pfx).decode()[i:i + 40] for pfx in pfx_bytes for i in (0, 400, 1200)]
    environ = dict(emu.env, ENV_SECRET=ENV_CANARY, PFX_PASSWORD=PFX_PASSWORD)
    return environ, str(manifest)


def forbidden(environ: dict) -> list[str]:
    """The secret values, the client secret, pieces of the .pfx in base64 (tokens: `JWT` below)."""
    return [ENV_CANARY, json.dumps(ENV_CANARY)[1:-1], FILE_CANARY, PFX_PASSWORD, PFX_FILE_CANARY,
            environ["AZURE_CLIENT_SECRET"], *PFX_PIECES]


# A token: a JWT's header and payload (base64url of '{"'), dot-joined. Bare "eyJ" is not enough:
# a random x5t thumbprint the plan shows holds it about once in a few thousand keys.
JWT = re.compile(r"eyJ[\w-]*\.eyJ[\w-]*\.")


def run(capsys, argv, environ) -> tuple[int, str]:
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for secret in forbidden(environ):
        assert secret not in text, f"{secret!r} shown by {argv}"
    assert not JWT.search(text), f"a token shown by {argv}"
    assert "Traceback" not in text
    return code, text


def command_options(name: str) -> dict | None:
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    if name not in choices:
        return None
    return {flag: action for action in choices[name]._actions for flag in action.option_strings}


def test_canaries_never_appear_in_any_command_output_or_file(emu, setup, capsys, tmp_path):
    """Every command and every format, all with --debug: validate; plan as text, JSON and Markdown;
    drift in every format with changes pending; plan --out and apply PLANFILE; apply from the
    manifests; plan and drift again; export to a file and to stdout; doctor. No client secret,
    secret value, PKCS#12 password, .pfx content or token in any output or written file."""
    environ, manifest = setup
    saved, exported = tmp_path / "saved.plan", tmp_path / "exported.yaml"
    formats = command_options("plan")["--format"].choices
    assert list(formats) == ["text", "json", "markdown"] == list(command_options("drift")["--format"].choices)
    drifts = [(["drift", manifest, "--format", f], {"text": "Changes pending", "json": '"exitCode"',
                                                    "markdown": "### b2ckeys drift"}[f]) for f in formats]
    runs = [(["validate", manifest], "Valid: 1 manifest, 6 key sets, 6 keys."),
            (["plan", manifest, "--format", "text"], "upload PKCS#12 file:idp.pfx with password from env:PFX_PASSWORD"),
            (["plan", manifest, "--format", "json"], '"upload_pkcs12"'),
            (["plan", manifest, "--format", "markdown"], "### b2ckeys plan"),
            *drifts,
            (["plan", manifest, "--out", str(saved)], f"Saved the plan to {saved}"),
            (["apply", "--auto-approve", str(saved)], "still matches the tenant and the manifests"),
            (["plan", "--detailed-exitcode", manifest], "No changes."),
            (["reset"], ""),
            (["apply", "--auto-approve", manifest], "Apply complete"),
            (["plan", manifest], "No changes."),
            *[(argv, "") for argv, _ in drifts],
            (["export", "--out", str(exported)], f"to {exported}"),
            (["export"], "keySets:"),
            (["doctor"], "All good.")]
    debug_output = ""
    for argv, expected in runs:
        if argv == ["reset"]:  # an empty tenant again, for apply from the manifests
            emu.reset()
            continue
        code, text = run(capsys, ["--debug"] + argv, environ)
        assert code in (0, 2, 4, 8, 10, 12, 14), (argv, text)  # drift's bits
        assert expected in text, (argv, text)
        debug_output += text
    for path in (saved, exported):
        content = path.read_text()
        assert content and not any(secret in content for secret in forbidden(environ)), path
    assert "Authorization: Bearer [redacted]" in debug_output
    for call in ("/uploadSecret", "/uploadPkcs12", "/uploadCertificate"):
        assert call in debug_output, call
    assert "with a body" in debug_output
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


def echo_a_piece_of_the_upload(ctx):  # Graph quoting part of the .pfx or certificate, cut short by itself
    body = json.loads(ctx.request.body)
    return Response.json(400, {"error": {"code": "AADB2C95025", "message": f"Cannot read '{body['key'][:90]}...', "
                                         f"'...{body['key'][500:620]}...' (password {body.get('password')!r})"}})


def base64_pieces_of(data: bytes, text: str) -> list[str]:
    """Runs of 16 or more base64 characters in `text` that are part of `data` in base64, but for
    the thumbprints the plan shows (public, and a .pfx holds its certificate's SHA-1 as localKeyId)."""
    encoded = base64.b64encode(data).decode()
    shown = re.findall(r"x5t ([\w-]+)", text)
    return [run for run in re.findall(r"[A-Za-z0-9+/=]{16,}", text)
            if run in encoded and not any(run in x5t for x5t in shown)]


@pytest.mark.parametrize("keyset, call", [("IdpEnv", "uploadPkcs12"), ("IdpFile", "uploadPkcs12"),
                                          ("Saml", "uploadCertificate")])
@pytest.mark.parametrize("echo", [echo_in_json_message, echo_as_text, echo_in_code, echo_a_piece_of_the_upload])
def test_graph_echoing_a_certificate_upload_is_scrubbed(emu, setup, capsys, tmp_path, echo, keyset, call):
    """uploadPkcs12 sends a password and the .pfx, uploadCertificate the certificate: an error
    echoing any of them, whole or a piece, shows none of it."""
    environ, manifest = setup
    emu.pipeline.before_request.append(
        lambda ctx: echo(ctx) if ctx.request.path.endswith(f"/B2C_1A_{keyset}/{call}") else None)
    try:
        code, text = run(capsys, ["--debug", "apply", "--auto-approve", "--parallelism", "1", manifest], environ)
    finally:
        emu.pipeline.clear()
    assert code == 1 and "Apply failed" in text and f"/B2C_1A_{keyset}/{call}: HTTP 400" in text
    assert "[redacted]" in text
    assert "CANARY" not in text  # not even a part cut short
    sent = (tmp_path / "idp.pfx", tmp_path / "idp-file.pfx")
    certificate_der = x509.load_pem_x509_certificate((tmp_path / "saml.pem").read_bytes()).public_bytes(Encoding.DER)
    for data in (*(path.read_bytes() for path in sent), certificate_der):
        assert base64_pieces_of(data, text) == []


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

    monkeypatch.setattr("reconciler.plan.planner.plan", broken)
    code, text = run(capsys, ["--debug", "plan", manifest], environ)
    assert code == 1
    assert "error: internal error (RuntimeError); please report it, with the output of --debug" in text
    assert "debug: b2ckeys: internal error RuntimeError at" in text and "in broken" in text


@pytest.mark.parametrize("argv, target", [
    (["validate"], "reconciler.cli.validate.load_state"),
    (["drift"], "reconciler.session.session.drift"),
    (["drift", "--format", "markdown"], "reconciler.cli.drift.render_drift_markdown"),
    (["plan", "--format", "json"], "reconciler.cli.plan.plan_data"),
    (["export"], "reconciler.session.session.export_manifest"),
    (["doctor"], "reconciler.cli.doctor.run_doctor"),
])
def test_every_command_catches_an_internal_error_without_its_message(setup, capsys, monkeypatch, argv, target):
    environ, manifest = setup

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {ENV_CANARY} {FILE_CANARY} {PFX_PASSWORD}")

    monkeypatch.setattr(target, broken)
    paths = [manifest] if argv[0] in ("validate", "drift", "plan") else []
    code, text = run(capsys, ["--debug", argv[0], *paths, *argv[1:]], environ)
    assert code == 1
    assert "error: internal error (RuntimeError); please report it, with the output of --debug" in text
    assert "debug: b2ckeys: internal error RuntimeError at" in text and "in broken" in text


def test_every_command_takes_debug_before_or_after_it():
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(choices) == {"validate", "plan", "apply", "drift", "export", "doctor", "probe", "emulator", "demo",
                            "force-unlock", "show", "schema", "completion", "environments"}
    required = {"force-unlock": ["LOCK_ID"], "show": ["p.json"], "completion": ["bash"]}
    for command in choices:
        needed = required.get(command, [])  # its one required argument
        assert build_parser().parse_args([command, *needed, "--debug"]).debug is True, command
        assert build_parser().parse_args(["--debug", command, *needed]).debug is True, command
        assert build_parser().parse_args([command, *needed]).debug is False, command
        assert "--debug" in choices[command].format_help(), command


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


def test_secrets_are_held_only_for_the_call_that_needs_them(emu, setup, pfx_bytes):
    """After apply, neither the plan, nor the report, nor the Graph client (session, pools,
    connections), nor the desired state holds a secret value, a PKCS#12 password or any piece
    of a .pfx; no secret is left 'in play' in any thread."""
    environ, manifest = setup
    state, _ = load_state([manifest], environ)  # certificate facts read, as every command does
    settings = from_environment(environ)
    client = GraphClient(settings.graph_url, TokenProvider(settings, environ), verify=settings.verify)
    the_plan = plan(state, client.list_keysets(), now=0)
    assert {c.action for c in the_plan.changes} >= {Action.UPLOAD_SECRET, Action.UPLOAD_PKCS12,
                                                    Action.UPLOAD_CERTIFICATE}
    report = applier.apply(the_plan, client, resolve=lambda ref: resolve(ref, environ), parallelism=2)
    assert report.ok, report
    gc.collect()
    # the file secret, the file-held PKCS#12 password and the .pfx files exist only in their files
    # and, briefly, in their calls (an env secret lives in the environment anyway, which the
    # credential may legitimately keep)
    texts = [FILE_CANARY, PFX_FILE_CANARY, *PFX_PIECES]
    raw = [pfx[i:i + 64] for pfx in pfx_bytes for i in (0, 600)]
    leftovers = [t for t in reachable_texts(the_plan, report, client, state)
                 if (any(c in t for c in texts) if isinstance(t, str) else any(r in t for r in raw)
                     or any(c.encode() in t for c in texts))]
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


def test_the_token_check_sees_a_token_but_not_a_thumbprint_that_holds_eyJ(emu):
    assert JWT.search(f"Authorization: Bearer {emu.make_token()}")
    assert not JWT.search("+ key in B2C_1A_Saml: upload certificate x5t 3kQeyJ0r_x-Zq9eyJw1AbCdEfGhIjKlMn")
