"""`b2ckeys export`: the tenant's key sets written as a manifest, secrets as references."""

from __future__ import annotations

import os

from ..core.errors import ConfigError
from ..manifest.export import DEFAULT_SCHEMA_REF
from .context import Context


def run(args, ctx: Context) -> int:
    result = ctx.session().export(schema_ref=getattr(args, "schema_ref", None) or DEFAULT_SCHEMA_REF)
    for line in result.skipped:
        ctx.err(f"warning: {line}")
    if args.out:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)  # --out new/dir/tenant.yaml
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(result.text)
        except OSError as e:
            raise ConfigError(f"cannot write {args.out}: {e.strerror or e}") from None
        ctx.err(f"Exported {result.keysets} key sets, {result.keys} keys to {args.out}. "
                f"Next: b2ckeys validate {args.out} && b2ckeys plan {args.out}")
    else:
        ctx.out(result.text)
    return 0
