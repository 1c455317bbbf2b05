"""Drift reports as text for people (the JSON form is in `plan.data`, Markdown in
`render.markdown`). Pure; shares the plan's wording from `render.text`, and shows what the
tenant says `printable`, as it does."""

from __future__ import annotations

from ..core.diagnostics import printable
from ..core.model import format_time
from ..plan.drift import DAY, DriftReport
from .text import (Style, describe_change, describe_unmanaged, duplicate_lines, duplicates_count, plural,
                   render_diagnostics)


def problem_rows(report: DriftReport) -> list[tuple[str, str | None, str]]:
    """Every key problem as (key set id, kid or None, what is wrong): key sets first, then keys."""
    rows: list[tuple[str, str | None, str]] = []
    for item in report.no_active:
        if item.missing:
            rows.append((item.keyset_id, None, f"is {item.reason}"))
            continue
        if item.now and item.window_end:
            when = "has no active key now, nor at the end of the window"
        elif item.now:
            when = "has no active key now"
        else:
            when = f"will have no active key at the end of the window ({format_time(report.window_end)})"
        rows.append((item.keyset_id, None, f"{when}: {item.reason}"))
    for e in report.expired:
        rows.append((e.keyset_id, e.kid, f"expired on {format_time(e.exp)} and no key took over"))
    for e in report.expiring:
        left = e.exp - report.now
        soon = f"in {plural(left // DAY, 'day')}" if left >= DAY else "in less than a day"
        rows.append((e.keyset_id, e.kid, f"expires on {format_time(e.exp)} ({soon}) and no key takes over then"))
    for a in report.disagreements:
        graph = f"key {a.graph_kid}" if a.graph_kid else "no key"
        local = f"key {a.local_kid}" if a.local_kid else "no key"
        rows.append((a.keyset_id, None, f"is using {graph} by B2C's getActiveKey, but {local} by the rule "
                                        "b2ckeys applies to the keys listed: B2C's answer counts"))
    for v in report.vault_expiring:
        when = "expired on" if v.exp <= report.now else "expires on"
        rows.append((v.keyset_id, None, f"takes its secret from {v.ref}, which {when} {format_time(v.exp)} in the "
                                        f"vault ({v.ref.location}): add a new version there"))
    return rows


def vault_newer_lines(report: DriftReport) -> list[str]:
    return [printable(f"key set {v.keyset_id}: {v.ref} is pinned at {v.ref.location}; the vault has a newer "
                      f"enabled version {v.newer}") for v in report.vault_newer]


def active_lines(report: DriftReport) -> list[str]:
    """The active key of every key set now, confirmed (or not) by getActiveKey."""
    out = []
    for a in report.active:
        kid = f"key {a.local_kid}" if a.local_kid else "no key"
        check = (f"; not compared: {a.unknown}" if a.unknown else "" if not a.checked else ", as getActiveKey says" if a.agree
                 else f"; getActiveKey says {'key ' + a.graph_kid if a.graph_kid else 'no key'}")
        out.append(printable(f"{a.keyset_id}: {kid}{check}"))
    return out


def problem_lines(report: DriftReport) -> list[str]:
    return [printable(f"key {kid} in {keyset} {text}" if kid is not None else f"key set {keyset} {text}")
            for keyset, kid, text in problem_rows(report)]


def drift_summary(report: DriftReport) -> str:
    if report.exit_code == 0:
        return (f"No drift: the tenant matches the manifests, and every key set has an active key "
                f"until {format_time(report.window_end)} at least.")
    parts = []
    if report.changes:
        parts.append(f"{plural(len(report.changes), 'change')} pending")
    if report.vault_newer:
        parts.append(f"{plural(len(report.vault_newer), 'newer vault version')} not uploaded")
    if report.duplicates:
        parts.append(duplicates_count(report.duplicates))
    if report.unmanaged:
        parts.append(f"{len(report.unmanaged)} not in any manifest")
    if report.key_problems:
        parts.append(plural(report.key_problems, "key problem"))
    return f"Drift: {', '.join(parts)} (exit code {report.exit_code})."


def render_drift_text(report: DriftReport, *, color: bool = False) -> str:
    style = Style(color)
    lines = [
        f"Drift at {format_time(report.now)}, expiry window {plural(report.window_days, 'day')} "
        f"(until {format_time(report.window_end)}).",
        "",
    ]
    if report.changes:
        lines += ["Changes pending ('b2ckeys apply' would make them):", ""]
        lines += [f"  {style.glyph(c.action)} {describe_change(c)}" for c in report.changes] + [""]
    if report.vault_newer:
        lines += ["Newer versions in Key Vault, not uploaded (the manifest pins a version):", ""]
        lines += [f"  {style.yellow('~')} {line}" for line in vault_newer_lines(report)] + [""]
    lines += duplicate_lines(report.plan, style)
    if report.unmanaged:
        lines += ["Not in any manifest (left as they are):", ""]
        lines += [f"  {style.yellow('?')} {describe_unmanaged(u)}" for u in report.unmanaged] + [""]
    if report.active:
        lines += ["Active keys now (B2C's rule: the valid key with the latest nbf):", ""]
        lines += [f"  {line}" for line in active_lines(report)] + [""]
    problems = problem_lines(report)
    if problems:
        lines += ["Key problems (sign-ins fail with AADB2C90019 when a key set has no active key):", ""]
        lines += [f"  {style.red('!')} {p}" for p in problems] + [""]
    lines += render_diagnostics(report.plan.warnings, color=color)
    if report.plan.warnings:
        lines.append("")
    lines.append(style.bold(drift_summary(report)))
    return "\n".join(lines) + "\n"
