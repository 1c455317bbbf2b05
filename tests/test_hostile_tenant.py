"""Text from the tenant (key set ids, kids, x5t, statuses, Graph's messages) in every output b2ckeys
writes for people: the text plan, drift, apply's progress and report, export's manifest and warnings,
probe's report, Markdown comments and the JSON form. Control characters (C0, C1, DEL), bidi and other
invisible format characters and line separators are shown escaped (`\\x1b`, `\\u202e`): no colour
changes, no line is forged (`  + key set B2C_1A_Forged` a reviewer approves), Markdown keeps its
structure, JSON and YAML say the same values. `OUTPUTS` and `COMMANDS_SHOWN` list every renderer and
command: a new one fails `test_every_renderer_and_command_is_in_the_hostile_test` until it is here."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import unicodedata
from dataclasses import replace
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from helpers.cli import run
from helpers.model import DAY, NOW, desired, gen, sec
import reconciler.render
from reconciler.cli.main import COMMANDS
from reconciler.core import probe as q
from reconciler.core.changes import Action, ActiveKey, Change, Duplicate, Plan, Reason, Unmanaged
from reconciler.core.diagnostics import Diagnostic, Location, Severity, printable
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse, LiveKey, LiveKeySet, LiveState, SecretRef
from reconciler.core.probe import Finding, ProbeReport
from reconciler.core.report import ApplyReport, Outcome, Status
from reconciler.manifest.export import export_manifest
from reconciler.manifest.reader import load_manifests
from reconciler.plan.data import drift_data, dumps, live_data, plan_data
from reconciler.plan.drift import drift
from reconciler.plan.livediff import live_changes
from reconciler.plan.planner import plan as make_plan
from reconciler.render.drift_text import render_drift_text
from reconciler.render.markdown import render_drift_markdown, render_plan_markdown
from reconciler.render.probe import render_probe
from reconciler.render.progress import Progress
from reconciler.render.text import describe_change, render_diagnostics, render_outcome, render_plan_text, render_report

FORGED = "  + key set B2C_1A_Forged"
HOSTILE = {
    "escape-crlf": "kid\x1b[31mRED\r\n" + FORGED,
    "bidi": "\u202eTEG\u2066iso\u2069\u200e\u200f\u200d\ufeff\u00ad\u2060\U000e0041",
    "separators": "sep\u2028" + FORGED + "\u2029\x85" + FORGED + "\x0b\x0c\x1c" + FORGED,
    "c0-c1-del": "\x00\x07\x08\x7f\x9b31m\x90\x9d\udc80",  # and a lone surrogate, as JSON can hold
}
WHERE = Location("m.yaml", 3, 5)
HIDDEN = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}  # control, format (bidi, ZWJ...), surrogate, private, separators


def raw(text: str, *, allowed: str = "\n") -> list[str]:
    """The characters of `text` that must never reach a terminal or a page as they are."""
    return sorted({repr(c) for c in text if c not in allowed and unicodedata.category(c) in HIDDEN})


def forged(text: str) -> list[str]:
    """Lines (as any terminal, editor or Markdown renderer splits them) that start with the forged change."""
    return [line for line in text.splitlines() if line.lstrip(" \t>|-*`").startswith("+ key set B2C_1A_Forged")]


# -- the model, hostile everywhere the tenant speaks ------------------------------------------------------

def hostile_plan(v: str) -> Plan:
    ident = "B2C_1A_" + v
    cert = DesiredKey(KeyKind.CERTIFICATE, KeyType.RSA, KeyUse.SIG, NOW, NOW + DAY, None, WHERE,
                      file=SecretRef("file", "c.pem", WHERE), x5t=v)
    pfx = replace(cert, kind=KeyKind.PKCS12, secret=SecretRef("env", "P", WHERE),
                  file=SecretRef("file", "c.pfx", WHERE))
    stray = LiveKey(v, KeyType.RSA, v, NOW, NOW + DAY, v, v)  # use and status as Graph said them
    kept = LiveKey("kept", KeyType.RSA, KeyUse.SIG, NOW, NOW + DAY, None, v)
    copy = replace(kept, kid=v + "2")
    return Plan(
        changes=(Change(Action.CREATE_KEYSET, ident, location=WHERE),
                 Change(Action.GENERATE_KEY, ident, gen(nbf=NOW, exp=NOW + DAY), WHERE, reason=Reason.ROTATION,
                        detail=v),
                 Change(Action.UPLOAD_CERTIFICATE, ident, cert, WHERE),
                 Change(Action.UPLOAD_PKCS12, ident, pfx, WHERE),
                 Change(Action.UPLOAD_SECRET, ident, sec(), WHERE),
                 Change(Action.DISABLE_KEY, ident, kid=v, location=WHERE, reason=Reason.UNMANAGED_KEY, detail=v),
                 Change(Action.DELETE_KEYSET, ident, location=WHERE, reason=Reason.NOT_DECLARED, detail=v)),
        unmanaged=(Unmanaged(ident, note=v), Unmanaged(ident, v, stray, note=v)),
        warnings=(Diagnostic(Severity.WARNING, f"key {v} has expired", WHERE),),
        notes=(f"note about {v}",),
        live=LiveState((LiveKeySet(ident, (kept, copy, stray)),)),
        active=(ActiveKey(ident, v, v), ActiveKey(ident, v, None, 1), ActiveKey(ident, None, v)),
        duplicates=(Duplicate(ident, ("kept", v + "2"), kept), Duplicate(ident, (v, "kept"), stray)),
    )


def hostile_drift(v: str):
    expired = LiveKey(v, KeyType.RSA, KeyUse.SIG, NOW - 9 * DAY, NOW - DAY)
    expiring = LiveKey(v, KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + DAY)
    older = LiveKey("older", KeyType.RSA, KeyUse.SIG, NOW - 2 * DAY, NOW + 90 * DAY)
    live_state = LiveState((LiveKeySet("B2C_1A_" + v, (expired,)), LiveKeySet("B2C_1A_Soon" + v, (expiring,)),
                            LiveKeySet("B2C_1A_Both" + v, (older, replace(expiring, exp=NOW + 90 * DAY)))))
    report = drift(desired(A=[gen()]), live_state, NOW, graph_active={"B2C_1A_Both" + v: older})
    return replace(report, plan=hostile_plan(v))


def hostile_outcomes(v: str) -> tuple[Outcome, ...]:
    changes = hostile_plan(v).changes
    return (Outcome(changes[0], Status.DONE), Outcome(changes[1], Status.DONE, f"kid {v}", kid=v),
            Outcome(changes[5], Status.DONE, f"kid {v}", found=True),
            Outcome(changes[2], Status.FAILED, f"HTTP 400 AADB2C90063: {v} (request-id {v})"),
            *(Outcome(c, Status.NOT_ATTEMPTED) for c in changes[3:]))


def apply_output(v: str) -> str:
    outcomes = hostile_outcomes(v)
    done = tuple(replace(o, status=Status.DONE) for o in outcomes)
    reports = (ApplyReport(outcomes, problems=(f"key {v} is present twice",)), ApplyReport(outcomes, interrupted=True),
               ApplyReport(done), ApplyReport(done, problems=(f"key {v} not visible yet",)))
    return "\n".join(render_outcome(o) for o in outcomes) + "\n" + "".join(render_report(r) for r in reports)


def progress_output(v: str) -> str:
    stream = io.StringIO()
    with Progress(stream, 3, live=True) as progress:
        progress.started(f"disable key {v} in B2C_1A_{v}")  # whatever a caller passes
        progress.started(describe_change(hostile_plan(v).changes[5]))
        status = progress.status_line()
        for outcome in hostile_outcomes(v)[:2]:
            progress.finished(render_outcome(outcome))
    return status + "\n" + stream.getvalue().replace("\r\x1b[K", "\n")  # its own redraw, nothing else


def probe_output(v: str) -> str:
    findings = (Finding(q.PREFIX, True, f"answered {v}", reading=v, facts=(("code", v),)),
                Finding(q.DUPLICATE, False, v), Finding(v, True, v))
    report = ProbeReport(v, "2027-01-15T08:00:00Z", 1.5, "B2C_1A_" + v, findings, 9, ("B2C_1A_" + v,),
                         (f"B2C_1A_{v}: {v}",), v)
    return render_probe(report) + "\n" + render_probe(report, color=True).replace("\x1b[33m", "") \
        .replace("\x1b[31m", "").replace("\x1b[1m", "").replace("\x1b[0m", "")


def export_live(v: str) -> LiveState:
    key = LiveKey(v, KeyType.RSA, KeyUse.SIG, NOW, NOW + DAY, v, v)
    return LiveState((
        LiveKeySet("B2C_1A_Ok", (key, replace(key, kid="second" + v), replace(key, kid="third", nbf=NOW + 1))),
        LiveKeySet("B2C_1A_" + v, (key,)), LiveKeySet("B2C_1A_Trail\n", (key,)),
        LiveKeySet("B2C_1A_Use", (replace(key, use=v),)), LiveKeySet("B2C_1A_Date", (replace(key, exp=-1),)),
    ))


def export_output(v: str) -> str:
    result = export_manifest(export_live(v), tenant=v)
    return result.text + "\n".join(result.skipped) + "\n"


def stale_plan_output(v: str) -> str:
    then = live_data(LiveState((LiveKeySet("B2C_1A_Ok", (LiveKey("k", KeyType.RSA, KeyUse.SIG, status="enabled"),)),)))
    now = live_data(replace(export_live(v), keysets=export_live(v).keysets[:2]))
    return "\n".join(live_changes(then, now)) + "\n"


OUTPUTS = {  # every output for people, as text, for a hostile value
    "render_plan_text": lambda v: render_plan_text(hostile_plan(v)),
    "render_drift_text": lambda v: render_drift_text(hostile_drift(v)),
    "render_plan_markdown": lambda v: render_plan_markdown(hostile_plan(v)),
    "render_drift_markdown": lambda v: render_drift_markdown(hostile_drift(v)),
    "render_outcome": lambda v: "\n".join(render_outcome(o) for o in hostile_outcomes(v)),
    "render_report": apply_output,
    "render_diagnostics": lambda v: "\n".join(render_diagnostics(hostile_plan(v).warnings)),
    "render_probe": probe_output,
    "Progress": progress_output,
    "export_manifest": export_output,
    "live_changes": stale_plan_output,
}
JSON_OUTPUTS = {  # the same values, exactly, in JSON: control and bidi characters as JSON escapes
    "plan --format json": (lambda v: plan_data(hostile_plan(v))),
    "drift --format json": (lambda v: drift_data(hostile_drift(v))),
}


def shown_escaped(text: str, value: str) -> bool:
    """The value is there, escaped, on one line (Markdown collapses runs of spaces)."""
    escaped = printable(value)
    return escaped in text or " ".join(escaped.split()) in text


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("output", OUTPUTS)
def test_every_output_shows_tenant_text_escaped_on_its_own_line(output, value):
    text = OUTPUTS[output](value)
    assert raw(text) == [], f"{output} writes control characters as they are"
    assert forged(text) == [], f"{output} lets a value start a line"
    assert shown_escaped(text, value)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("output", JSON_OUTPUTS)
def test_the_json_form_says_the_same_values_with_every_invisible_character_escaped(output, value):
    data = JSON_OUTPUTS[output](value)
    text = dumps(data)
    assert raw(text) == [] and forged(text) == []
    assert json.loads(text) == data  # ids and kids exactly as the tenant has them, for scripts


def test_colour_is_ours_only():
    value = HOSTILE["escape-crlf"]
    coloured = render_plan_text(hostile_plan(value), color=True) + render_drift_text(hostile_drift(value), color=True)
    plain = render_plan_text(hostile_plan(value)) + render_drift_text(hostile_drift(value))
    for code in ("\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"):
        coloured = coloured.replace(code, "")
    assert coloured == plain and "\x1b" not in plain


class Structure(HTMLParser):
    """The tags of rendered Markdown, in order, and the text of each line inside <pre>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)

    def handle_data(self, data):
        self.text.append(data)


