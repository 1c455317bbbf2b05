"""`b2ckeys apply`: the plan shown, approved ('yes' on a terminal, or --auto-approve), then
made, with progress; or a saved plan file applied exactly, while it still holds, without
asking (as Terraform: the review happened when the plan was made)."""

from __future__ import annotations

from dataclasses import replace

from ..core.diagnostics import printable
from ..core.errors import ApplyRefused
from ..plan.planfile import looks_like_plan_file
from ..render.progress import Progress
from ..render.text import describe_change, render_outcome, render_plan_text, render_report
from ..session.leasing import LeaseOptions
from ..session.saved import load_saved_plan
from .context import EXIT_OK, Context
from .interrupts import StopOnSignal, TerminateAsInterrupt


def run(args, ctx: Context) -> int:
    session = ctx.session()
    session.lease_options = LeaseOptions(enabled=args.lock, timeout=args.lock_timeout,
                                         on_wait=lambda info: _waiting(ctx, info, args.lock_timeout))
    if not args.lock:
        ctx.err("warning: --lock=false: the tenant lease is not taken; another apply running now may add "
                "the same keys, and keys cannot be deleted one by one")
    with TerminateAsInterrupt(), session:  # the lease is given back on every way out
        return _run(args, ctx, session)


def _run(args, ctx: Context, session) -> int:
    planfile = saved_plan_path(args.paths)
    if not planfile and not args.auto_approve and not _can_ask(ctx):  # it will refuse after the plan:
        session.lease_options = replace(session.lease_options, enabled=False)  # no write at all, the lease's neither
    if planfile:  # exactly the saved changes, or a refusal saying what changed since
        planned = load_saved_plan(session, planfile, workers=args.parallelism)
        ctx.out(f"The saved plan {planfile} still matches the tenant and the manifests.\n")
    else:
        planned = session.plan_to_apply(args.paths, policies=args.policies or (), workers=args.parallelism)
    plan = planned.plan
    color = ctx.color(ctx.stdout)
    if session.scope:  # with an environments file: say which environment this is
        ctx.out(f"Environment: {printable(session.scope.name)} (tenant {printable(session.scope.tenant)})\n")
    ctx.out(render_plan_text(plan, color=color))
    if plan.is_empty:
        return EXIT_OK
    if plan.unsafe and not args.allow_destroy:
        raise ApplyRefused("this plan deletes too many key sets at once (see the warning above); nothing was "
                           "changed. Review it, then rerun with --allow-destroy")
    if not planfile:  # a saved plan was reviewed when it was made: applied without asking
        _approve(args, ctx)
    ctx.out("")
    progress = Progress(ctx.stdout, len(plan.changes), live=ctx.interactive(ctx.stdout),
                        width=lambda: ctx.width(ctx.stdout))
    with StopOnSignal(ctx) as stop, progress:
        report = session.apply(
            planned,
            on_start=lambda change: progress.started(describe_change(change)),
            on_outcome=lambda o: progress.finished(render_outcome(o, color=color)),
            parallelism=args.parallelism,
            stop=stop.event,
        )
    ctx.out("")
    text = render_report(report, color=ctx.color(ctx.stdout if report.ok else ctx.stderr))
    if report.ok:
        ctx.out(text)
    else:
        ctx.err(text)
    return stop.exit_code if report.interrupted else report.exit_code


def _can_ask(ctx: Context) -> bool:
    return bool(hasattr(ctx.stdin, "isatty") and ctx.stdin.isatty())


def _waiting(ctx: Context, info, timeout: float) -> None:
    what = info.describe() if info is not None else "a lease being taken"
    ctx.err(f"Waiting up to {timeout:g} s for the tenant lease: {what}")


def saved_plan_path(paths: list[str]) -> str | None:
    """The plan file among apply's PATH arguments, if one is; it must then be the only one."""
    found = [p for p in paths if looks_like_plan_file(p)]
    if not found:
        return None
    if len(paths) > 1:
        raise ApplyRefused(f"apply takes either manifest paths or one plan file, not both ({found[0]} is a "
                           "plan file); nothing was changed")
    return found[0]


def _approve(args, ctx: Context) -> None:
    if args.auto_approve:
        return
    if not _can_ask(ctx):
        raise ApplyRefused(
            "apply needs approval and there is no terminal to ask on; nothing was changed. "
            "Review the plan above and rerun with --auto-approve"
        )
    ctx.stdout.write("Make these changes? Only 'yes' is accepted: ")
    ctx.stdout.flush()
    if ctx.stdin.readline().strip() != "yes":
        raise ApplyRefused("apply cancelled; nothing was changed")
