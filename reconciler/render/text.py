"""Plans and apply reports as text for people, in the manner of Terraform.

Pure functions from data to strings; colour is a parameter (the CLI decides it
from the terminal and NO_COLOR). Nothing here can see a secret value: changes
carry secret *references* only. Every `describe_*` line is `printable`: what the
tenant says (ids, kids, x5t, statuses, messages) is shown escaped and cannot start a line.
"""

from __future__ import annotations

from typing import Iterable

from ..core.changes import Action, ActiveKey, Change, Duplicate, Plan, Unmanaged
from ..core.diagnostics import Diagnostic, printable
from ..core.model import LiveKey, LiveState, format_time
from ..core.report import Status
from ..plan.duplicates import how_to_fix

DUPLICATES_HEADING, DUPLICATES_WHY = "Keys present more than once", "a problem: keys cannot be deleted, so disable the extra copies"

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

    def glyph(self, action: Action) -> str:
        """+ green, ~ yellow, - red, as Terraform colours them."""
        return {"+": self.green, "~": self.yellow, "-": self.red}[action.glyph](action.glyph)


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
    """One line, without glyph: what Graph call this change makes, and why when it is not plain."""
    return printable(_change_words(change))


def _change_words(change: Change) -> str:
    why = f" ({change.detail})" if change.detail else ""
    if change.action is Action.CREATE_KEYSET:
        return f"key set {change.keyset_id}"
    if change.action is Action.DELETE_KEYSET:
        return f"delete key set {change.keyset_id}{why}"
    if change.action is Action.DISABLE_KEY:
        return f"disable key {change.kid} in {change.keyset_id}{why}"
    key = change.key
    assert key is not None
    if change.action is Action.GENERATE_KEY:
        what = f"generate {key.kty.value} {key.use.value} key"
    elif change.action is Action.UPLOAD_CERTIFICATE:
        what = f"upload certificate {key.file} (x5t {key.x5t})"
    elif change.action is Action.UPLOAD_PKCS12 and key.file.in_vault:
        what = f"upload PKCS#12 from {key.file} with a one-time password (x5t {key.x5t})"
    elif change.action is Action.UPLOAD_PKCS12:
        what = f"upload PKCS#12 {key.file} with password from {key.secret} (x5t {key.x5t})"
    else:
        what = f"upload secret from {key.secret} ({key.use.value})"
    when = dates(key.nbf, key.exp)
    rotation = f" (rotation: {change.detail})" if change.detail else ""
    return f"key in {change.keyset_id}: {what}" + (f", {when}" if when else "") + rotation


def describe_active(view: ActiveKey, plan: Plan) -> str:
    """Which key B2C uses in a key set, now and once the plan is applied."""
    return printable(_active_words(view, plan))


def _active_words(view: ActiveKey, plan: Plan) -> str:
    now = f"key {view.now_kid}" if view.now_kid else "no key"
    if view.after_change is not None:
        key = plan.changes[view.after_change].key
        when = dates(key.nbf, key.exp)
        after = "a key this plan adds" + (f" ({when})" if when else "")
    else:
        after = f"key {view.after_kid}" if view.after_kid else "no key (AADB2C90019 at sign-in)"
    if view.after_kid is not None and view.after_kid == view.now_kid:
        return f"{view.keyset_id}: {now}, now and after apply"
    if plan.live.find(view.keyset_id) is None:
        return f"{view.keyset_id}: a new key set; after apply {after}"
    return f"{view.keyset_id}: {now} now; after apply {after}"


def describe_live_key(key: LiveKey) -> str:
    use = getattr(key.use, "value", key.use) or "?"
    when = dates(key.nbf, key.exp)
    status = f", {key.status}" if key.status else ""
    return printable(f"{key.kty.value} {use}" + (f", {when}" if when else "") + status)


def describe_unmanaged(item: Unmanaged) -> str:
    note = f" ({item.note})" if item.note else ""
    if item.kid is None:
        return printable(f"key set {item.keyset_id}{note}")
    detail = f": {describe_live_key(item.key)}" if item.key else ""
    return printable(f"key {item.kid} in {item.keyset_id}{detail}{note}")


def duplicate_copies(item: Duplicate, live: LiveState) -> list[tuple[str, str]]:
    """Each extra copy's kid, and its metadata in words where its dates differ from the kept key's
    (a copy of a key whose manifest leaves a date out); "" where they are the same."""
    current = live.find(item.keyset_id)
    by_kid = {k.kid: k for k in current.keys} if current else {}
    copies = []
    for kid in item.extra:
        other = by_kid.get(kid)
        same = other is None or (other.nbf, other.exp) == (item.key.nbf, item.key.exp)
        copies.append((kid, "" if same else describe_live_key(other)))
    return copies


def describe_duplicate(item: Duplicate, live: LiveState) -> str:
    """One line: the key kept, where, and its extra copies."""
    copies = ", ".join(f"{kid} ({what})" if what else kid for kid, what in duplicate_copies(item, live))
    return printable(f"key {item.kids[0]} in {item.keyset_id} ({describe_live_key(item.key)}) is present again as "
                     f"key{'s' if len(item.extra) > 1 else ''} {copies}")


