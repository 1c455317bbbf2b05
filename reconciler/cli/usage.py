"""Usage errors exit 1, never 2: exit code 2 means "changes pending" for
`plan --detailed-exitcode`, and bit 2 of `drift`, so a mistyped option must not look
like either. `UsageParser` is the class of every parser and subparser: it prints the
usage of the command that was mistyped and one `b2ckeys COMMAND: error: ...` line, and
matches no option by prefix (`--au` is not `--auto-approve`)."""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 1  # as every other error (cli.context.EXIT_ERROR); 2 is taken by "changes pending"


class UsageParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # no prefix matching, in subparsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def parse_args(self, args=None, namespace=None):
        known, extra = self.parse_known_args(args, namespace)
        if extra:  # argparse would blame the main parser; the usage shown is the command's own
            self.chosen(known).error(f"unrecognized arguments: {' '.join(extra)}")
        return known

    def chosen(self, namespace) -> argparse.ArgumentParser:
        """The innermost parser of the command these arguments named (this one when none)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                sub = action.choices.get(getattr(namespace, action.dest, None) or "")
                if isinstance(sub, UsageParser):
                    return sub.chosen(namespace)
        return self
