"""`b2ckeys drift`: what is out of line in the tenant, as text, JSON or Markdown; the
exit code is the OR of the report's bits. With an environments file, the report says
which environment it is for, as `plan` does."""

from __future__ import annotations

from ..plan.data import drift_data, dumps
from ..render.drift_text import render_drift_text
from ..render.markdown import render_drift_markdown
from .context import Context
from .plan import with_environment, with_environment_member


def run(args, ctx: Context) -> int:
    session = ctx.session()
    report = session.drift(args.paths, policies=args.policies or (), window_days=args.expiry_window)
    environment = session.scope.name if session.scope else None
    if args.format == "json":
        ctx.out(dumps(with_environment_member(drift_data(report), environment)))
    elif args.format == "markdown":
        ctx.out(with_environment(render_drift_markdown(report), "markdown", environment))
    else:
        ctx.out(with_environment(render_drift_text(report, color=ctx.color(ctx.stdout)), "text", environment))
    return report.exit_code