def structure(markdown: str) -> Structure:
    parsed = Structure()
    parsed.feed(cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE))
    return parsed


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("render, model", [(render_plan_markdown, hostile_plan),
                                           (render_drift_markdown, hostile_drift)])
def test_markdown_with_hostile_values_has_the_structure_of_markdown_with_plain_ones(render, model, value):
    hostile, plain = structure(render(model(value))), structure(render(model("plain")))
    assert hostile.tags == plain.tags  # no line, cell, list item or block more, none less
    rendered = "".join(hostile.text)
    assert raw(rendered) == [] and forged(rendered) == []
    assert shown_escaped(rendered, value)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_an_exported_manifest_is_valid_yaml_that_says_the_same(value, tmp_path):
    live_state = export_live(value)
    result = export_manifest(live_state, tenant="contoso.onmicrosoft.com")
    path = tmp_path / "exported.yaml"
    path.write_text(result.text, encoding="utf-8")
    state = load_manifests([str(path)]).state
    assert [ks.id for ks in state.keysets] == ["B2C_1A_Ok"]  # the others cannot be declared: comments
    # its keys hold a certificate: pkcs12 with a file placeholder; filled in, the key has the live x5t
    [ok] = state.keysets
    assert [k.kind.value for k in ok.keys] == ["pkcs12"]  # the three keys hold one certificate: declared once
    filled = replace(state, keysets=(replace(ok, keys=tuple(replace(k, x5t=value.rstrip("=")) for k in ok.keys)),))
    assert make_plan(filled, live_state, NOW).changes == ()
    assert len(result.skipped) == 6 and all(shown_escaped(line, value) or "Trail" in line for line in result.skipped)


