"""The command line's arguments: one subparser per command, with its flags and help.

`build_parser()` is re-exported by `reconciler.cli`, which runs the command named in
`args.command`. Argument types that need a heavy import (fault specs) import it lazily.
"""

from __future__ import annotations

import argparse

from . import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


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


DESCRIPTION = """\
Manage Azure AD B2C policy keys (Microsoft Graph trustFramework/keySets) from YAML
manifests in git: validate them, plan what must change in the tenant, apply exactly that.

Sign-in and target come from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID and one
credential, first found wins: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH (+
AZURE_CLIENT_CERTIFICATE_PASSWORD), AZURE_FEDERATED_TOKEN_FILE, or
B2CKEYS_AUTH=managed-identity; then AZURE_AUTHORITY_HOST, B2CKEYS_CLOUD, B2CKEYS_GRAPH_URL,
B2CKEYS_CA_BUNDLE (see README). Check them with b2ckeys doctor. {file: PATH} secrets,
certificate and PKCS#12 files must be inside the manifest's git work tree, or inside
B2CKEYS_SECRETS_ROOT when set. Try it with no tenant at all: b2ckeys demo.
"""

EPILOG = """\
exit codes: 0 success; 1 error (bad input, sign-in, Graph failure, refused apply);
2 'plan --detailed-exitcode' found changes to make. drift: 0 nothing to report, 1 error,
else the OR of 2 (changes pending), 4 (unmanaged key sets or keys), 8 (key problems).
"""


DEBUG_HELP = ("log every HTTP request and answer to stderr (method, URL, status, timing, request-id; "
              "tokens and secrets redacted, bodies never logged)")


def add_policies_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--policies", action="append", metavar="DIR",
                   help=f"folder of B2C custom-policy *.xml files (repeatable): {what}")


def build_parser() -> argparse.ArgumentParser:
    from .cli_gitops import add_commands, add_plan_options

    parser = argparse.ArgumentParser(
        prog="b2ckeys",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"b2ckeys {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    paths_help = "manifest files, or folders to search for *.yaml/*.yml (default: manifests/)"

    p = sub.add_parser(
        "validate",
        help="check manifests offline: YAML, schema and B2C's rules; no credentials, no network",
        description="Check manifests offline: YAML syntax, the schema, and the rules B2C enforces "
        "(one key type and one use per key set, nbf before exp, no key set declared twice, "
        "secrets referenced, never written), and read certificate files for their thumbprints. "
        "Missing secret variables or files (and PKCS#12 files or passwords) are warnings here. "
        "With --policies, every key set a custom policy references must be declared.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    add_policies_option(p, "report (as errors, with file and line) every key set the policies reference "
                        "that no manifest declares")

    p = sub.add_parser(
        "plan",
        help="show what must change in the tenant to match the manifests",
        description="Read the tenant's key sets from Graph and show what apply would do: key sets "
        "to create (+), keys to add (+, rotation successors included), unmanaged keys to disable (~), "
        "key sets to delete (-, with prune: true), and key sets or keys no manifest declares (?), "
        "which are left alone; and the active key of each key set changed, now and after. "
        "Makes no change.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    add_policies_option(p, "never delete a key set these policies reference; warn about referenced key sets "
                        "no manifest declares")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes to make, 0 when there are none (as terraform plan)",
    )
    add_plan_options(p)

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
    add_policies_option(p, "never delete a key set these policies reference (a saved plan uses the "
                        "folders it was made with)")
    p.add_argument(
        "--allow-destroy",
        action="store_true",
        help="apply a plan that deletes more than 30%% of the key sets (when there are at least 10); "
        "without it such a plan is refused",
    )
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
    add_commands(sub, paths_help)  # drift, export

    p = sub.add_parser(
        "doctor",
        help="show who b2ckeys signs in as, with which roles, and whether Graph answers",
        description="Sign in as the environment says and show the cloud, login host, Graph URL, "
        "credential kind, tenant, client id and granted roles, then list the key sets to show "
        "that Graph answers. Never shows a secret or token. Exits 1 if anything is wrong, "
        "one line per problem.",
    )

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

    p = sub.add_parser(
        "demo",
        help="start the emulator and run validate, plan, apply, plan, drift on the starter pack",
        description="Start the emulator in this process and run validate, plan, apply, plan "
        "again and drift on the B2C starter-pack key sets, to show the whole cycle with no tenant.",
    )
    for command in sub.choices.values():  # every command, also after it: b2ckeys drift --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser
