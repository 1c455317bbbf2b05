"""`b2ckeys validate`: the manifests checked offline, no credentials, no network. With an
environments file (b2ckeys.yaml), for the environment --env names, else for every one:
each problem says which environments it is about."""

from __future__ import annotations

from ..core.diagnostics import Severity
from ..core.errors import ManifestError
from ..manifest.environments import Scope, every_scope, labelled
from ..manifest.files import DEFAULT_PATHS
from ..manifest.secrets import reference_warnings
from ..manifest.state import load_state
from ..render.text import plural
from .context import EXIT_OK, Context


def run(args, ctx: Context) -> int:
    scopes = every_scope(ctx.environ)
    if scopes is None:
        state, warnings = _load(args, ctx, None)
        ctx.show(warnings)
        ctx.out(f"Valid: {_summary(args, state)}.")
        return EXIT_OK
    loaded, errors, warnings = {}, {}, {}
    for scope in scopes:
        try:
            state, found = _load(args, ctx, scope)
            loaded[scope.name] = state
            warnings[scope.name] = found
        except ManifestError as e:
            errors[scope.name] = list(e.diagnostics)
    names = tuple(s.name for s in scopes)
    if errors:  # every environment's errors (and warnings), each once
        found = labelled({**warnings, **errors}, names)  # an environment's errors hold its warnings too
        raise ManifestError(sorted(found, key=lambda d: d.severity is not Severity.ERROR))
    ctx.show(labelled(warnings, names))
    for scope in scopes:
        ctx.out(f"Valid for environment {scope.name} (tenant {scope.tenant}): {_summary(args, loaded[scope.name])}.")
    return EXIT_OK


def _load(args, ctx: Context, scope: Scope | None):
    state, warnings = load_state(args.paths or DEFAULT_PATHS, ctx.environ, policies=args.policies or (),
                                 validating=True, scope=scope)
    return state, warnings + reference_warnings(state, ctx.environ)


def _summary(args, state) -> str:
    keys = sum(len(k.keys) for k in state.keysets)
    refs = f", {plural(len(state.references), 'policy reference')} checked" if args.policies else ""
    return (f"{plural(len(state.sources), 'manifest')}, {plural(len(state.keysets), 'key set')}, "
            f"{plural(keys, 'key')}{refs}")
