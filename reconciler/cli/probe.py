"""`b2ckeys probe`: which reading of the API's undocumented behaviours this tenant follows.
It writes (a throw-away key set, deleted again), so it asks for 'yes' on a terminal or
takes --auto-approve, as apply does; with --out it saves the readings as JSON for
`b2ckeys emulator --readings-from FILE`."""

from __future__ import annotations

import json

from ..core.diagnostics import printable
from ..core.errors import ApplyRefused, ConfigError
from ..graph.probe import NAME
from ..render.probe import probe_data, render_probe
from .context import EXIT_ERROR, EXIT_OK, Context


def run(args, ctx: Context) -> int:
    if not args.auto_approve and not _terminal(ctx):
        raise ApplyRefused("probe writes to the tenant and needs approval, but there is no terminal to ask on; "
                           "nothing was changed. Rerun with --auto-approve")
    report = ctx.session().probe(approve=lambda tenant: _approve(args, ctx, tenant),
                                 on_step=lambda step: ctx.err(f"probe: {printable(step)}"))
    ctx.out("")
    ctx.out(render_probe(report, color=ctx.color(ctx.stdout)))
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(probe_data(report), indent=2) + "\n")
        except OSError as e:
            raise ConfigError(f"cannot write {args.out}: {e.strerror or e}") from None
        ctx.out(f"Saved the readings to {args.out}. To emulate this tenant: "
                f"b2ckeys emulator --readings-from {args.out}")
    if report.failure:
        ctx.err(f"error: the probe stopped early, at {printable(report.failure)}")  # Graph's answer
    for left in report.left:
        ctx.err(f"error: left in the tenant, delete it by hand: {printable(left)}")
    return EXIT_OK if report.ok else EXIT_ERROR


def _terminal(ctx: Context) -> bool:
    return bool(hasattr(ctx.stdin, "isatty") and ctx.stdin.isatty())


def _approve(args, ctx: Context, tenant: str) -> None:
    ctx.out(f"probe will create a throw-away key set B2C_1A_{NAME}<random> in tenant {printable(tenant)}, upload two "
            "random secrets to it, and delete it and its .bak again (about 15 Graph requests).")
    if args.auto_approve:
        return
    ctx.stdout.write("Go on? Only 'yes' is accepted: ")
    ctx.stdout.flush()
    if ctx.stdin.readline().strip() != "yes":
        raise ApplyRefused("probe cancelled; nothing was changed")
