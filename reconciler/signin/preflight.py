"""Checks made after sign-in and before any key-set call: the tenant guard and the
permission guard. Each refusal is one `PreflightError` line that says what to fix.

- Tenant: a manifest's `tenant`, or the selected environment's (a GUID, or a domain resolved
  to its GUID through the OIDC discovery document at the login host) must be the token's `tid`.
  With the Azure CLI, whose account may be of any tenant, AZURE_TENANT_ID (when set) must
  be the token's `tid` too.
- Permission: from the token's `roles` (an app's application permissions) or `scp` (a
  user's delegated scopes, space-separated: an Azure CLI signed in as a user), `plan` (and
  `doctor`) need TrustFrameworkKeySet.Read.All or .ReadWrite.All; `apply` needs .ReadWrite.All.
"""

from __future__ import annotations

import re

import requests

from ..core.errors import PreflightError
from ..graph.settings import Settings
from ..graph.transport import Session
from .auth import Identity, TokenProvider
from .credentials import Kind

READ_ROLE = "TrustFrameworkKeySet.Read.All"
WRITE_ROLE = "TrustFrameworkKeySet.ReadWrite.All"
DISCOVERY_TIMEOUT = (10, 30)
NOTHING_DONE = "nothing was read or changed"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
GRANT_APP = ("grant it in the Entra admin center: App registrations > the app > API permissions > "
             "Add a permission > Microsoft Graph > Application permissions > {role} > Add permissions, "
             "then Grant admin consent")
GRANT_MANAGED_IDENTITY = ("grant it to the managed identity with an app role assignment on the Microsoft Graph "
                          "service principal (New-MgServicePrincipalAppRoleAssignment, or POST "
                          "/servicePrincipals/GRAPH-SP-ID/appRoleAssignedTo); the portal cannot do it")


def check(provider: TokenProvider, settings: Settings, tenant: str | None, *, command: str, write: bool,
          environment: str | None = None) -> Identity:
    """Sign in (if not yet done), then both guards. Returns who we are. `environment`: where
    `tenant` comes from, when an environment of the environments file names it."""
    identity = provider.identity()
    if provider.kind is Kind.AZURE_CLI and settings.tenant_id:
        check_cli_tenant(identity, settings)
    if tenant:
        check_tenant(tenant, identity, settings, environment)
    problem = missing_permission(identity, command=command, write=write, kind=provider.kind)
    if problem:
        raise PreflightError(f"{problem}; {NOTHING_DONE}")
    return identity


def missing_permission(identity: Identity, *, command: str, write: bool, kind: Kind) -> str | None:
    held = identity.held
    if WRITE_ROLE in held or (not write and READ_ROLE in held):
        return None
    needed = WRITE_ROLE if write else f"{READ_ROLE} (or {WRITE_ROLE})"
    if identity.scopes is not None and not identity.roles:  # a user's token: delegated scopes
        scopes = ", ".join(identity.scopes) if identity.scopes else "none"
        return (f"missing permission: 'b2ckeys {command}' needs the Microsoft Graph permission {needed}; the "
                f"Azure CLI's token for user {identity.user or '(unknown)'} has delegated scopes: {scopes}. To fix, "
                f"sign az in as the pipeline's app (az login --service-principal, azure/login, AzureCLI@2), "
                f"whose app registration has the application permission; {GRANT_APP.format(role=needed.split()[0])}")
    roles = identity.roles or ()
    held = ", ".join(roles) if roles else "none"
    grant = GRANT_MANAGED_IDENTITY if kind is Kind.MANAGED_IDENTITY else GRANT_APP.format(role=WRITE_ROLE if write else READ_ROLE)
    return (f"missing permission: 'b2ckeys {command}' needs the Microsoft Graph application permission {needed}; "
            f"the token of app {identity.app_id or '(unknown)'} has roles: {held}. To fix, {grant}")


def check_cli_tenant(identity: Identity, settings: Settings) -> None:
    """The Azure CLI's token must be for AZURE_TENANT_ID (a GUID, or a domain resolved to one)."""
    configured, signed_in = settings.tenant_id, identity.tenant_id
    wanted = configured if _GUID.fullmatch(configured) else resolve_domain(configured, settings, signed_in or "?")
    if wanted.lower() != signed_in.lower():
        shown = configured if wanted == configured else f"{configured} ({wanted})"
        raise PreflightError(f"wrong tenant: AZURE_TENANT_ID={shown}, but the Azure CLI's token is for tenant "
                             f"{signed_in or '(none: no tid claim)'}; run az login --tenant {configured}, or "
                             f"check AZURE_TENANT_ID; {NOTHING_DONE}")


def check_tenant(tenant: str, identity: Identity, settings: Settings, environment: str | None = None) -> None:
    signed_in = identity.tenant_id
    configured = f" (AZURE_TENANT_ID={settings.tenant_id})" if settings.tenant_id else ""
    whose, fix = ((f"environment {environment} is", f"environment {environment}'s tenant in the environments file")
                  if environment else ("the manifests are", "the manifests' 'tenant'"))
    if not signed_in:
        raise PreflightError(f"{whose} for tenant {tenant}, but the token names no tenant (no tid claim); "
                             f"{NOTHING_DONE}")
    wanted = tenant if _GUID.fullmatch(tenant) else resolve_domain(tenant, settings, signed_in, whose, fix)
    if wanted.lower() != signed_in.lower():
        shown = tenant if wanted == tenant else f"{tenant} ({wanted})"
        raise PreflightError(f"wrong tenant: {whose} for tenant {shown}, but b2ckeys is signed in to "
                             f"tenant {signed_in}{configured}; check AZURE_TENANT_ID or {fix}; {NOTHING_DONE}")


def resolve_domain(domain: str, settings: Settings, signed_in: str, whose: str = "the manifests are",
                   fix: str = "the manifests' 'tenant'") -> str:
    """The tenant GUID of `domain`, from the issuer of its OIDC discovery document."""
    url = f"{settings.authority_host}/{domain}/v2.0/.well-known/openid-configuration"
    try:
        response = Session(verify=settings.verify, timeout=DISCOVERY_TIMEOUT).get(url)
    except requests.RequestException as e:
        raise PreflightError(f"cannot check the manifests' tenant {domain}: {url} could not be read "
                             f"({type(e).__name__}); check AZURE_AUTHORITY_HOST and B2CKEYS_CA_BUNDLE; "
                             f"{NOTHING_DONE}") from None
    issuer = ""
    if response.status_code == 200:
        try:
            issuer = str(response.json().get("issuer") or "")
        except ValueError:
            issuer = ""
    found = _GUID.search(issuer)
    if found:
        return found.group(0)
    code = re.search(r"AADSTS\d+", response.text or "")
    why = f"HTTP {response.status_code}" + (f" {code.group(0)}" if code else "")
    raise PreflightError(f"wrong tenant: {whose} for tenant {domain}, which {settings.authority_host} "
                         f"does not know ({why}), and b2ckeys is signed in to tenant {signed_in}; check "
                         f"{fix} and AZURE_TENANT_ID; {NOTHING_DONE}")
