"""The command line: argparse, the environment, exit codes (design 3.1-3.3).

`main(argv=None, environ=None) -> int`. Every `ReconcilerError` becomes one
line per problem on stderr and exit code 1; no traceback. Heavy imports (msal,
requests, jsonschema, cryptography) happen inside the commands that need them,
so `b2ckeys --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Mapping, TextIO

from . import __version__
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
    from .secrets import missing_secret_diagnostics

    state = _load(args.paths, ctx)
    _show_diagnostics(missing_secret_diagnostics(state, Severity.WARNING, ctx.environ), ctx)
    keys = sum(len(k.keys) for k in state.keysets)
    ctx.out(
        f"Valid: {_plural(len(state.sources), 'manifest')}, "
        f"{_plural(len(state.keysets), 'key set')}, {_plural(keys, 'key')}."
    )
    return EXIT_OK


def cmd_plan(args, ctx: Context) -> int:
    from .cli_gitops import emit_plan

    state = _load(args.paths, ctx)
    plan = _plan(state, _connect(ctx))
    emit_plan(plan, state, args, ctx)  # --format, --out
    if args.detailed_exitcode and not plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args, ctx: Context) -> int:
    from . import applier
    from .model import Severity
    from .progress import Progress
    from .render import describe_change, render_outcome, render_plan_text, render_report
    from .secrets import missing_secret_diagnostics, resolve
    from .cli_gitops import load_saved_plan, saved_plan_path

    planfile = saved_plan_path(args.paths)
    if planfile:  # exactly the saved changes, or a refusal saying what changed since
        plan, client = load_saved_plan(planfile, ctx, lambda: _connect(ctx, workers=args.parallelism))
        ctx.out(f"The saved plan {planfile} still matches the tenant and the manifests.\n")
    else:
        state = _load(args.paths, ctx)
        missing = missing_secret_diagnostics(state, Severity.ERROR, ctx.environ)
        if missing:
            raise ManifestError(missing)  # before any call to Graph
        client = _connect(ctx, workers=args.parallelism)
        plan = _plan(state, client)
    color = ctx.color(ctx.stdout)
    ctx.out(render_plan_text(plan, color=color))
    if plan.is_empty:
        return EXIT_OK
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


class StopOnSignal:
    """While applying, the first SIGINT or SIGTERM asks the applier to stop starting
    changes (calls in flight finish); a second one stops at once. Exit code 128 +
    the signal's number (130, 143), as shells do."""

    def __init__(self, ctx: Context):
        import threading

        self.ctx = ctx
        self.event = threading.Event()
        self.exit_code = EXIT_ERROR
        self._previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        import signal

        if self.event.is_set():
            signal.default_int_handler(signum, frame)  # second signal: KeyboardInterrupt now
        self.event.set()
        self.exit_code = 128 + signum
        self.ctx.err(
            f"\n{signal.Signals(signum).name}: no new change starts; waiting for calls in flight "
            "(again to stop at once)"
        )

    def __exit__(self, *exc) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def cmd_emulator(args, ctx: Context) -> int:
    from .emulator import serve_forever

    throttle = {
        key: value
        for key, value in (
            ("app_per_minute", args.throttle_app_rpm),
            ("tenant_per_minute", args.throttle_tenant_rpm),
            ("time_scale", args.time_scale),
            ("retry_after", False if args.no_retry_after else None),
        )
        if value is not None
    }
    on = args.throttle or bool(throttle)
    latency = {"fixed_ms": args.latency_ms, "jitter_ms": args.jitter_ms}
    return serve_forever(
        args.host,
        args.port,
        env_file=args.env_file,
        tenant_domain=args.tenant_domain,
        page_size=args.page_size,
        roles=[role for role in args.roles.split(",") if role],
        throttle=throttle if on else None,
        latency=latency if args.latency_ms or args.jitter_ms else None,
        faults=args.fault,
        out=ctx.stdout,
        log_stream=ctx.stderr,
    )


