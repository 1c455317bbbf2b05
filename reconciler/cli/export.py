"""`b2ckeys export`: the tenant's key sets written as a manifest, secrets as references."""

from __future__ import annotations

from ..core.errors import ConfigError
from ..manifest.export import schema_ref_for
from .context import Context


def run(args, ctx: Context) -> int:
    result = ctx.session().export(schema_ref=schema_ref_for(args.out))
    for line in result.skipped:
        ctx.err(f"warning: {line}")
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(result.text)
        except OSError as e:
            raise ConfigError(f"cannot write {args.out}: {e.strerror or e}") from None
        ctx.err(f"Exported {result.keysets} key sets, {result.keys} keys to {args.out}. "
                f"Next: b2ckeys validate {args.out} && b2ckeys plan {args.out}")
    else:
        ctx.out(result.text)
    return 0
