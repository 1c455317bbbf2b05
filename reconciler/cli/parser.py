"""The command line's arguments: one subparser per command, with its flags and help.

`cli.main` parses with `build_parser()`, then runs the module of `cli` named after
`args.command`. Nothing heavy is imported here (argparse, and drift's default window),
so that `b2ckeys --help` stays fast.
"""

from __future__ import annotations

import argparse

from .. import __version__
from ..plan.drift import DEFAULT_WINDOW_DAYS
from .parser_emulator import add_emulator_command
from .parser_tools import FORMATS, add_completion_command, add_environments_command, add_schema_command, add_show_command
from .usage import UsageParser



def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


DESCRIPTION = """\
Manage Azure AD B2C policy keys (Microsoft Graph trustFramework/keySets) from YAML
manifests in git: validate them, plan what must change in the tenant, apply exactly that.

Sign-in and target come from the environment: AZURE_TENANT_ID, AZURE_CLIENT_ID and one
credential, first found wins: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH (+
AZURE_CLIENT_CERTIFICATE_PASSWORD), AZURE_FEDERATED_TOKEN_FILE, B2CKEYS_AUTH=managed-identity
or B2CKEYS_AUTH=azure-cli (the account of az login / azure/login / AzureCLI@2; used with a
warning when nothing is set and az is on PATH); then AZURE_AUTHORITY_HOST, B2CKEYS_CLOUD, B2CKEYS_GRAPH_URL,
B2CKEYS_CA_BUNDLE (see docs/signing-in.md). Check them with b2ckeys doctor. {file: PATH} secrets,
certificate and PKCS#12 files must be inside the manifest's git work tree, or inside
B2CKEYS_SECRETS_ROOT when set. Try it with no tenant at all: b2ckeys demo.
"""

EPILOG = """\
exit codes: 0 success; 1 error (bad input, usage error, sign-in, Graph failure, refused apply, lease held);
2 'plan --detailed-exitcode' found changes to make. drift: 0 nothing to report, 1 error,
else the OR of 2 (changes pending), 4 (unmanaged key sets or keys, keys present twice), 8 (key problems).
"""


DEBUG_HELP = ("log every HTTP request and answer to stderr (method, URL, status, timing, request-id; "
              "tokens and secrets redacted, bodies never logged)")


def add_policies_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--policies", action="append", metavar="DIR",
                   help=f"folder of B2C custom-policy *.xml files (repeatable): {what}")


