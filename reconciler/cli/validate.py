"""`b2ckeys validate`: the manifests checked offline, no credentials, no network."""

from __future__ import annotations

from ..manifest.files import DEFAULT_PATHS
from ..manifest.secrets import reference_warnings
from ..manifest.state import load_state
from ..render.text import plural
from .context import EXIT_OK, Context


def run(args, ctx: Context) -> int:
    state, warnings = load_state(args.paths or DEFAULT_PATHS, ctx.environ, policies=args.policies or (),
                                 validating=True)
    ctx.show(warnings)
    ctx.show(reference_warnings(state, ctx.environ))
    keys = sum(len(k.keys) for k in state.keysets)
    refs = f", {plural(len(state.references), 'policy reference')} checked" if args.policies else ""
    ctx.out(
        f"Valid: {plural(len(state.sources), 'manifest')}, "
        f"{plural(len(state.keysets), 'key set')}, {plural(keys, 'key')}{refs}."
    )
    return EXIT_OK