# -- every renderer and every command is here ---------------------------------------------------------------

COMMANDS_SHOWN = {  # command -> how its output is checked here, or why it shows nothing from the tenant
    "plan": "cli", "drift": "cli", "export": "cli", "apply": "cli", "probe": "cli", "doctor": "cli",
    "force-unlock": "cli", "show": "cli",
    "schema": "writes the shipped schema file; nothing from a tenant",
    "completion": "writes a script made from the parser; nothing from a tenant",
    "validate": "reads manifests only, never the tenant: tests/test_hostile_yaml.py",
    "environments": "reads the environments file only (names and tenants, shown through printable), never the tenant",
    "emulator": "serves; prints its own settings and nothing from a tenant",
    "demo": "runs plan, apply and drift (checked here) against an emulator it seeds itself",
}


def uncovered() -> set[str]:
    """Public `render_*` functions of `reconciler.render` and commands the hostile tests leave out."""
    found = set()
    for module in pkgutil.iter_modules(reconciler.render.__path__):
        loaded = importlib.import_module(f"reconciler.render.{module.name}")
        found |= {name for name, item in vars(loaded).items()
                  if name.startswith("render_") and callable(item) and item.__module__ == loaded.__name__}
    return (found - set(OUTPUTS)) | (set(COMMANDS) - set(COMMANDS_SHOWN))


