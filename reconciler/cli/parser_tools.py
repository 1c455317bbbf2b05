"""The arguments of the commands that need no tenant: `show` (a saved plan, offline),
`schema` (the manifest JSON Schema), `environments` (those of b2ckeys.yaml, for a CI
matrix) and `completion` (a shell completion script)."""

from __future__ import annotations

FORMATS = ("text", "json", "markdown")  # of plan, drift and show
SHELLS = ("bash", "zsh")


def add_show_command(sub) -> None:
    p = sub.add_parser(
        "show",
        help="show a saved plan (plan --out) again, offline",
        description="Print the plan saved in PLANFILE (by plan --out) exactly as plan printed it, in "
        "--format text, json or markdown. Offline: no environment, no sign-in, no network; the file "
        "holds no secret. A file that is missing, unreadable or changed since it was written is "
        "refused. Whether the plan still holds is checked by apply PLANFILE, not here.",
    )
    p.add_argument("planfile", metavar="PLANFILE", help="a plan file written by 'plan --out'")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json (the same as 'plan --format json') or markdown "
                   "(a pull-request comment)")


def add_schema_command(sub) -> None:
    p = sub.add_parser(
        "schema",
        help="write the manifest JSON Schema, for editors and other tools",
        description="Write the JSON Schema of manifests (the one validate checks against) to standard "
        "output, or to FILE. Its $id is the https URL editors can fetch it from; a local copy serves "
        "editors with no network (# yaml-language-server: $schema=PATH).",
    )
    p.add_argument("--out", metavar="FILE", help="write the schema to FILE (its folders are created) "
                   "instead of standard output")
    p.add_argument("--environments", action="store_true",
                   help="the schema of the environments file (b2ckeys.yaml) instead of the manifests'")


def add_environments_command(sub) -> None:
    p = sub.add_parser(
        "environments",
        help="list the environments of b2ckeys.yaml (one a line, or JSON for a CI matrix)",
        description="Read the environments file (b2ckeys.yaml, in this folder or at the root of its git "
        "work tree), check it, and list its environments: name and tenant, one a line, or with --format "
        "json a JSON list of names, for a CI matrix (GitHub Actions: fromJSON). Offline: no sign-in.",
    )
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default: name and tenant, one a line) or json (a list of names)")


def add_completion_command(sub) -> None:
    p = sub.add_parser(
        "completion",
        help="write a shell completion script (bash or zsh) to standard output",
        description="Write a completion script for SHELL to standard output, made from this "
        "b2ckeys's own parser: commands, options and their choices. Install it as docs/commands.md "
        "shows, e.g. b2ckeys completion bash > ~/.local/share/bash-completion/completions/b2ckeys",
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash or zsh")