def duplicate_lines(plan: Plan, style: "Style") -> list[str]:
    """The duplicates section of a plan or a drift report (empty when there are none)."""
    lines: list[str] = []
    for item in plan.duplicates:
        lines += [f"  {style.red('!')} {describe_duplicate(item, plan.live)}",
                  f"    fix: {printable(how_to_fix(item, plan.changes))}"]
    return [f"{DUPLICATES_HEADING} ({DUPLICATES_WHY}):", ""] + lines + [""] if lines else []


def duplicates_count(duplicates: tuple[Duplicate, ...]) -> str:
    n = len(duplicates)
    return f"{plural(n, 'key')} {'is' if n == 1 else 'are'} present more than once"


def summary_line(plan: Plan) -> str:
    if plan.is_empty and plan.duplicates:
        return f"No changes to make, but {duplicates_count(plan.duplicates)} in the tenant: disable the extra copies."
    if plan.is_empty:
        return "No changes. The tenant's key sets match the manifests."
    also = f" {duplicates_count(plan.duplicates)} in the tenant." if plan.duplicates else ""
    return f"Plan: {totals(plan.changes, ' to create', ' to add', ' to disable', ' to delete')}.{also}"


def totals(changes, created: str, added: str, disabled: str, deleted: str) -> str:
    """"2 key sets to create, 3 keys to add" (+ disables and deletes, when there are any)."""
    count = lambda *actions: sum(1 for c in changes if c.action in actions)  # noqa: E731
    parts = [plural(count(Action.CREATE_KEYSET), "key set") + created,
             plural(sum(1 for c in changes if c.action.adds_key), "key") + added]
    if count(Action.DISABLE_KEY):
        parts.append(plural(count(Action.DISABLE_KEY), "key") + disabled)
    if count(Action.DELETE_KEYSET):
        parts.append(plural(count(Action.DELETE_KEYSET), "key set") + deleted)
    return ", ".join(parts)


def render_plan_text(plan: Plan, *, color: bool = False) -> str:
    style = Style(color)
    lines: list[str] = []
    if plan.changes:
        lines.append("b2ckeys will make these changes:")
        lines.append("")
        lines.extend(f"  {style.glyph(c.action)} {describe_change(c)}" for c in plan.changes)
        lines.append("")
    if plan.active:
        lines += ["Active key of each key set changed (B2C's rule: the valid key with the latest nbf):", ""]
        lines += [f"  {describe_active(a, plan)}" for a in plan.active] + [""]
    lines += duplicate_lines(plan, style)
    if plan.unmanaged:
        lines.append("Not in any manifest (left as they are):")
        lines.append("")
        lines.extend(f"  {style.yellow('?')} {describe_unmanaged(u)}" for u in plan.unmanaged)
        lines.append("")
    lines.extend(render_diagnostics(plan.warnings, color=color))
    if plan.warnings:
        lines.append("")
    for note in plan.notes:
        lines.append(f"Note: {printable(note)}")
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
    style = Style(color)
    text = describe_change(outcome.change)
    if outcome.status is Status.DONE:
        verb = "found" if outcome.found else {Action.CREATE_KEYSET: "created", Action.DISABLE_KEY: "done",
                                              Action.DELETE_KEYSET: "done"}.get(outcome.change.action, "added")
        extra = f" ({printable(outcome.detail)})" if outcome.detail else ""  # the kid Graph answered
        return f"{style.glyph(outcome.change.action)} {text}: {verb}{extra}"
    if outcome.status is Status.FAILED:
        return f"{style.red('!')} {text}: {style.red('failed')}: {printable(outcome.detail)}"
    return f"  {text}: not attempted"


def render_report(report, *, color: bool = False) -> str:
    style = Style(color)
    done = report.with_status(Status.DONE)
    made = totals([o.change for o in done if not o.found], " created", " added", " disabled", " deleted")
    found = sum(1 for o in done if o.found)
    if found:  # another run made them (b2ckeys wrote nothing for them)
        made += f"; {plural(found, 'change')} found made already"
    if report.ok:
        return style.bold(f"Apply complete: {made}.") + "\n"
    problems = [f"  ! {printable(p)}" for p in report.problems]  # they name keys from the tenant
    if len(done) == len(report.outcomes):
        return "\n".join([style.red(f"Apply complete: {made}; but the tenant needs attention:")] + problems) + "\n"
    how = "interrupted" if report.interrupted else "failed"
    lines = [style.red(f"Apply {how}: {len(done)} of {len(report.outcomes)} changes done ({made}).")]
    for title, status in (("Failed", Status.FAILED), ("Not attempted", Status.NOT_ATTEMPTED)):
        items = report.with_status(status)
        if items:
            lines.append(f"{title}:")
            for o in items:
                reason = f": {printable(o.detail)}" if o.detail else ""
                lines.append(f"  {o.change.action.glyph} {describe_change(o.change)}{reason}")
    if problems:
        lines += ["Found afterwards:"] + problems
    first = "Run apply again to finish" if report.interrupted else "Fix the cause and run apply again"
    lines.append(
        f"Nothing was rolled back. {first}: it adds only what is still missing "
        "('b2ckeys plan' shows what that is)."
    )
    return "\n".join(lines) + "\n"
