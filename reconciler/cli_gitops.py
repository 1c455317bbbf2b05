"""The GitOps side of the command line: plan formats and plan files, `apply PLANFILE`,
`drift` and `export` (issue 5), with their arguments. `cli.py` keeps the shared steps
(`_load`, `_load_and_list`, `_connect`) and the exit codes, `cli_parser.py` the root
parser, which calls `add_plan_options` and `add_commands` here.
Heavy imports stay inside the functions, as in `cli.py`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Callable

from .errors import ApplyRefused, ConfigError, GraphNotFound, ManifestError

FORMATS = ("text", "json", "markdown")


def _now() -> int:
    return int(time.time())


# -- plan: formats and --out ----------------------------------------------------------


def emit_plan(plan, state, args, ctx) -> None:
    """Prints the plan in --format; with --out also saves it as a plan file."""
    from .cli import DEFAULT_PATHS

    ctx.out(render_plan(plan, args.format, color=ctx.color(ctx.stdout)))
    if args.out:
        from . import planfile

        planfile.write(args.out, planfile.build(plan, state, args.paths or DEFAULT_PATHS, _now(),
                                                policies=args.policies or ()))
        say = ctx.out if args.format == "text" else ctx.err  # keep stdout pure JSON / Markdown
        say(f"Saved the plan to {args.out}. To make exactly these changes: b2ckeys apply {args.out}")


def render_plan(plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        from .render_json import dumps, plan_data

        return dumps(plan_data(plan))
    if fmt == "markdown":
        from .render_markdown import render_plan_markdown

        return render_plan_markdown(plan)
    from .render import render_plan_text

    return render_plan_text(plan, color=color)


# -- apply PLANFILE ---------------------------------------------------------------------


def saved_plan_path(paths: list[str]) -> str | None:
    """The plan file among apply's PATH arguments, if one is; it must then be the only one."""
    from .planfile import looks_like_plan_file

    found = [p for p in paths if looks_like_plan_file(p)]
    if not found:
        return None
    if len(paths) > 1:
        raise ApplyRefused(f"apply takes either manifest paths or one plan file, not both ({found[0]} is a "
                           "plan file); nothing was changed")
    return found[0]


def load_saved_plan(path: str, ctx, connect: Callable):
    """Checks a saved plan against the manifests and the tenant as they are now; returns
    (plan to apply, Graph client). Refuses (ApplyRefused) a stale plan, saying what changed.
    The manifests and secrets are checked before any call to Graph; `connect(state)` signs in
    (with the tenant and permission guards) and returns the client."""
    from . import planfile
    from .cli import _load, _show_diagnostics
    from .livediff import live_changes
    from .model import Severity
    from .planner import plan as make_plan
    from .render_json import live_data, plan_data
    from .secrets import loose_file_warnings, missing_secret_diagnostics
    from .steps import read_live

    saved = planfile.read(path)
    paths = [str(p) for p in saved["manifests"].get("paths") or ()]
    policies = [str(p) for p in saved["manifests"].get("policies") or ()]
    state = _load(paths, ctx, policies=policies)
    _show_diagnostics(loose_file_warnings(state), ctx)
    changed = planfile.manifest_differences(saved["manifests"], planfile.manifest_record(state, paths, policies))
    if changed:
        raise ApplyRefused(_stale(path, "the manifests changed since the plan was made", changed))
    changes = planfile.changes(saved, secrets_root(ctx.environ))  # file refs confined as the manifests' are
    missing = missing_secret_diagnostics(state, Severity.ERROR, ctx.environ)
    if missing:
        raise ManifestError(missing)

    client = connect(state)
    now = _now()
    live, warnings = read_live(client, state, now)
    _show_diagnostics(warnings, ctx)
    then = {k: v for k, v in saved["live"].items() if k != "digest"}
    if planfile.digest(live_data(live)) != saved["live"].get("digest"):
        when = saved.get("createdAt", "?")
        lines = live_changes(then, live_data(live)) or ["the live key sets differ from the plan's record"]
        raise ApplyRefused(_stale(path, f"the tenant changed since the plan was made ({when})", lines))
    fresh = make_plan(state, live, now=now)
    if plan_data(fresh)["changes"] != saved["plan"].get("changes"):
        raise ApplyRefused(_stale(path, "planning again now gives other changes", [
            "the tenant and the manifests are as recorded, so time did it: a key's exp has passed, a rotation "
            "became due, or a new UTC day began since (a rotation's first key starts at midnight)"]))
    return replace(fresh, changes=changes), client


def secrets_root(environ) -> str:
    """The real path of B2CKEYS_SECRETS_ROOT, or "" (each manifest's repository)."""
    import os

    from .confine import SECRETS_ROOT_VARIABLE

    root = environ.get(SECRETS_ROOT_VARIABLE)
    return os.path.realpath(root) if root else ""


