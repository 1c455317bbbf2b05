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
from .errors import ApplyRefused, ConfigError, ManifestError, ReconcilerError, SecretError

DEFAULT_PATHS = ["manifests"]

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class Context:
    """What a command may touch: environment and standard streams."""

    def __init__(self, environ: Mapping[str, str], stdout: TextIO, stderr: TextIO, stdin: TextIO):
        self.environ = environ
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin

    def color(self, stream: TextIO) -> bool:
        if self.environ.get("NO_COLOR") or self.environ.get("TERM") == "dumb":
            return False
        return bool(getattr(stream, "isatty", None) and stream.isatty())

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
    from .render import render_plan_text

    state = _load(args.paths, ctx)
    plan = _plan(state, _connect(ctx, state, command="plan", write=False))
    ctx.out(render_plan_text(plan, color=ctx.color(ctx.stdout)))
    if args.detailed_exitcode and not plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args, ctx: Context) -> int:
    from . import applier
    from .model import Severity
    from .render import render_outcome, render_plan_text, render_report
    from .secrets import missing_secret_diagnostics, resolve

    state = _load(args.paths, ctx)
    missing = missing_secret_diagnostics(state, Severity.ERROR, ctx.environ)
    if missing:
        raise ManifestError(missing)  # before any call to Graph
    client = _connect(ctx, state, command="apply", write=True)
    plan = _plan(state, client)
    color = ctx.color(ctx.stdout)
    ctx.out(render_plan_text(plan, color=color))
    if plan.is_empty:
        return EXIT_OK
    _approve(args, ctx)
    ctx.out("")
    report = applier.apply(
        plan,
        client,
        resolve=lambda ref: resolve(ref, ctx.environ),
        on_outcome=lambda o: ctx.out(render_outcome(o, color=color)),
    )
    ctx.out("")
    text = render_report(report, color=ctx.color(ctx.stdout if report.ok else ctx.stderr))
    if report.ok:
        ctx.out(text)
    else:
        ctx.err(text)
    return report.exit_code


def cmd_doctor(args, ctx: Context) -> int:
    from .doctor import run_doctor

    return run_doctor(ctx)


def cmd_emulator(args, ctx: Context) -> int:
    from .emulator import serve_forever

    subject = {"federated_subject": args.federated_subject} if args.federated_subject else {}
    try:
        return serve_forever(
            args.host,
            args.port,
            env_file=args.env_file,
            tenant_domain=args.tenant_domain,
            page_size=args.page_size,
            roles=[role for role in args.roles.split(",") if role],
            client_certificates=args.client_certificate or [],
            out=ctx.stdout,
            log_stream=ctx.stderr,
            **subject,
        )
    except ValueError as e:  # a --client-certificate file without a certificate
        raise ConfigError(str(e)) from None


def cmd_demo(args, ctx: Context) -> int:
    from .demo import run_demo

    return run_demo(ctx, main)


# -- pipeline steps ----------------------------------------------------------


def _load(paths: list[str], ctx: Context):
    from .manifest import load_manifests

    result = load_manifests(paths or DEFAULT_PATHS)
    _show_diagnostics(result.warnings, ctx)
    return result.state


def _connect(ctx: Context, state, *, command: str, write: bool):
    """A Graph client signed in as the environment says, once the tenant and permission
    guards passed (before any key-set call)."""
    from .auth import TokenProvider
    from .credentials import Kind, kind_from_environment
    from .graph import GraphClient
    from .preflight import check
    from .settings import from_environment

    kind = kind_from_environment(ctx.environ)
    settings = from_environment(ctx.environ, app_required=kind is not Kind.MANAGED_IDENTITY)
    provider = TokenProvider(settings, ctx.environ)
    check(provider, settings, state.tenant, command=command, write=write)
    return GraphClient(settings.graph_url, provider, verify=settings.verify)


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- parser --------------------------------------------------------------------

DESCRIPTION = """\
Manage Azure AD B2C policy keys (Microsoft Graph trustFramework/keySets) from YAML
manifests in git: validate them, plan what must change in the tenant, apply exactly that.

Sign-in and target come from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID and one
credential, first found wins: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH (+
AZURE_CLIENT_CERTIFICATE_PASSWORD), AZURE_FEDERATED_TOKEN_FILE, or
B2CKEYS_AUTH=managed-identity; then AZURE_AUTHORITY_HOST, B2CKEYS_CLOUD, B2CKEYS_GRAPH_URL,
B2CKEYS_CA_BUNDLE (see README). Check them with b2ckeys doctor. Try it with no tenant at
all: b2ckeys demo.
"""

EPILOG = """\
exit codes: 0 success; 1 error (bad input, sign-in, Graph failure, refused apply);
2 'plan --detailed-exitcode' found changes to make.
"""


def build_parser() -> argparse.ArgumentParser:
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
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser(
        "apply",
        help="make the changes the plan shows, in order",
        description="Compute the plan, show it, ask for 'yes' on a terminal (or take --auto-approve), "
        "then make the changes one by one. Every referenced secret must be available before any "
        "call to Graph. On a failure it stops and reports what was done and what was not; "
        "running it again adds only what is still missing.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="do not ask for confirmation (needed when there is no terminal, as in CI)",
    )
    p.set_defaults(handler=cmd_apply)

    p = sub.add_parser(
        "doctor",
        help="show who b2ckeys signs in as, with which roles, and whether Graph answers",
        description="Sign in as the environment says and show the cloud, login host, Graph URL, "
        "credential kind, tenant, client id and granted roles, then list the key sets to show "
        "that Graph answers. Never shows a secret or token. Exits 1 if anything is wrong, "
        "one line per problem.",
    )
    p.set_defaults(handler=cmd_doctor)

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
        "--client-certificate",
        action="append",
        metavar="FILE",
        help="register the certificate(s) of this PEM file on the app, for client assertions "
        "(AZURE_CLIENT_CERTIFICATE_PATH); may be repeated",
    )
    p.add_argument(
        "--federated-subject",
        metavar="SUBJECT",
        help="the subject the app's federated credential accepts "
        "(default repo:contoso/b2c-keys:ref:refs/heads/main)",
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
