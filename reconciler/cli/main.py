"""`main(argv=None, environ=None) -> int`: parses the arguments (`cli.parser`), runs the
command's module (`cli.<command>`), and turns every `ReconcilerError` into one line per
problem on stderr and exit code 1, with no traceback. Exit codes: `cli.context`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Mapping

from ..core.diagnostics import printable
from ..core.errors import ManifestError, ReconcilerError, SecretError
from .context import EXIT_ERROR, Context
from .parser import build_parser

# command -> module of `cli` whose `run(args, ctx) -> int` runs it
COMMANDS = {
    "validate": "validate",
    "plan": "plan",
    "apply": "apply",
    "show": "show",
    "drift": "drift",
    "export": "export",
    "force-unlock": "force_unlock",
    "doctor": "doctor",
    "probe": "probe",
    "emulator": "emulator",
    "demo": "demo",
    "schema": "schema",
    "environments": "environments",
    "completion": "completion",
}


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(os.environ if environ is None else environ, sys.stdout, sys.stderr, sys.stdin)
    from .debuglog import configured  # lazily, as each command: `--help` stays fast

    with configured(ctx.stderr, debug=args.debug):
        return _run(args, ctx)


def _run(args, ctx: Context) -> int:
    if getattr(args, "env", None):  # --env is B2CKEYS_ENV for this run: one way to select an environment
        ctx.environ = {**ctx.environ, "B2CKEYS_ENV": args.env}
    try:
        # lazily: a command imports only what it needs (`b2ckeys --help` stays under 0.3 s)
        command = importlib.import_module(f"{__package__}.{COMMANDS[args.command]}")
        return command.run(args, ctx)
    except ReconcilerError as e:
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
        import logging  # lazily, as below: only a bug needs them
        import traceback

        from ..graph.redact import scrub

        where = "".join(traceback.format_tb(e.__traceback__))  # where, not the message
        logging.getLogger("b2ckeys").debug("internal error %s at\n%s", type(e).__name__, scrub(where))
        ctx.err(f"error: internal error ({type(e).__name__}); please report it, with the output of --debug")
        return EXIT_ERROR
