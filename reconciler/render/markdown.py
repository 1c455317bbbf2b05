"""Plans and drift reports as GitHub-flavoured Markdown: a pull-request comment or an
issue body, safe to post publicly.

Safe means: no secret (a Plan holds references only), and no text from manifests
or from the tenant can break out of its place: all of it is `printable` first (control,
bidi and invisible characters escaped, as in the text plan), then names, paths and kids go in code
spans (a `|` escaped inside tables; GitHub makes no link or @mention in code), other
text is HTML-escaped, has Markdown's punctuation backslash-escaped and autolinks,
@mentions and issue references broken, and the full text plan goes in a `<pre>` block,
HTML-escaped (GitHub makes no link or mention in `<pre>` either). Pure. A hostile-input
test renders the output with GitHub's own cmark-gfm (`tests/test_markdown_safety.py`).
"""

from __future__ import annotations

import html

from ..core.changes import Action, Change, Plan
from ..core.diagnostics import printable
from ..core.model import format_time
from ..plan.drift import DriftReport
from ..plan.duplicates import how_to_fix
from .drift_text import drift_summary, problem_rows, render_drift_text
from .text import (DUPLICATES_HEADING, DUPLICATES_WHY, dates, describe_active, describe_live_key, duplicate_copies,
                   render_plan_text, summary_line)

_PUNCTUATION = "\\`*[]|~"
_ZWSP = "&#8203;"


def text(value: str) -> str:
    """Plain text that renders as itself: HTML and Markdown specials neutralised, one line,
    and nothing GitHub would turn into a link or a notification: no bare URL or `www.`
    autolink, no e-mail link, no @mention, no #123 or org/repo#123 issue reference (a
    zero-width space, `&#8203;`, after `@` and such a `#`)."""
    flat = " ".join(printable(str(value)).split())
    out = []
    for i, ch in enumerate(flat):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _PUNCTUATION or (ch == "_" and not (flat[i - 1: i].isalnum() and flat[i + 1: i + 2].isalnum())):
            out.append("\\" + ch)  # `_` only where it could open or close emphasis: B2C_1A_X stays
        elif ch == "@" or (ch == "#" and flat[i + 1: i + 2].isdigit() and _reference_before(flat, i)):
            out.append(ch + _ZWSP)
        elif (ch == ":" and flat.startswith("//", i + 1)) or (ch == "." and flat[max(i - 3, 0): i].lower() == "www"):
            out.append("\\" + ch)  # an escaped character ends an autolink's scheme or www. prefix
        else:
            out.append(ch)
    return "".join(out)


def _reference_before(flat: str, i: int) -> bool:
    """`#12` at `i` is an issue reference: `#12` alone, or `org/repo#12` (not `PKCS#12`)."""
    return not flat[i - 1: i].isalnum() or "/" in flat[:i].rsplit(" ", 1)[-1]


def code(value: str, *, table: bool = False) -> str:
    """A code span (shown verbatim, HTML inert); escaped plain text when it holds a backtick."""
    flat = " ".join(printable(str(value)).split())
    if "`" in flat or not flat:
        return text(flat)
    if table:
        flat = flat.replace("|", "\\|")  # GFM unescapes it before reading the code span
    return f"`{flat}`"


def details(summary: str, body: str) -> list[str]:
    """A collapsed block holding `body`'s lines verbatim (printable, HTML-escaped inside <pre>)."""
    lines = "\n".join(printable(line) for line in body.rstrip("\n").split("\n"))
    return ["<details>", f"<summary>{html.escape(summary)}</summary>", "", "<pre>",
            html.escape(lines, quote=False), "</pre>", "", "</details>"]


def change_cells(change: Change) -> tuple[str, str]:
    """(key set, what the change does) as Markdown table cells."""
    keyset = code(change.keyset_id, table=True)
    why = " " + text(f"({change.detail})") if change.detail else ""
    if change.action is Action.DELETE_KEYSET:
        return keyset, "**delete the key set**" + why
    if change.action is Action.DISABLE_KEY:
        return keyset, f"disable key {code(str(change.kid), table=True)}{why}"
    if change.action is Action.CREATE_KEYSET or change.key is None:
        return keyset, "create the key set"
    key = change.key
    if change.action is Action.GENERATE_KEY:
        what = text(f"generate {key.kty.value} {key.use.value} key")
    elif change.action is Action.UPLOAD_CERTIFICATE:
        what = f"upload certificate {code(str(key.file), table=True)} (x5t {code(str(key.x5t), table=True)})"
    elif change.action is Action.UPLOAD_PKCS12:
        what = (f"upload PKCS#12 {code(str(key.file), table=True)}, password from "
                f"{code(str(key.secret), table=True)} (x5t {code(str(key.x5t), table=True)})")
    else:
        what = f"upload a secret from {code(str(key.secret), table=True)} ({key.use.value})"
    when = dates(key.nbf, key.exp)
    return keyset, what + (text(f", {when}") if when else "") + (" " + text(f"(rotation: {change.detail})") if change.detail else "")