def test_every_renderer_and_command_is_in_the_hostile_test():
    assert uncovered() == set(), "render it in OUTPUTS (a renderer) or run it in CLI (a command)"
    assert {c for c, how in COMMANDS_SHOWN.items() if how == "cli"} == set(CLI)


def test_the_coverage_check_would_see_a_new_renderer_and_a_new_command(monkeypatch):
    import reconciler.render.text

    def render_something(plan):
        return ""

    render_something.__module__ = "reconciler.render.text"
    monkeypatch.setattr(reconciler.render.text, "render_something", render_something, raising=False)
    monkeypatch.setitem(COMMANDS, "rotate-now", "rotate_now")
    assert uncovered() == {"render_something", "rotate-now"}


def test_the_escape_leaves_no_control_format_or_separator_character():
    assert printable("a\x1bb\r\n\t\x00\x7f\x85\x9b") == "a\\x1bb\\r\\n\\t\\x00\\x7f\\x85\\x9b"
    assert printable("\u202e\u2066\u2069\u200e\u200f\u200d\ufeff\u2028\u2029\U000e0041\ud800") == \
        "\\u202e\\u2066\\u2069\\u200e\\u200f\\u200d\\ufeff\\u2028\\u2029\\U000e0041\\ud800"
    assert printable("B2C_1A_Ключ é 鍵 ✓") == "B2C_1A_Ключ é 鍵 ✓"  # letters and symbols as they are
    every = "".join(map(chr, range(0x110000)))
    shown = printable(every)
    assert raw(shown) == [] and len(shown.splitlines()) == 1 and shown.isprintable()


