"""`b2ckeys plan`: what must change in the tenant, in --format, optionally saved (--out).
With an environments file, the plan is for the environment --env names, and says so."""

from __future__ import annotations

import os
import time

from ..core.changes import Plan
from ..core.diagnostics import printable
from ..manifest.files import DEFAULT_PATHS
from ..plan import planfile
from ..plan.data import dumps, plan_data
from ..render.markdown import render_plan_markdown
from ..render.text import render_plan_text
from .context import EXIT_CHANGES, EXIT_OK, Context


def run(args, ctx: Context) -> int:
    session = ctx.session()
    planned = session.plan(args.paths, policies=args.policies or ())
    environment = session.scope.name if session.scope else None
    emit_plan(planned.plan, planned.state, args, ctx, environment=environment)  # --format, --out
    if args.detailed_exitcode and not planned.plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def emit_plan(plan: Plan, state, args, ctx: Context, *, environment: str | None = None) -> None:
    """Prints the plan in --format; with --out also saves it as a plan file."""
    ctx.out(render_plan(plan, args.format, color=ctx.color(ctx.stdout), environment=environment))
    if args.out:
        planfile.write(args.out, planfile.build(plan, state, args.paths or list(DEFAULT_PATHS), int(time.time()),
                                                policies=args.policies or (), folder=os.getcwd(),
                                                environment=environment))
        say = ctx.out if args.format == "text" else ctx.err  # keep stdout pure JSON / Markdown
        say(f"Saved the plan to {args.out}. To make exactly these changes: b2ckeys apply {args.out}")


def render_plan(plan: Plan, fmt: str, *, color: bool = False, environment: str | None = None) -> str:
    """The plan in `fmt`; with an `environment`, it says which (`with_environment`)."""
    if fmt == "json":
        return dumps(with_environment_member(plan_data(plan), environment))
    body = render_plan_markdown(plan) if fmt == "markdown" else render_plan_text(plan, color=color)
    return with_environment(body, fmt, environment)


def with_environment(body: str, fmt: str, environment: str | None) -> str:
    """Text or Markdown output of plan, show or drift, headed by the environment it is for, if any."""
    if not environment:
        return body
    shown = printable(environment)
    return (f"**Environment:** `{shown}`" if fmt == "markdown" else f"Environment: {shown}") + "\n\n" + body


def with_environment_member(data: dict, environment: str | None) -> dict:
    """JSON output of plan, show or drift, with an "environment" member when there is one."""
    return {**data, "environment": environment} if environment else data
