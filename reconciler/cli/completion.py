"""`b2ckeys completion bash|zsh`: a completion script made by shtab from the real parser,
so it never lists a command or option that is not there, nor misses a new one."""

from __future__ import annotations

import argparse

from .context import EXIT_OK, Context
from .parser import build_parser

# metavars whose values are paths: shtab then completes file (or folder) names for them
_FILES = {"PATH", "PLANFILE", "FILE"}
_FOLDERS = {"DIR"}


def run(args, ctx: Context) -> int:
    import shtab  # lazily: only this command needs it, and `b2ckeys --help` stays fast

    parser = build_parser()
    _mark_paths(parser, shtab)
    ctx.stdout.write(shtab.complete(parser, shell=args.shell))
    ctx.stdout.flush()
    return EXIT_OK


def _mark_paths(parser: argparse.ArgumentParser, shtab) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, shtab)
        elif action.metavar in _FILES:
            action.complete = shtab.FILE
        elif action.metavar in _FOLDERS:
            action.complete = shtab.DIRECTORY