# -- the commands, against the emulator holding hostile kids and thumbprints --------------------------------

KID = HOSTILE["escape-crlf"]
OTHER_KID = HOSTILE["separators"] + HOSTILE["bidi"]
# a lone surrogate in an answer is refused when it is read (tests/test_hostile_answers.py): not here
X5T = "x5t" + HOSTILE["c0-c1-del"].replace("\udc80", "") + "\u202e"
MANIFEST = "version: 1\nkeySets:\n  - name: Sig\n    disableUnmanagedKeys: true\n    keys:\n" \
           "      - {kind: generate, kty: RSA, use: sig}\n"


class Commands:
    """Runs commands against the hostile tenant; `texts` is everything they wrote, files included."""

    def __init__(self, emu, env, capsys, tmp_path, monkeypatch):
        self.emu, self.env, self.capsys, self.tmp, self.monkeypatch = emu, env, capsys, tmp_path, monkeypatch
        self.manifest = tmp_path / "m.yaml"
        self.manifest.write_text(MANIFEST)
        self.texts: list[str] = []

    def run(self, *argv) -> tuple[int, str]:
        code, out, err = run(self.capsys, [str(a) for a in argv], self.env)
        self.texts += [out, err]
        if "json" in argv:
            json.loads(out)
        return code, out + err

    def file(self, path) -> None:
        self.texts.append(path.read_text(encoding="utf-8"))


@pytest.fixture
def commands(emu, env, capsys, tmp_path, monkeypatch):
    import time

    soon = int(time.time()) + DAY
    emu.seed([{"id": "B2C_1A_Sig", "keys": [{"kid": "k2", "kty": "RSA", "use": "sig"},
                                           {"kid": KID, "kty": "RSA", "use": "sig", "x5t": X5T}]},
              {"id": "B2C_1A_Extra", "keys": [{"kid": OTHER_KID, "kty": "oct", "use": "enc", "nbf": soon - 9 * DAY,
                                               "exp": soon, "x5t": X5T}]}])
    return Commands(emu, env, capsys, tmp_path, monkeypatch)


def cli_plan(c: Commands) -> None:
    for fmt in ("text", "markdown", "json"):
        code, text = c.run("plan", "--format", fmt, c.manifest)
        assert code == 0 and "B2C_1A_Extra" in text
    assert printable(KID) in c.texts[0]


