"""Plans and apply reports as text for people, in the manner of Terraform.

Pure functions from data to strings; colour is a parameter (the CLI decides it
from the terminal and NO_COLOR). Nothing here can see a secret value: changes
carry secret *references* only.
"""

from __future__ import annotations

from typing import Iterable

from .model import Action, Change, Diagnostic, LiveKey, Plan, Unmanaged, format_time

_GREEN, _YELLOW, _RED, _BOLD, _RESET = "\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"


class Style:
    def __init__(self, color: bool):
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def green(self, text: str) -> str:
        return self._wrap(_GREEN, text)

    def yellow(self, text: str) -> str:
        return self._wrap(_YELLOW, text)

    def red(self, text: str) -> str:
        return self._wrap(_RED, text)

    def bold(self, text: str) -> str:
        return self._wrap(_BOLD, text)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def dates(nbf: int | None, exp: int | None) -> str:
    parts = []
    if nbf is not None:
        parts.append(f"nbf {format_time(nbf)}")
    if exp is not None:
        parts.append(f"exp {format_time(exp)}")
    return ", ".join(parts)


def describe_change(change: Change) -> str:
    """One line, without glyph: what Graph call this change makes."""
    if change.action is Action.CREATE_KEYSET:
        return f"key set {change.keyset_id}"
    key = change.key
    assert key is not None
    if change.action is Action.GENERATE_KEY:
        what = f"generate {key.kty.value} {key.use.value} key"
    else:
        what = f"upload secret from {key.secret} ({key.use.value})"
    when = dates(key.nbf, key.exp)
    return f"key in {change.keyset_id}: {what}" + (f", {when}" if when else "")


def describe_live_key(key: LiveKey) -> str:
    use = getattr(key.use, "value", key.use) or "?"
    when = dates(key.nbf, key.exp)
    status = f", {key.status}" if key.status else ""
    return f"{key.kty.value} {use}" + (f", {when}" if when else "") + status


def describe_unmanaged(item: Unmanaged) -> str:
    if item.kid is None:
        return f"key set {item.keyset_id}"
    detail = f": {describe_live_key(item.key)}" if item.key else ""
    return f"key {item.kid} in {item.keyset_id}{detail}"


def summary_line(plan: Plan) -> str:
    if plan.is_empty:
        return "No changes. The tenant's key sets match the manifests."
    return (
        f"Plan: {plural(plan.keysets_to_create, 'key set')} to create, "
        f"{plural(plan.keys_to_add, 'key')} to add."
    )


def render_plan_text(plan: Plan, *, color: bool = False) -> str:
    style = Style(color)
    lines: list[str] = []
    if plan.changes:
        lines.append("b2ckeys will make these changes:")
        lines.append("")
        lines.extend(f"  {style.green(c.action.glyph)} {describe_change(c)}" for c in plan.changes)
        lines.append("")
    if plan.unmanaged:
        lines.append("Not in any manifest (left as they are):")
        lines.append("")
        lines.extend(f"  {style.yellow('?')} {describe_unmanaged(u)}" for u in plan.unmanaged)
        lines.append("")
    lines.extend(render_diagnostics(plan.warnings, color=color))
    if plan.warnings:
        lines.append("")
    for note in plan.notes:
        lines.append(f"Note: {note}")
        lines.append("")
    lines.append(style.bold(summary_line(plan)))
    return "\n".join(lines) + "\n"


def render_diagnostics(diagnostics: Iterable[Diagnostic], *, color: bool = False) -> list[str]:
    style = Style(color)
    out = []
    for d in diagnostics:
        text = str(d)
        out.append(style.yellow(text) if d.severity.value == "warning" else style.red(text))
    return out


def render_outcome(outcome, *, color: bool = False) -> str:
    """One line per change as apply makes it."""
    from .applier import Status

    style = Style(color)
    text = describe_change(outcome.change)
    if outcome.status is Status.DONE:
        verb = "created" if outcome.change.action is Action.CREATE_KEYSET else "added"
        extra = f" ({outcome.detail})" if outcome.detail else ""
        return f"{style.green(outcome.change.action.glyph)} {text}: {verb}{extra}"
    if outcome.status is Status.FAILED:
        return f"{style.red('!')} {text}: {style.red('failed')}: {outcome.detail}"
    return f"  {text}: not attempted"


def render_report(report, *, color: bool = False) -> str:
    from .applier import Status

    style = Style(color)
    done = report.with_status(Status.DONE)
    created = sum(1 for o in done if o.change.action is Action.CREATE_KEYSET)
    added = len(done) - created
    totals = f"{plural(created, 'key set')} created, {plural(added, 'key')} added"
    if report.ok:
        return style.bold(f"Apply complete: {totals}.") + "\n"
    how = "interrupted" if report.interrupted else "failed"
    lines = [style.red(f"Apply {how}: {len(done)} of {len(report.outcomes)} changes done ({totals}).")]
    for title, status in (("Failed", Status.FAILED), ("Not attempted", Status.NOT_ATTEMPTED)):
        items = report.with_status(status)
        if items:
            lines.append(f"{title}:")
            for o in items:
                reason = f": {o.detail}" if o.detail else ""
                lines.append(f"  {o.change.action.glyph} {describe_change(o.change)}{reason}")
    first = "Run apply again to finish" if report.interrupted else "Fix the cause and run apply again"
    lines.append(
        f"Nothing was rolled back. {first}: it adds only what is still missing "
        "('b2ckeys plan' shows what that is)."
    )
    return "\n".join(lines) + "\n"
