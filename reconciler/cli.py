"""The command line: the commands, the environment, exit codes (design 3.1-3.3).
The arguments of each command are in `cli_parser` (`build_parser` is importable here).

`main(argv=None, environ=None) -> int`. Every `ReconcilerError` becomes one
line per problem on stderr and exit code 1; no traceback. Heavy imports (msal,
requests, jsonschema, cryptography) happen inside the commands that need them,
so `b2ckeys --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import Mapping, TextIO

from .cli_emulator import cmd_emulator
from .cli_gitops import cmd_drift, cmd_export
from .cli_parser import build_parser
from .errors import ApplyRefused, ManifestError, ReconcilerError, SecretError

DEFAULT_PATHS = ["manifests"]

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Context:
    """What a command may touch: environment and standard streams."""

    def __init__(self, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO, stdin: TextIO):
        self.environ = environ
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin

    def interactive(self, stream: TextIO) -> bool:
        """A person watches this stream: a terminal that can redraw a line."""
        if self.environ.get("TERM") == "dumb":
            return False
        return bool(getattr(stream, "isatty", None) and stream.isatty())

    def color(self, stream: TextIO) -> bool:
        return self.interactive(stream) and not self.environ.get("NO_COLOR")

    def out(self, text: str = "") -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text if text.endswith("\n") else text + "\n")
        self.stderr.flush()


# -- commands ------------------------------------------------------------------


def cmd_validate(args, ctx: Context) -> int:
    from .model import Severity
    from .secrets import loose_file_warnings, missing_secret_diagnostics

    state = _load(args.paths, ctx, policies=args.policies, validating=True)
    _show_diagnostics(missing_secret_diagnostics(state, Severity.WARNING, ctx.environ)
                      + loose_file_warnings(state), ctx)
    keys = sum(len(k.keys) for k in state.keysets)
    refs = f", {_plural(len(state.references), 'policy reference')} checked" if args.policies else ""
    ctx.out(
        f"Valid: {_plural(len(state.sources), 'manifest')}, "
        f"{_plural(len(state.keysets), 'key set')}, {_plural(keys, 'key')}{refs}."
    )
    return EXIT_OK


def cmd_plan(args, ctx: Context) -> int:
    from .cli_gitops import emit_plan

    state, client, listed = _load_and_list(args.paths, ctx, policies=args.policies, command="plan")
    plan = _plan(state, client, listed)
    emit_plan(plan, state, args, ctx)  # --format, --out
    if args.detailed_exitcode and not plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args, ctx: Context) -> int:
    from . import applier
    from .model import Severity
    from .progress import Progress
    from .render import describe_change, render_outcome, render_plan_text, render_report
    from .secrets import loose_file_warnings, missing_secret_diagnostics, resolve
    from .cli_gitops import load_saved_plan, saved_plan_path
    from .interrupts import StopOnSignal

    planfile = saved_plan_path(args.paths)
    if planfile:  # exactly the saved changes, or a refusal saying what changed since
        plan, client = load_saved_plan(planfile, ctx, lambda state: _connect(
            ctx, state.tenant, command="apply", write=True, workers=args.parallelism))
        ctx.out(f"The saved plan {planfile} still matches the tenant and the manifests.\n")
    else:
        state = _load(args.paths, ctx, policies=args.policies)
        _show_diagnostics(loose_file_warnings(state), ctx)
        missing = missing_secret_diagnostics(state, Severity.ERROR, ctx.environ)
        if missing:
            raise ManifestError(missing)  # before any call to Graph
        client = _connect(ctx, state.tenant, command="apply", write=True, workers=args.parallelism)
        plan = _plan(state, client)
    color = ctx.color(ctx.stdout)
    ctx.out(render_plan_text(plan, color=color))
    if plan.is_empty:
        return EXIT_OK
    if plan.unsafe and not args.allow_destroy:
        raise ApplyRefused("this plan deletes too many key sets at once (see the warning above); nothing was "
                           "changed. Review it, then rerun with --allow-destroy")
    _approve(args, ctx)
    ctx.out("")
    progress = Progress(ctx.stdout, len(plan.changes), live=ctx.interactive(ctx.stdout))
    with StopOnSignal(ctx) as stop, progress:
        report = applier.apply(
            plan,
            client,
            resolve=lambda ref: resolve(ref, ctx.environ),
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


def cmd_doctor(args, ctx: Context) -> int:
    from .doctor import run_doctor

    return run_doctor(ctx)


def cmd_demo(args, ctx: Context) -> int:
    from .demo import run_demo

    return run_demo(ctx, main)


# -- pipeline steps ----------------------------------------------------------


def _load(paths: list[str], ctx: Context, *, policies=(), validating: bool = False):
    """Manifests, certificate facts and policy references (`steps.load_state`); warnings shown."""
    from .steps import load_state

    state, warnings = load_state(paths or DEFAULT_PATHS, ctx.environ, policies=policies or (), validating=validating)
    _show_diagnostics(warnings, ctx)
    return state


def _load_and_list(paths: list[str], ctx: Context, *, policies=(), command: str):
    """The desired state, a client signed in past the guards, and the tenant's key sets.
    Large manifest sets load in a process of their own meanwhile (`loading`); when
    signing in or listing fails, the manifests' errors, if any, are reported instead."""
    from .loading import start_loading

    with start_loading(paths or DEFAULT_PATHS, ctx.environ, policies=policies or ()) as loading:
        try:
            client = _connect(ctx, loading.tenant, command=command, write=False)
            listed = client.list_keysets()
        except Exception:
            _, warnings = loading.result()  # bad manifests are the first thing to fix
            _show_diagnostics(warnings, ctx)  # then what was wrong with signing in or listing
            raise
        state, warnings = loading.result()
    _show_diagnostics(warnings, ctx)
    return state, client, listed


