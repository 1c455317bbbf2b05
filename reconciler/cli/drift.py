"""`b2ckeys drift`: what is out of line in the tenant, as text, JSON or Markdown; the
exit code is the OR of the report's bits. With an environments file, the report says
which environment it is for, as `plan` does."""

from __future__ import annotations

from ..core.diagnostics import printable
from ..plan.data import drift_data, dumps
from ..render.drift_text import render_drift_text
from ..render.markdown import render_drift_markdown
from .context import Context


def run(args, ctx: Context) -> int:
    session = ctx.session()
    report = session.drift(args.paths, policies=args.policies or (), window_days=args.expiry_window)
    environment = session.scope.name if session.scope else None
    shown = printable(environment or "")
    if args.format == "json":
        data = drift_data(report)
        ctx.out(dumps({**data, "environment": environment} if environment else data))
    elif args.format == "markdown":
        ctx.out((f"**Environment:** `{shown}`\n\n" if environment else "") + render_drift_markdown(report))
    else:
        head = f"Environment: {shown}\n\n" if environment else ""
        ctx.out(head + render_drift_text(report, color=ctx.color(ctx.stdout)))
    return report.exit_code
