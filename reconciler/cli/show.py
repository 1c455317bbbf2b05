"""`b2ckeys show PLANFILE`: a saved plan printed again exactly as `plan` printed it, offline
(no environment, no sign-in, no network), in --format text, json or markdown."""

from __future__ import annotations

from ..plan import planfile
from ..plan.restore import saved_plan
from .context import EXIT_OK, Context
from .plan import render_plan


def run(args, ctx: Context) -> int:
    plan = saved_plan(args.planfile, planfile.read(args.planfile))
    ctx.out(render_plan(plan, args.format, color=ctx.color(ctx.stdout)))
    return EXIT_OK