def _connect(ctx: Context, tenant, *, command: str, write: bool, workers: int = 1):
    """A Graph client signed in as the environment says, once the tenant and permission
    guards passed (before any key-set call); paced to B2CKEYS_MAX_RPM requests a minute
    across all `workers`, retried as `RetryPolicy` says. `tenant`: the manifests' tenant
    (or None), or a function that waits for it, called once signed in."""
    from .auth import TokenProvider
    from .credentials import Kind, kind_from_environment
    from .graph import connect_graph
    from .preflight import check
    from .settings import from_environment

    kind = kind_from_environment(ctx.environ)
    settings = from_environment(ctx.environ, app_required=kind is not Kind.MANAGED_IDENTITY)
    provider = TokenProvider(settings, ctx.environ)
    if callable(tenant):
        provider.identity()  # signs in while the manifests load
        tenant = tenant()
    check(provider, settings, tenant, command=command, write=write)
    return connect_graph(settings, provider, workers=workers)


def _plan(state, client, listed=None):
    from .planner import plan
    from .steps import read_live

    now = int(time.time())
    live, warnings = read_live(client, state, now, listed=listed)
    made = plan(state, live, now=now)
    return replace(made, warnings=tuple(warnings) + made.warnings) if warnings else made


def _approve(args, ctx: Context) -> None:
    if args.auto_approve:
        return
    if not (hasattr(ctx.stdin, "isatty") and ctx.stdin.isatty()):
        raise ApplyRefused(
            "apply needs approval and there is no terminal to ask on; nothing was changed. "
            "Review the plan above and rerun with --auto-approve"
        )
    ctx.stdout.write("Make these changes? Only 'yes' is accepted: ")
    ctx.stdout.flush()
    if ctx.stdin.readline().strip() != "yes":
        raise ApplyRefused("apply cancelled; nothing was changed")


def _show_diagnostics(diagnostics, ctx: Context) -> None:
    from .render import render_diagnostics

    for line in render_diagnostics(diagnostics, color=ctx.color(ctx.stderr)):
        ctx.err(line)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


COMMANDS = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "drift": cmd_drift,
    "export": cmd_export,
    "doctor": cmd_doctor,
    "emulator": cmd_emulator,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(os.environ if environ is None else environ, sys.stdout, sys.stderr, sys.stdin)
    from .debuglog import configured

    with configured(ctx.stderr, debug=args.debug):
        return _run(args, ctx)


def _run(args, ctx: Context) -> int:
    try:
        return COMMANDS[args.command](args, ctx)
    except ReconcilerError as e:
        from .model import printable

        located = isinstance(e, (ManifestError, SecretError))
        for line in e.lines():  # printable: a hostile answer cannot drive the terminal
            text = line if located else f"error: {line}"  # our own line breaks kept (a stale plan's list)
            ctx.err("\n".join(printable(part) for part in text.split("\n")))
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.err("interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as e:  # a bug: its message could hold anything, so only its type is shown
        import logging
        import traceback

        from .redact import scrub

        where = "".join(traceback.format_tb(e.__traceback__))  # where, not the message
        logging.getLogger("b2ckeys").debug("internal error %s at\n%s", type(e).__name__, scrub(where))
        ctx.err(f"error: internal error ({type(e).__name__}); please report it, with the output of --debug")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