def _stale(path: str, why: str, lines: list[str]) -> str:
    from .model import printable

    listed = "\n".join(f"  - {printable(line)}" for line in lines)  # names from the tenant: one line each
    return (f"the saved plan {path} is stale: {why}:\n{listed}\n"
            f"Nothing was changed. Make and review a new plan: b2ckeys plan --out {path}")


# -- drift and export -------------------------------------------------------------------


def cmd_drift(args, ctx) -> int:
    from .cli import _load_and_list, _show_diagnostics
    from .drift import drift
    from .model import is_backup
    from .steps import read_live

    state, client, listed = _load_and_list(args.paths, ctx, policies=args.policies, command="drift")
    now = _now()
    live, warnings = read_live(client, state, now, listed=listed)
    _show_diagnostics(warnings, ctx)
    # B2C's own word on the active key: one extra GET per key set, made by drift only
    graph_active = {}
    for keyset in live.keysets:
        if not is_backup(keyset.id):
            try:
                found = client.get_active_key(keyset.id)
            except GraphNotFound:  # deleted since the list: nothing to compare
                continue
            graph_active[keyset.id] = found.kid if found else None
    report = drift(state, live, now, args.expiry_window, graph_active)
    if args.format == "json":
        from .render_json import drift_data, dumps

        ctx.out(dumps(drift_data(report)))
    elif args.format == "markdown":
        from .render_markdown import render_drift_markdown

        ctx.out(render_drift_markdown(report))
    else:
        from .render_drift import render_drift_text

        ctx.out(render_drift_text(report, color=ctx.color(ctx.stdout)))
    return report.exit_code


def cmd_export(args, ctx) -> int:
    from .cli import _connect
    from .export import export_manifest, schema_ref_for

    live = _connect(ctx, None, command="export", write=False).list_keysets()
    tenant = ctx.environ.get("AZURE_TENANT_ID")
    result = export_manifest(live, schema_ref=schema_ref_for(args.out), tenant=tenant)
    for line in result.skipped:
        ctx.err(f"warning: {line}")
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(result.text)
        except OSError as e:
            raise ConfigError(f"cannot write {args.out}: {e.strerror or e}") from None
        ctx.err(f"Exported {result.keysets} key sets, {result.keys} keys to {args.out}. "
                f"Next: b2ckeys validate {args.out} && b2ckeys plan {args.out}")
    else:
        ctx.out(result.text)
    return 0


# -- parser ---------------------------------------------------------------------------


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (0 or more)")
    return value


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text for people (default); json, stable and versioned (format_version), for "
                   "tools; markdown, a pull-request comment, safe to post publicly")
    p.add_argument("--out", metavar="PLANFILE",
                   help="also save the plan, with what it was computed from, as JSON; "
                   "'b2ckeys apply PLANFILE' makes exactly these changes, or refuses if the tenant "
                   "or the manifests changed since. Never holds a secret")


def add_commands(sub, paths_help: str) -> None:
    from .cli_parser import add_policies_option
    from .drift import DEFAULT_WINDOW_DAYS

    p = sub.add_parser(
        "drift",
        help="report changes pending, unmanaged key sets and keys, and expiring or missing active keys",
        description="Read the tenant and report: changes pending (exit bit 2); key sets and keys no "
        "manifest declares (4); keys expired or expiring within the window with no key to take over, "
        "key sets with no active key now or at the end of the window, and key sets whose active key "
        "B2C's getActiveKey names differently (8; one extra GET per key set). Exit code 0 when there "
        "is nothing to report, 1 on error, else the OR of the bits. Makes no change.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    add_policies_option(p, "key sets they reference are never planned for deletion")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json (versioned, format_version) or markdown (an issue body)")
    p.add_argument("--expiry-window", type=_days, default=DEFAULT_WINDOW_DAYS, metavar="DAYS",
                   help=f"report keys expiring within DAYS days, and key sets with no active key "
                   f"DAYS days from now (default {DEFAULT_WINDOW_DAYS})")

    p = sub.add_parser(
        "export",
        help="write the tenant's key sets as a manifest, secrets as references, to adopt a tenant",
        description="Read the tenant's key sets and write a manifest that validates and that, planned "
        "against the same tenant, shows no change: RSA keys as generate, oct keys as secret with "
        "{env: NAME} references named after the key set, dates in RFC 3339. Backups (.bak) are "
        "left out; key sets a manifest cannot express are left out with a comment saying why.",
    )
    p.add_argument("--out", metavar="FILE",
                   help="write the manifest to FILE (default: standard output); the schema modeline "
                   "points at the nearest schemas/keysets.schema.json above FILE")
