"""`b2ckeys drift`: what is out of line in the tenant, as text, JSON or Markdown; the
exit code is the OR of the report's bits."""

from __future__ import annotations

from ..plan.data import drift_data, dumps
from ..render.drift_text import render_drift_text
from ..render.markdown import render_drift_markdown
from .context import Context


def run(args, ctx: Context) -> int:
    report = ctx.session().drift(args.paths, policies=args.policies or (), window_days=args.expiry_window)
    if args.format == "json":
        ctx.out(dumps(drift_data(report)))
    elif args.format == "markdown":
        ctx.out(render_drift_markdown(report))
    else:
        ctx.out(render_drift_text(report, color=ctx.color(ctx.stdout)))
    return report.exit_code
