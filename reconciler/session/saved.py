"""`apply PLANFILE`: a saved plan is applied only while it still holds. The manifests
and secrets are checked against the plan file before any call to Graph, the tenant's
key sets after signing in; a stale plan is refused (ApplyRefused), saying what changed.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from ..core.diagnostics import printable
from ..core.errors import ApplyRefused
from ..manifest.confine import SECRETS_ROOT_VARIABLE
from ..manifest.environments import ENV_VARIABLE
from ..manifest.secrets import secret_warnings
from ..plan import planfile
from ..plan.data import live_data, plan_data
from ..plan.livediff import live_changes
from ..plan.planner import plan as make_plan
from ..plan.restore import saved_plan
from .session import Planned, Session
from .vaults import planned_versions


def load_saved_plan(session: Session, path: str, *, workers: int = 1) -> Planned:
    """The saved plan's changes, with the state and client to apply them, once the plan is
    checked against the manifests and the tenant as they are now."""
    saved = planfile.read(path)
    saved_plan(path, saved)  # a damaged or edited file is refused as such (as `show` does), not as stale
    paths = [str(p) for p in saved["manifests"].get("paths") or ()]
    policies = [str(p) for p in saved["manifests"].get("policies") or ()]
    _require_found(path, saved, paths + policies)
    _same_environment(session, path, saved.get("environment"))
    state = session.load(paths, policies=policies)
    session.report(secret_warnings(state, session.environ))
    changed = planfile.manifest_differences(saved["manifests"], planfile.manifest_record(state, paths, policies))
    if changed:
        raise ApplyRefused(_stale(path, "the manifests changed since the plan was made", changed))
    changes = planfile.changes(saved, secrets_root(session.environ))  # file refs confined as the manifests' are
    session.require_secrets(state)
    state = session.vaults.with_facts(state, planned_versions(changes))  # the vault versions the plan uploads

    client = session.connect(state.tenant, command="apply", write=True, workers=workers)
    session.hold_lease(client)  # before the tenant is read, as for a plan made by apply
    now = _now()
    live = session.read_live(client, state, now)
    then = {k: v for k, v in saved["live"].items() if k != "digest"}
    if planfile.digest(live_data(live)) != saved["live"].get("digest"):
        when = saved.get("createdAt", "?")
        lines = live_changes(then, live_data(live)) or ["the live key sets differ from the plan's record"]
        raise ApplyRefused(_stale(path, f"the tenant changed since the plan was made ({when})", lines))
    fresh = make_plan(session.vaults.with_earlier(state, live), live, now=now)
    if plan_data(fresh)["changes"] != saved["plan"].get("changes"):
        raise ApplyRefused(_stale(path, "planning again now gives other changes", [
            "the tenant and the manifests are as recorded, so time did it: a key's exp has passed, a rotation "
            "became due, or a new UTC day began since (a rotation's first key starts at midnight)"]))
    return Planned(state, replace(fresh, changes=changes), client, writable=True)


def _same_environment(session: Session, path: str, recorded) -> None:
    """A plan made for one environment is applied in that one only: --env (B2CKEYS_ENV) may
    repeat it, never name another; without it, the plan's own is used."""
    chosen = session.environ.get(ENV_VARIABLE)
    made = f"for environment {printable(str(recorded))}" if recorded else "without an environment"
    if chosen and chosen != recorded:
        raise ApplyRefused(f"the saved plan {path} was made {made}, not for environment {printable(chosen)} "
                           f"(--env or {ENV_VARIABLE}); nothing was changed. Apply it without --env, or make "
                           f"a plan for that environment: b2ckeys plan --env {printable(chosen)} --out PLANFILE")
    scope = session.environment("apply", saved=str(recorded) if recorded else None)
    if recorded and scope is None:
        raise ApplyRefused(f"the saved plan {path} was made {made}, but there is no environments file "
                           "(b2ckeys.yaml) here or at the root of the git work tree; nothing was changed. Run "
                           "apply from the folder the plan was made in")


def _require_found(path: str, saved: dict, paths: list[str]) -> None:
    """The recorded manifest paths are relative to the folder the plan was made in: from
    any other folder, say which one to run from rather than that `manifests/` is missing."""
    missing = [p for p in paths if not os.path.exists(p)]
    if not missing:
        return
    folder = saved.get("madeIn")
    here = os.getcwd()
    names = ", ".join(printable(p) for p in missing)
    which = "which is" if len(missing) == 1 else "which are"
    if isinstance(folder, str) and folder and os.path.realpath(folder) == os.path.realpath(here):
        raise ApplyRefused(f"the saved plan {path} reads {names}, {which} no longer there in {printable(here)}, "
                           "the folder it was made in; nothing was changed. Make and review a new plan")
    where = (f"it was made in {printable(folder)}" if isinstance(folder, str) and folder
             else "it was made by an older b2ckeys, which did not record the folder it was made in")
    raise ApplyRefused(f"the saved plan {path} reads {names}, {which} not found from here ({printable(here)}); "
                       f"{where}. Nothing was changed. Run apply from that folder, the one that holds "
                       f"{printable(missing[0])} (the root of the checkout, in CI)")


def _now() -> int:
    return int(time.time())


def secrets_root(environ) -> str:
    """The real path of B2CKEYS_SECRETS_ROOT, or "" (each manifest's repository)."""
    root = environ.get(SECRETS_ROOT_VARIABLE)
    return os.path.realpath(root) if root else ""


def _stale(path: str, why: str, lines: list[str]) -> str:
    listed = "\n".join(f"  - {printable(line)}" for line in lines)  # names from the tenant: one line each
    return (f"the saved plan {path} is stale: {why}:\n{listed}\n"
            f"Nothing was changed. Make and review a new plan: b2ckeys plan --out {path}")
