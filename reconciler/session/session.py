"""The library face: `Session` runs load → sign in → guards → read live → plan → apply (octoDNS's
`Manager`) and returns data. It prints nothing: each step's warnings go to `on_diagnostics` as soon as they
are known (the CLI prints them there, so a warning comes before the error that may follow it), and are
kept in `Session.diagnostics`.

    from reconciler import Session

    session = Session()                       # signs in as the environment says
    planned = session.plan(["manifests"])     # Planned(state, plan, client)
    if not planned.plan.is_empty:
        report = session.apply(planned)       # ApplyReport: done, failed, not attempted

`apply` holds the tenant lease (`graph.lease`) while it writes: it takes it, refuses a plan made from a tenant
that changed since, and gives it back at the end. `plan_to_apply` (what `b2ckeys apply` uses) takes it before
reading the tenant; use `with Session() as session:` so that it is given back also when nothing is applied.

With an environments file (b2ckeys.yaml), B2CKEYS_ENV in `environ` selects the environment
(`Session({**os.environ, "B2CKEYS_ENV": "dev"})`): its variables go into the manifests and its tenant is
the guard; without one, plan, apply, drift and export refuse. Every user error is a `ReconcilerError`
carrying its location; nothing here exits.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

from ..core.changes import Change, Plan
from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import ApplyRefused, GraphNotFound, ManifestError
from ..core.model import DesiredState, LiveKey, LiveState, SecretRef, is_internal
from ..core.probe import ProbeReport
from ..core.report import ApplyReport, Outcome
from ..graph.client import GraphClient, connect_graph
from ..graph.probe import probe_tenant
from ..graph.settings import from_environment as settings_from
from ..manifest import background
from ..manifest.environments import Scope, selected_scope
from ..manifest.export import ExportResult, export_manifest
from ..manifest.files import DEFAULT_PATHS
from ..manifest.secrets import missing_secret_diagnostics, reference_warnings, resolve, secret_warnings
from ..manifest.state import load_state
from ..plan import planner
from ..plan.data import live_data
from ..plan.drift import DriftReport, drift
from ..plan.planfile import digest
from ..signin.auth import Identity, TokenProvider
from ..signin.credentials import kind_from_environment, sign_in_notices
from ..signin.preflight import check
from . import applier
from .aftercheck import check_after_apply
from .leasing import HeldLease, LeaseOptions
from .live import read_live
from .vaults import VaultAccess


@dataclass(frozen=True)
class Planned:
    """A plan with what it was computed from, and the client (signed in, past the guards)
    that `Session.apply` makes its changes with; `writable`: the client passed the write
    permission's guard and is paced for apply's workers."""

    state: DesiredState
    plan: Plan
    client: GraphClient
    writable: bool = False


class Session:
    """One run against one tenant, configured by `environ` (the process environment by
    default: AZURE_*, B2CKEYS_*)."""

    def __init__(self, environ: Mapping[str, str] | None = None, *,
                 on_diagnostics: Callable[[Sequence[Diagnostic]], None] | None = None,
                 lease: LeaseOptions | None = None):
        self.environ = os.environ if environ is None else environ
        self.diagnostics: list[Diagnostic] = []
        self._on_diagnostics = on_diagnostics
        self.lease_options = lease or LeaseOptions()
        self._held: HeldLease | None = None
        self.identity: Identity | None = None  # who the last `connect` signed in as
        self.scope: Scope | None = None  # the environment (b2ckeys.yaml) chosen by `environment`
        self._scoped = False
        self.vaults = VaultAccess(self.environ)  # Key Vault references: signs in to a vault when one is read

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Gives back the tenant lease, if this session still holds it (a problem doing so is a warning)."""
        problem = self.release_lease()
        if problem:
            self.report([Diagnostic(Severity.WARNING, problem)])

    def report(self, diagnostics: Sequence[Diagnostic]) -> None:
        """Keeps warnings (and passes them to `on_diagnostics`, when there are any)."""
        if diagnostics:
            self.diagnostics.extend(diagnostics)
            if self._on_diagnostics:
                self._on_diagnostics(diagnostics)

    # -- the desired state ------------------------------------------------------------

    def environment(self, command: str, *, saved: str | None = None) -> Scope | None:
        """The environment of the environments file (b2ckeys.yaml) this run works in: B2CKEYS_ENV
        (--env), else `saved` (a saved plan's); None without an environments file. With one and
        no environment chosen, ConfigError listing them (`command` names who asks)."""
        if not self._scoped:
            self.scope, self._scoped = selected_scope(self.environ, command=command, saved=saved), True
        return self.scope

    def load(self, paths: Sequence[str] = (), *, policies: Sequence[str] = (), validating: bool = False,
             command: str = "apply") -> DesiredState:
        """Manifests, certificate facts and policy references; ManifestError with every error.
        `validating`: the offline check (`validate`), where unavailable files are warnings."""
        state, warnings = load_state(paths or DEFAULT_PATHS, self.environ, policies=policies or (),
                                     validating=validating, scope=self.environment(command))
        self.report(warnings)
        return state

    def check_secrets(self, state: DesiredState) -> None:
        """Before any call to Graph that writes: secret files others may read and variables
        whose trailing line break is dropped are reported, and every secret must be there
        (ManifestError)."""
        self.report(secret_warnings(state, self.environ))
        self.require_secrets(state)

    def require_secrets(self, state: DesiredState) -> None:
        """Every secret the manifests reference can be read now, or ManifestError."""
        missing = missing_secret_diagnostics(state, Severity.ERROR, self.environ)
        if missing:
            raise ManifestError(missing)

    # -- signing in ---------------------------------------------------------------------

    def connect(self, tenant: str | None | Callable[[], str | None], *, command: str, write: bool,
                workers: int = 1) -> GraphClient:
        """A Graph client signed in as the environment says, once the tenant and permission
        guards passed (before any key-set call); paced to B2CKEYS_MAX_RPM requests a minute
        across all `workers`. `tenant`: the manifests' tenant (or None), or a function that
        waits for it, called once signed in. A credential file others can read is a warning."""
        kind = kind_from_environment(self.environ)
        self.report([d for d in sign_in_notices(self.environ) if d not in self.diagnostics])  # once a run
        settings = settings_from(self.environ, app_required=kind.needs_app)
        self.vaults.settings = self.vaults.settings or settings  # vault reads share the run's deadline
        provider = TokenProvider(settings, self.environ)
        if callable(tenant):
            provider.identity()  # signs in while the manifests load
            tenant = tenant()
        self.identity = check(provider, settings, tenant, command=command, write=write,
                              environment=self.scope.name if self.scope else None)
        return connect_graph(settings, provider, workers=workers)

    def load_and_list(self, paths: Sequence[str] = (), *, policies: Sequence[str] = (), command: str
                      ) -> tuple[DesiredState, GraphClient, LiveState]:
        """The desired state, a client signed in past the guards, and the tenant's key sets.
        Large manifest sets load in a thread meanwhile (`manifest.background`);
        when signing in or listing fails, the manifests' errors, if any, are raised instead."""
        scope = self.environment(command)
        with background.start_loading(paths or DEFAULT_PATHS, self.environ, policies=policies or (),
                                      scope=scope) as loading:
            try:
                client = self.connect(scope.tenant if scope else loading.tenant, command=command, write=False)
                listed = client.list_keysets()
            except Exception:
                _, warnings = loading.result()  # bad manifests are the first thing to fix
                self.report(warnings)  # then what was wrong with signing in or listing
                raise
            state, warnings = loading.result()
        self.report(warnings)
        return state, client, listed

    # -- the tenant lease ------------------------------------------------------------------

    def hold_lease(self, client: GraphClient, *, command: str = "apply") -> str | None:
        """Takes the tenant lease (`graph.lease`) unless held already or `--lock=false`;
        LeaseHeld when another run holds it past the timeout. Returns the lock ID."""
        if self._held is None and self.lease_options.enabled:
            self._held = HeldLease(client, command, self.environ, self.lease_options)
        return self._held.lock_id if self._held else None

    def release_lease(self) -> str | None:
        """Gives the lease back; a problem to report (it was lost, or not released), or None."""
        held, self._held = self._held, None
        return held.release() if held else None

    # -- plan, drift, apply -----------------------------------------------------------------

    def read_live(self, client: GraphClient, state: DesiredState, now: int, *,
                  listed: LiveState | None = None) -> LiveState:
        live, warnings = read_live(client, state, now, listed=listed)
        self.report(warnings)
        return live

    def plan_against(self, state: DesiredState, client: GraphClient, listed: LiveState | None = None) -> Plan:
        """The plan for `state` against the tenant as it is now; the live state's warnings
        are the plan's first warnings."""
        now = int(time.time())
        live, warnings = read_live(client, state, now, listed=listed)
        made = planner.plan(self.vaults.with_earlier(state, live), live, now=now)
        return replace(made, warnings=tuple(warnings) + made.warnings) if warnings else made

    def plan(self, paths: Sequence[str] = (), *, policies: Sequence[str] = ()) -> Planned:
        """Load, sign in (read permission), list, plan: what `b2ckeys plan` shows. A secret
        apply could not read now is a warning, as in `validate`: the plan holds references only."""
        state, client, listed = self.load_and_list(paths, policies=policies, command="plan")
        state = self.vaults.with_facts(state)
        self.report(reference_warnings(state, self.environ))
        return Planned(state, self.plan_against(state, client, listed), client)

    def plan_to_apply(self, paths: Sequence[str] = (), *, policies: Sequence[str] = (), workers: int = 1
                      ) -> Planned:
        """As `plan`, for `apply`: every secret checked before any call to Graph, and a client
        signed in with the write permission, paced across `workers`."""
        state = self.load(paths, policies=policies)
        self.check_secrets(state)
        client = self.connect(state.tenant, command="apply", write=True, workers=workers)
        state = self.vaults.with_facts(state)
        self.hold_lease(client)  # before the tenant is read: the plan is made from what no other run changes
        return Planned(state, self.plan_against(state, client), client, writable=True)

    def drift(self, paths: Sequence[str] = (), *, policies: Sequence[str] = (), window_days: int) -> DriftReport:
        """What `b2ckeys drift` reports, with B2C's own word on each key set's active key
        (one extra GET per key set; B2C's backups and b2ckeys' lease are not asked). The
        answers go to `drift` as they are: it ties an answer with no kid to a listed key."""
        state, client, listed = self.load_and_list(paths, policies=policies, command="drift")
        state = self.vaults.with_facts(state)
        vault_secrets = self.vaults.secrets_now(state)
        now = int(time.time())
        live = self.read_live(client, state, now, listed=listed)
        graph_active: dict[str, LiveKey | None] = {}
        for keyset in live.keysets:
            if not is_internal(keyset.id):
                try:
                    graph_active[keyset.id] = client.get_active_key(keyset.id)
                except GraphNotFound:  # deleted since the list: nothing to compare
                    continue
        return drift(self.vaults.with_earlier(state, live), live, now, window_days, graph_active,
                     vault_secrets=vault_secrets)

    def export(self, *, schema_ref: str) -> ExportResult:
        """The tenant's key sets as a manifest, secrets as references (`b2ckeys export`)."""
        scope = self.environment("export")  # its tenant is guarded, as for plan
        live = self.connect(scope.tenant if scope else None, command="export", write=False).list_keysets()
        return export_manifest(live, schema_ref=schema_ref,
                               tenant=scope.tenant if scope else self.environ.get("AZURE_TENANT_ID"))

    def probe(self, *, approve: Callable[[str], None] | None = None,
              on_step: Callable[[str], None] | None = None) -> ProbeReport:
        """Which reading of the API's undocumented behaviours the tenant follows
        (`b2ckeys probe`, `graph.probe`). Signs in past the write permission's guard, then
        `approve(tenant)` may stop it, by raising, before the first write."""
        client = self.connect(None, command="probe", write=True)
        tenant = self.identity.tenant_id if self.identity else ""
        if approve:
            approve(tenant)
        return probe_tenant(client, tenant=tenant, time_scale=client.policy.scale, on_step=on_step)

    def apply(self, planned: Planned, *, parallelism: int = 1,
              on_start: Callable[[Change], None] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None,
              stop: threading.Event | None = None) -> ApplyReport:
        """Makes the plan's changes (`session.applier`). Before the first write every secret
        must be there, and a plan made by `plan` (read permission) signs in again past the
        write permission's guard; each secret is read just before the call that needs it."""
        client = planned.client
        if not planned.writable:
            self.check_secrets(planned.state)
            client = self.connect(planned.state.tenant, command="apply", write=True, workers=parallelism)
        try:
            if self._held is None and self.lease_options.enabled:
                self.hold_lease(client)
                self._check_unchanged(planned, client)
            stop = stop or threading.Event()
            if self._held:
                self._held.watch(stop)
            report = applier.apply(planned.plan, client, resolve=self.resolve, on_start=on_start,
                                   on_outcome=on_outcome, parallelism=parallelism, stop=stop)
            with client.deadline.finishing():  # what was added is read back even just past the run's deadline
                problems = check_after_apply(client, planned.state, report)
        finally:
            lost = self.release_lease()
        problems += [lost] if lost else []
        return replace(report, problems=tuple(problems)) if problems else report

    def _check_unchanged(self, planned: Planned, client: GraphClient) -> None:
        """A plan made before the lease was taken is applied only if the tenant is as it was."""
        live = read_live(client, planned.state, int(time.time()))[0]
        if digest(live_data(live)) != digest(live_data(planned.plan.live)):
            raise ApplyRefused("the tenant changed since this plan was made (another run applied?); nothing was "
                               "changed. Make a new plan")

    def resolve(self, ref: SecretRef) -> str:
        return self.vaults.value(ref) if ref.in_vault else resolve(ref, self.environ)
