"""The command line: `b2ckeys COMMAND`, one module per command (`validate`, `plan`, `apply`,
`drift`, `export`, `doctor`, `emulator`, `demo`), each with `run(args, ctx) -> int`; the
arguments in `parser`; `main` runs them."""

from .main import main
from .parser import build_parser

__all__ = ["main", "build_parser"]