def duration(text: str) -> float:
    """`30s`, `10m`, `1h`, or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    try:
        value = float(number) * unit
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 10m or 1h")
    return value


def _true_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r}: use true or false")
    return text.lower() == "true"


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (0 or more)")
    return value


def add_env_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--env", metavar="NAME", type=_name,
                   help=f"the environment of the environments file (b2ckeys.yaml) to {what}; as B2CKEYS_ENV, "
                   "which it overrides")


def _name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("the environment name must not be empty")
    return text


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text for people (default); json, stable and versioned (format_version), for "
                   "tools; markdown, a pull-request comment, safe to post publicly")
    p.add_argument("--out", metavar="PLANFILE",
                   help="also save the plan, with what it was computed from, as JSON; "
                   "'b2ckeys apply PLANFILE' makes exactly these changes, or refuses if the tenant "
                   "or the manifests changed since. Never holds a secret")


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="b2ckeys",
        allow_abbrev=False,  # `--au` is not `--auto-approve`: no option is matched by prefix
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"b2ckeys {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=UsageParser)
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
    add_env_option(p, "check (default: every environment, each problem saying which)")

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
    add_env_option(p, "plan for; needed when there is one (the saved plan records it)")

    p = sub.add_parser(
        "apply",
        help="make the changes the plan shows, in order",
        description="Compute the plan, show it, ask for 'yes' on a terminal (or take --auto-approve), "
        "then make the changes one by one. Every referenced secret must be available before any "
        "call to Graph. On a failure it stops and reports what was done and what was not; "
        "running it again adds only what is still missing. Given a plan file (plan --out), it "
        "makes exactly the saved changes without asking (the plan was reviewed when it was made), "
        "after checking that neither the tenant nor the manifests changed since; a stale plan is "
        "refused, saying what changed. Run it from the folder the plan was made in.",
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
        help="do not ask for confirmation (needed when there is no terminal, as in CI); "
        "a PLANFILE is applied without asking, with or without it",
    )
    p.add_argument(
        "--parallelism",
        type=_positive_int,
        default=4,
        metavar="N",
        help="key sets written at the same time (default 4); the keys of one key set are always "
        "written one after another, and all workers share the B2CKEYS_MAX_RPM pace",
    )
    p.add_argument(
        "--lock-timeout",
        type=duration,
        default=0.0,
        metavar="DURATION",
        help="while another run holds the tenant lease, wait up to DURATION for it (30s, 10m, 1h; "
        "default 0: fail at once, naming the holder)",
    )
    p.add_argument(
        "--lock",
        type=_true_false,
        default=True,
        metavar="true|false",
        help="take the tenant lease while applying (default true). --lock=false is unsafe: two applies "
        "at once may then add the same key twice, for ever",
    )
    add_env_option(p, "apply to; needed when there is one, except for a PLANFILE, which records its own (and "
                   "refuses another)")

    add_show_command(sub)

    p = sub.add_parser(
        "force-unlock",
        help="release the tenant lease of a run that is gone",
        description="Delete the tenant lease (the key set B2C_1A_B2CKeysLock) that a killed or lost "
        "apply left behind, if its lock ID is LOCK_ID (the message of the apply that found it held "
        "names it). Only when no apply is running: releasing a live run's lease lets two applies "
        "write at once. An expired lease is taken over by the next apply without this.",
    )
    p.add_argument("lock_id", metavar="LOCK_ID", help="the lock ID the held-lease message named")
    p.add_argument("--force", action="store_true",
                   help="do not ask for confirmation (needed when there is no terminal)")

    p = sub.add_parser(
        "drift",
        help="report changes pending, unmanaged key sets and keys, and expiring or missing active keys",
        description="Read the tenant and report: changes pending (exit bit 2); key sets and keys no "
        "manifest declares, and keys present more than once in a key set (4); keys expired or expiring within the window with no key to take over, "
        "key sets with no active key now or at the end of the window, and key sets whose active key "
        "B2C's getActiveKey names differently (8; one extra GET per key set). Exit code 0 when there "
        "is nothing to report, 1 on error, else the OR of the bits. Makes no change.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help=paths_help)
    add_policies_option(p, "key sets they reference are never planned for deletion")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json (versioned, format_version) or markdown (an issue body)")
    p.add_argument("--expiry-window", type=_days, default=DEFAULT_WINDOW_DAYS, metavar="DAYS",
                   help=f"report keys expiring within DAYS days, and key sets with no active key "
                   f"DAYS days from now (default {DEFAULT_WINDOW_DAYS})")
    add_env_option(p, "check; needed when there is one")

    p = sub.add_parser(
        "export",
        help="write the tenant's key sets as a manifest, secrets as references, to adopt a tenant",
        description="Read the tenant's key sets and write a manifest that validates and that, planned "
        "against the same tenant, shows no change: RSA keys as generate, certificates as pkcs12 with a file "
        "placeholder to fill in, oct keys as secret with "
        "{env: NAME} references named after the key set, dates in RFC 3339. Backups (.bak) and "
        "b2ckeys' lease key set are left out; key sets a manifest cannot express are left out with a comment saying why.",
    )
    p.add_argument("--out", metavar="FILE",
                   help="write the manifest to FILE (default: standard output), making its folders")
    p.add_argument("--schema-ref", metavar="URL",
                   help="the schema the modeline names (default: the published schema's https URL)")
    add_env_option(p, "export from (its tenant is checked); needed when there is one")

    p = sub.add_parser(
        "doctor",
        help="show who b2ckeys signs in as, with which roles, and whether Graph answers",
        description="Sign in as the environment says and show the cloud, login host, Graph URL, "
        "credential kind, tenant, client id and granted roles, then list the key sets to show "
        "that Graph answers. Never shows a secret or token. Exits 1 if anything is wrong, "
        "one line per problem.",
    )

    p = sub.add_parser(
        "probe",
        help="find out which reading of the API's undocumented behaviours this tenant follows "
        "(writes a throw-away key set)",
        description="Create a throw-away key set (B2C_1A_B2CKeysProbe<random>) with two random secrets, "
        "find out how the tenant answers where the API's documentation is silent (the prefix, a "
        "duplicate create, a missing key set, getActiveKey with and without a valid key, dates filled "
        "in, the list's shape, page size and next link, read-after-write lag, a .bak on delete), then "
        "delete it and its .bak, whatever happened. Asks for 'yes' on a terminal first. About 15 Graph "
        "requests, more when writes take time to show. Needs TrustFrameworkKeySet.ReadWrite.All.",
    )
    p.add_argument("--out", metavar="FILE",
                   help="also write the report as JSON: the readings that differ from the emulator's "
                   "defaults, and what was observed; 'b2ckeys emulator --readings-from FILE' then "
                   "emulates this tenant")
    p.add_argument("--auto-approve", action="store_true",
                   help="do not ask for confirmation before writing (needed when there is no terminal, "
                   "as in CI)")

    add_emulator_command(sub)

    p = sub.add_parser(
        "demo",
        help="start the emulator and run the starter in two environments: a plan each, apply, a Key Vault rotation, drift",
        description="Start an emulated tenant and Key Vault per environment of the starter (dev, prod) and run validate, "
        "a plan each, apply, a new vault version and the plan adding its key, and drift: the whole cycle, no tenant.",
    )
    add_schema_command(sub)
    add_environments_command(sub)
    add_completion_command(sub)
    for command in sub.choices.values():  # every command, also after it: b2ckeys drift --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser
