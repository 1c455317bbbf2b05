"""The command line: `b2ckeys COMMAND`, one module per command (`validate`, `plan`, `apply`,
`show`, `drift`, `export`, `doctor`, `emulator`, `demo`, `schema`, `completion`, ...), each with
`run(args, ctx) -> int`; the arguments in `parser` (and `parser_emulator`, `parser_tools`),
parsed by `usage.UsageParser` (usage errors exit 1); `main` runs them."""

from .main import main
from .parser import build_parser

__all__ = ["main", "build_parser"]