def _fault_spec(text: str) -> dict:
    from .emulator import parse_fault_spec

    try:
        return parse_fault_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _number_at_least(low: float, kind=int, above: bool = False):
    def parse(text: str):
        try:
            value = kind(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {low}")
        return value

    return parse


def cmd_demo(args, ctx: Context) -> int:
    from .demo import run_demo

    return run_demo(ctx, main)


# -- pipeline steps ----------------------------------------------------------


def _load(paths: list[str], ctx: Context):
    from .manifest import load_manifests

    result = load_manifests(paths or DEFAULT_PATHS)
    _show_diagnostics(result.warnings, ctx)
    return result.state


def _connect(ctx: Context, *, workers: int = 1):
    """A Graph client signed in as the environment says (the token is fetched on first use),
    paced to B2CKEYS_MAX_RPM requests a minute across all workers."""
    from .auth import TokenProvider
    from .graph import GraphClient
    from .pacing import Pacer, Unpaced
    from .retry import RetryPolicy
    from .settings import from_environment

    settings = from_environment(ctx.environ)
    minute = 60.0 / settings.time_scale
    return GraphClient(
        settings.graph_url,
        TokenProvider(settings, ctx.environ),
        verify=settings.verify,
        pacer=Pacer(settings.max_rpm, minute) if settings.max_rpm else Unpaced(),
        policy=RetryPolicy(scale=settings.time_scale),
        pool_size=max(10, workers),
    )


def _plan(state, client):
    from .planner import plan

    return plan(state, client.list_keysets(), now=int(time.time()))


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- parser --------------------------------------------------------------------

DESCRIPTION = """\
Manage Azure AD B2C policy keys (Microsoft Graph trustFramework/keySets) from YAML
manifests in git: validate them, plan what must change in the tenant, apply exactly that.

Sign-in and target come from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, B2CKEYS_CLOUD, B2CKEYS_GRAPH_URL,
B2CKEYS_CA_BUNDLE (see README). Try it with no tenant at all: b2ckeys demo.
"""

EPILOG = """\
exit codes: 0 success; 1 error (bad input, sign-in, Graph failure, refused apply);
2 'plan --detailed-exitcode' found changes to make. drift: 0 nothing to report, 1 error,
else the OR of 2 (changes pending), 4 (unmanaged key sets or keys), 8 (key problems).
"""


def build_parser() -> argparse.ArgumentParser:
    from .cli_gitops import add_commands, add_plan_options

    parser = argparse.ArgumentParser(
        prog="b2ckeys",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"b2ckeys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    paths_help = "manifest files, or folders to search for *.yaml/*.yml (default: manifests/)"

    p = sub.add_parser(
        "validate",
        help="check manifests offline: YAML, schema and B2C's rules; no credentials, no network",
        description="Check manifests offline: YAML syntax, the schema, and the rules B2C enforces "
        "(one key type and one use per key set, nbf before exp, no key set declared twice, "
        "secrets referenced, never written). Missing secret variables or files are warnings here.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "plan",
        help="show what must change in the tenant to match the manifests",
        description="Read the tenant's key sets from Graph and show what apply would do: key sets "
        "to create (+), keys to add (+), and key sets or keys no manifest declares (?), which are "
        "left alone. Makes no change.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes to make, 0 when there are none (as terraform plan)",
    )
    add_plan_options(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser(
        "apply",
        help="make the changes the plan shows, in order",
        description="Compute the plan, show it, ask for 'yes' on a terminal (or take --auto-approve), "
        "then make the changes one by one. Every referenced secret must be available before any "
        "call to Graph. On a failure it stops and reports what was done and what was not; "
        "running it again adds only what is still missing. Given a plan file (plan --out), it "
        "makes exactly the saved changes, after checking that neither the tenant nor the "
        "manifests changed since the plan was made; a stale plan is refused, saying what changed.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help=paths_help + "; or one PLANFILE written by 'plan --out'")
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask for confirmation (needed when there is no terminal, as in CI)",
    )
    p.add_argument(
        "--parallelism",
        type=_positive_int,
        default=4,
        metavar="N",
        help="key sets written at the same time (default 4); the keys of one key set are always "
        "written one after another, and all workers share the B2CKEYS_MAX_RPM pace",
    )
    p.set_defaults(handler=cmd_apply)
    add_commands(sub, paths_help)  # drift, export

    p = sub.add_parser(
        "emulator",
        help="run a local Graph + token service emulator over HTTPS, for tests and trials",
        description="Serve a strict local emulator of Microsoft Graph trustFramework/keySets and of "
        "the token service, over HTTPS on loopback with a CA it generates. When ready it prints "
        "(and with --env-file writes) the environment that points b2ckeys at it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    p.add_argument("--env-file", metavar="FILE", help="write KEY=VALUE lines to FILE once ready")
    p.add_argument(
        "--tenant-domain",
        default="contoso.onmicrosoft.com",
        help="the emulated tenant's domain (default contoso.onmicrosoft.com)",
    )
    p.add_argument(
        "--page-size", type=int, default=2, help="key sets per page of the list answer (default 2)"
    )
    p.add_argument(
        "--roles",
        default="TrustFrameworkKeySet.ReadWrite.All",
        metavar="ROLE,...",
        help="the roles its access tokens carry (default TrustFrameworkKeySet.ReadWrite.All; "
        "TrustFrameworkKeySet.Read.All to try a read-only app)",
    )
    p.add_argument(
        "--latency-ms",
        type=_number_at_least(0, float),
        default=0.0,
        metavar="N",
        help="add N ms to every Graph and token request (default 0)",
    )
    p.add_argument(
        "--jitter-ms",
        type=_number_at_least(0, float),
        default=0.0,
        metavar="N",
        help="plus a uniform random 0..N ms, from a fixed seed (default 0)",
    )
    p.add_argument(
        "--throttle",
        action="store_true",
        help="throttle Graph requests as the real service does: 200 per minute per app, 300 "
        "per tenant, sliding window, 429 AADB2C95043 with Retry-After (implied by the next four)",
    )
    p.add_argument(
        "--throttle-app-rpm",
        type=_number_at_least(1),
        metavar="N",
        help="throttle: requests per minute per app (default 200)",
    )
    p.add_argument(
        "--throttle-tenant-rpm",
        type=_number_at_least(1),
        metavar="N",
        help="throttle: requests per minute for the tenant, all apps (default 300)",
    )
    p.add_argument(
        "--time-scale",
        type=_number_at_least(0, float, above=True),
        metavar="X",
        help="throttle: a minute lasts 60/X real seconds (default 1; 60 makes it one second), "
        "and Retry-After is given in real seconds, fractional when X is not 1",
    )
    p.add_argument(
        "--no-retry-after",
        action="store_true",
        help="throttle: answer 429 without a Retry-After header",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_spec,
        metavar="SPEC",
        help="inject a fault; repeatable. SPEC is METHOD:PATH:EFFECT[:OPTION...]: METHOD an "
        "HTTP method or *; PATH a glob (* crosses /) or re:REGEX; EFFECT status=CODE, "
        "delay=SECONDS, reset, or commit_then_drop (the write happens, the answer is lost); "
        "OPTIONs code=TEXT, message=TEXT, retry_after=SECONDS, delay=SECONDS, times=N or * "
        "(default 1), p=PROBABILITY, seed=N. Example: "
        "POST:*/uploadSecret:status=400:code=AADB2C90063:times=2",
    )
    p.set_defaults(handler=cmd_emulator)

    p = sub.add_parser(
        "demo",
        help="start the emulator and run validate, plan, apply, plan on the starter pack",
        description="Start the emulator in this process and run validate, plan, apply and plan "
        "again on the B2C starter-pack key sets, to show the whole cycle with no tenant.",
    )
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(os.environ if environ is None else environ, sys.stdout, sys.stderr, sys.stdin)
    try:
        return args.handler(args, ctx)
    except ReconcilerError as e:
        located = isinstance(e, (ManifestError, SecretError))
        for line in e.lines():
            ctx.err(line if located else f"error: {line}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.err("interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
