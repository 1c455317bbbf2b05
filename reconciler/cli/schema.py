"""`b2ckeys schema [--out FILE] [--environments]`: the manifest JSON Schema b2ckeys ships (and
validates against), or the environments file's, on standard output or in FILE, for editors
and other tools."""

from __future__ import annotations

import os

from ..core.errors import ConfigError
from ..core.shipped import shipped_file
from .context import EXIT_OK, Context


def run(args, ctx: Context) -> int:
    name = "environments.schema.json" if getattr(args, "environments", False) else "keysets.schema.json"
    text = shipped_file("schemas", name).read_text(encoding="utf-8")
    if not args.out:
        ctx.stdout.write(text)
        ctx.stdout.flush()
        return EXIT_OK
    try:
        folder = os.path.dirname(args.out)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise ConfigError(f"{args.out}: cannot write the schema: {e.strerror or e}") from None
    ctx.err(f"Wrote the {'environments file' if name.startswith('env') else 'manifest'} schema to {args.out}")
    return EXIT_OK