def changes_table(changes: tuple[Change, ...]) -> list[str]:
    lines = ["| | Key set | Change | Declared at |", "|:-:|---|---|---|"]
    for change in changes:
        keyset, what = change_cells(change)
        where = code(str(change.location), table=True) if change.location else ""
        lines.append(f"| {change.action.glyph} | {keyset} | {what} | {where} |")
    return lines


def unmanaged_list(plan: Plan) -> list[str]:
    lines = []
    for item in plan.unmanaged:
        if item.kid is None:
            lines.append(f"- key set {code(item.keyset_id)}" + (f" ({text(item.note)})" if item.note else ""))
        else:
            detail = f": {text(describe_live_key(item.key))}" if item.key else ""
            lines.append(f"- key {code(item.kid)} in {code(item.keyset_id)}{detail}")
    return lines


def duplicates_list(plan: Plan) -> list[str]:
    """The keys present more than once, with how to disable each extra copy."""
    if not plan.duplicates:
        return []
    lines = [f"**{text(DUPLICATES_HEADING)}** ({text(DUPLICATES_WHY)})", ""]
    for item in plan.duplicates:
        copies = ", ".join(code(kid) + (f" ({text(what)})" if what else "")
                           for kid, what in duplicate_copies(item, plan.live))
        lines.append(f"- key {code(item.kids[0])} in {code(item.keyset_id)} ({text(describe_live_key(item.key))}) is "
                     f"present again as {copies}. Fix: {text(how_to_fix(item, plan.changes))}")
    return lines + [""]


def warnings_list(plan: Plan) -> list[str]:
    return [(f"- {code(str(d.location))}: " if d.location else "- ") + text(d.message) for d in plan.warnings]


def render_plan_markdown(plan: Plan) -> str:
    lines = ["### b2ckeys plan", "", f"**{text(summary_line(plan))}**", ""]
    if plan.changes:
        lines += changes_table(plan.changes) + [""]
    if plan.active:
        lines += ["**Active key** of each key set changed (B2C's rule)", ""]
        lines += [f"- {text(describe_active(a, plan))}" for a in plan.active] + [""]
    lines += duplicates_list(plan)
    if plan.warnings:
        lines += ["**Warnings**", ""] + warnings_list(plan) + [""]
    if plan.unmanaged:
        lines += ["**Not in any manifest** (left as they are)", ""] + unmanaged_list(plan) + [""]
    for note in plan.notes:
        lines += [f"> **Note:** {text(note)}", ""]
    lines += details("Full plan", render_plan_text(plan))
    return "\n".join(lines) + "\n"


def render_drift_markdown(report: DriftReport) -> str:
    lines = [
        "### b2ckeys drift",
        "",
        f"**{text(drift_summary(report))}**",
        "",
        text(f"Checked at {format_time(report.now)}, expiry window {report.window_days} days "
             f"(until {format_time(report.window_end)})."),
        "",
    ]
    rows = problem_rows(report)
    if rows:
        lines += ["**Key problems** (sign-ins fail with AADB2C90019 when a key set has no active key)", "",
                  "| Key set | Key | Problem |", "|---|---|---|"]
        lines += [f"| {code(ks, table=True)} | {code(kid, table=True) if kid else ''} | {text(what)} |"
                  for ks, kid, what in rows]
        lines.append("")
    if report.changes:
        lines += ["**Changes pending** (`b2ckeys apply` would make them)", ""]
        lines += changes_table(report.changes) + [""]
    lines += duplicates_list(report.plan)
    if report.unmanaged:
        lines += ["**Not in any manifest** (left as they are)", ""] + unmanaged_list(report.plan) + [""]
    if report.plan.warnings:
        lines += ["**Warnings**", ""] + warnings_list(report.plan) + [""]
    lines += details("Full report", render_drift_text(report))
    return "\n".join(lines) + "\n"
