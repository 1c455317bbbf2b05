"""`b2ckeys doctor`: who am I signed in as, with which roles, can I reach Graph.

Prints what it finds on stdout, one `name: value` line each, and each problem as one
`error:` line on stderr; exit 0 when there is none, 1 otherwise. Never a secret or a
token: the credential is shown by kind and public facts only (file, thumbprint).
"""

from __future__ import annotations

from ..core.diagnostics import printable
from ..core.errors import ReconcilerError
from ..graph.client import connect_graph
from ..graph.settings import from_environment
from ..signin.auth import TokenProvider
from ..signin.credentials import Kind, kind_from_environment, sign_in_notices
from ..signin.credentials import from_environment as credential_from
from ..signin.preflight import READ_ROLE, WRITE_ROLE, check_cli_tenant, missing_permission

WIDTH = 12


def run(args, ctx) -> int:
    return run_doctor(ctx)


def run_doctor(ctx) -> int:
    problems: list[str] = []

    def show(name: str, value: str) -> None:
        ctx.out(f"{name + ':':<{WIDTH}} {printable(value)}")  # the token's claims, Graph's answers

    def finish() -> int:
        for problem in problems:
            ctx.err(f"error: {printable(problem)}")
        if not problems:
            ctx.out("All good.")
        return 1 if problems else 0

    try:
        credential = credential_from(ctx.environ)
    except ReconcilerError as e:
        credential = None
        problems.append(str(e))
    try:
        settings = from_environment(ctx.environ, app_required=_app_required(ctx.environ))
    except ReconcilerError as e:
        problems.append(str(e))
        return finish()
    show("cloud", settings.cloud.name)
    show("login host", settings.authority_host)
    show("Graph", settings.graph_url)
    if credential is None:
        return finish()
    show("credential", credential.description)
    ctx.show(sign_in_notices(ctx.environ))
    provider = TokenProvider(settings, ctx.environ, credential)
    try:
        identity = provider.identity()
    except ReconcilerError as e:
        show("tenant", settings.tenant_id or "(not set)")
        show("client id", settings.client_id or "(not set)")
        problems.append(str(e))
        return finish()
    configured = settings.tenant_id and settings.tenant_id.lower() != identity.tenant_id.lower()
    show("tenant", identity.tenant_id + (f" (AZURE_TENANT_ID={settings.tenant_id})" if configured else ""))
    show("client id", identity.app_id or "(not in the token)")
    if credential.kind is Kind.AZURE_CLI and settings.tenant_id:
        try:
            check_cli_tenant(identity, settings)
        except ReconcilerError as e:
            problems.append(str(e))  # key sets are not listed: the tenant is not the one meant
    if credential.kind is Kind.AZURE_CLI:  # whoever az is signed in as: say who
        show("signed in", f"user {identity.user or '(no upn in the token)'}" if identity.scopes is not None
             and not identity.roles else f"app {identity.app_id or '(unknown)'} (a service principal)")
    held = identity.held
    note = ""
    if READ_ROLE in held and WRITE_ROLE not in held:
        note = f" (plan only: apply needs {WRITE_ROLE})"
    if identity.scopes is not None and not identity.roles:
        show("scopes", (", ".join(identity.scopes) or "none") + note + " (delegated, of a user)")
    else:
        show("roles", (", ".join(held) if held else "none") + note)
    if problems:
        show("key sets", "not listed (wrong tenant)")
        return finish()
    problem = missing_permission(identity, command="plan", write=False, kind=credential.kind)
    if problem:
        problems.append(problem)
        show("key sets", "not listed (no key-set permission)")
        return finish()
    try:
        live = connect_graph(settings, provider).list_keysets()
    except ReconcilerError as e:
        show("key sets", "Graph did not answer")
        problems.append(f"Graph at {settings.graph_url}: {e}")
        return finish()
    show("key sets", f"{len(live.keysets)} (Graph reachable)")
    return finish()


def _app_required(environ) -> bool:
    """Whether the credential named (even one that cannot be used) signs in as an app registration."""
    try:
        return kind_from_environment(environ).needs_app
    except ReconcilerError:
        return True
