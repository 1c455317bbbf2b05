"""`b2ckeys show PLANFILE`: a saved plan printed again exactly as `plan` printed it, offline
(no environment, no sign-in, no network), in --format text, json or markdown; with the
environment (b2ckeys.yaml) it was made for, when it records one."""

from __future__ import annotations

from ..plan import planfile
from ..plan.restore import saved_plan
from .context import EXIT_OK, Context
from .plan import render_plan


def run(args, ctx: Context) -> int:
    data = planfile.read(args.planfile)
    plan = saved_plan(args.planfile, data)
    environment = data.get("environment")
    ctx.out(render_plan(plan, args.format, color=ctx.color(ctx.stdout),
                        environment=str(environment) if environment else None))
    return EXIT_OK