def cli_drift(c: Commands) -> None:
    for fmt in ("text", "markdown", "json"):
        code, text = c.run("drift", "--format", fmt, c.manifest)
        assert code == 14 and "B2C_1A_Extra" in text  # changes, unmanaged and an expiring key
    assert f"key {printable(OTHER_KID)} in B2C_1A_Extra expires" in c.texts[0]


def cli_export(c: Commands) -> None:
    code, text = c.run("export")
    assert code == 0 and f"kid {printable(OTHER_KID)}" in text
    code, _ = c.run("export", "--out", c.tmp / "exported.yaml")
    c.file(c.tmp / "exported.yaml")
    assert code == 0 and load_manifests([str(c.tmp / "exported.yaml")]).state


def cli_apply(c: Commands) -> None:
    saved = c.tmp / "plan.json"
    code, _ = c.run("plan", "--out", saved, c.manifest)  # a lone surrogate in an x5t: hashed, written escaped
    assert code == 0
    c.file(saved)
    c.emu.seed([{"id": "B2C_1A_Later", "keys": [{"kid": KID, "kty": "RSA", "use": "enc", "x5t": X5T}]}])
    code, text = c.run("apply", saved)  # refused: the tenant changed, said key by key
    assert code == 1 and "the tenant changed since the plan was made" in text
    code, text = c.run("apply", "--auto-approve", c.manifest)
    assert code == 0 and "Apply complete" in text and printable(KID) in text


def cli_probe(c: Commands) -> None:
    v = OTHER_KID

    class Hostile:
        def probe(self, approve, on_step):
            approve(v)
            on_step(f"reading {v}")
            return ProbeReport(v, "2027-01-15T08:00:00Z", 1.0, "B2C_1A_" + v, (Finding(q.PREFIX, True, v, v),), 3,
                               ("B2C_1A_" + v,), (f"B2C_1A_{v}: {v}",), v)

    c.monkeypatch.setattr("reconciler.cli.context.Context.session", lambda ctx: Hostile())
    code, _ = c.run("probe", "--auto-approve", "--out", c.tmp / "readings.json")
    c.file(c.tmp / "readings.json")
    assert code == 1


def cli_doctor(c: Commands) -> None:
    from reconciler.signin.auth import Identity

    hostile = Identity(tenant_id=KID, app_id=OTHER_KID, roles=(OTHER_KID, "TrustFrameworkKeySet.ReadWrite.All"))
    c.monkeypatch.setattr("reconciler.signin.auth.TokenProvider.identity", lambda self: hostile)
    code, text = c.run("doctor")
    assert printable(KID) in text


def cli_force_unlock(c: Commands) -> None:
    from reconciler.graph.lease import Lease
    from reconciler.session import Session

    lease = Lease(Session(c.env).connect(None, command="apply", write=True), holder=KID, run=OTHER_KID)
    lease.acquire()
    code, text = c.run("force-unlock", lease.lock_id, "--force")
    assert code == 0 and "Released the tenant lease" in text


def cli_show(c: Commands) -> None:
    saved = c.tmp / "plan.json"
    assert c.run("plan", "--out", saved, c.manifest)[0] == 0
    for fmt in ("text", "markdown", "json"):
        code, text = c.run("show", saved, "--format", fmt)  # the plan rebuilt from the file, rendered again
        assert code == 0 and "B2C_1A_Extra" in text
    assert printable(KID) in c.texts[2]


CLI = {"plan": cli_plan, "drift": cli_drift, "export": cli_export, "apply": cli_apply, "probe": cli_probe,
       "doctor": cli_doctor, "force-unlock": cli_force_unlock, "show": cli_show}


@pytest.mark.parametrize("command", CLI)
def test_every_command_shows_tenant_text_escaped_on_its_own_line(command, commands):
    CLI[command](commands)
    for text in commands.texts:
        assert raw(text) == [], f"{command} writes control characters as they are"
        assert forged(text) == [], f"{command} lets a value start a line"
