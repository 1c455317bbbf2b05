"""`b2ckeys environments`: the environments of the environments file (b2ckeys.yaml), checked,
one a line (name and tenant), or as a JSON list of names for a CI matrix. Offline."""

from __future__ import annotations

import json

from ..core.diagnostics import printable
from ..core.errors import ConfigError
from ..manifest.environments import FILE_NAME, find_file, load_file
from .context import EXIT_OK, Context


def run(args, ctx: Context) -> int:
    path = find_file()
    if path is None:
        raise ConfigError(f"no {FILE_NAME} in this folder nor at the root of its git work tree: without one, "
                          "the manifests are for one tenant (docs/environments.md)")
    environments = load_file(path)
    if args.format == "json":
        ctx.out(json.dumps([e.name for e in environments]))
    else:
        width = max(len(e.name) for e in environments)
        for e in environments:
            ctx.out(f"{printable(e.name).ljust(width)}  {printable(e.tenant)}")
    return EXIT_OK
