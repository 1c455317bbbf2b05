"""`b2ckeys plan`: what must change in the tenant, in --format, optionally saved (--out)."""

from __future__ import annotations

import os
import time

from ..core.changes import Plan
from ..manifest.files import DEFAULT_PATHS
from ..plan import planfile
from ..plan.data import dumps, plan_data
from ..render.markdown import render_plan_markdown
from ..render.text import render_plan_text
from .context import EXIT_CHANGES, EXIT_OK, Context


def run(args, ctx: Context) -> int:
    planned = ctx.session().plan(args.paths, policies=args.policies or ())
    emit_plan(planned.plan, planned.state, args, ctx)  # --format, --out
    if args.detailed_exitcode and not planned.plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def emit_plan(plan: Plan, state, args, ctx: Context) -> None:
    """Prints the plan in --format; with --out also saves it as a plan file."""
    ctx.out(render_plan(plan, args.format, color=ctx.color(ctx.stdout)))
    if args.out:
        planfile.write(args.out, planfile.build(plan, state, args.paths or list(DEFAULT_PATHS), int(time.time()),
                                                policies=args.policies or (), folder=os.getcwd()))
        say = ctx.out if args.format == "text" else ctx.err  # keep stdout pure JSON / Markdown
        say(f"Saved the plan to {args.out}. To make exactly these changes: b2ckeys apply {args.out}")


def render_plan(plan: Plan, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return dumps(plan_data(plan))
    if fmt == "markdown":
        return render_plan_markdown(plan)
    return render_plan_text(plan, color=color)
