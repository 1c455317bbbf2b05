"""Key Vault's built-in roles (Azure RBAC) as far as the emulator's endpoints need: the
data action each endpoint needs, and which roles grant it. The 403 is Key Vault's
``Forbidden`` with ``innererror.code`` ``ForbiddenByRbac``."""

from __future__ import annotations

import enum
from typing import Any

from .vaultstore import VaultError


class Action(str, enum.Enum):
    GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
    READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
    SET_SECRET = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
    READ_CERTIFICATE = "Microsoft.KeyVault/vaults/certificates/read"
    IMPORT_CERTIFICATE = "Microsoft.KeyVault/vaults/certificates/import/action"

    def allowed_by(self, roles: tuple[str, ...] | list[str]) -> bool:
        held = {role.strip().lower() for role in roles}
        return any(self in ROLES.get(role, ()) for role in held)


_A = Action
# The data actions of each built-in role, as far as the actions above go.
ROLES: dict[str, tuple[Action, ...]] = {
    "key vault administrator": tuple(Action),
    "key vault secrets officer": (_A.GET_SECRET, _A.READ_METADATA, _A.SET_SECRET),
    "key vault secrets user": (_A.GET_SECRET, _A.READ_METADATA),
    "key vault certificates officer": (_A.READ_CERTIFICATE, _A.IMPORT_CERTIFICATE,
                                       _A.READ_METADATA),
    "key vault certificate user": (_A.READ_CERTIFICATE, _A.GET_SECRET, _A.READ_METADATA),
    "key vault reader": (_A.READ_CERTIFICATE, _A.READ_METADATA),
}
KNOWN_ROLES = ("Key Vault Administrator", "Key Vault Secrets Officer", "Key Vault Secrets User",
               "Key Vault Certificates Officer", "Key Vault Certificate User", "Key Vault Reader")


def check_roles(roles: Any) -> list[str]:
    """A list of known role names (any case); ValueError names the first unknown one."""
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ValueError('the body must be {"roles": ["Key Vault Secrets User", ...]}')
    for role in roles:
        if role.strip().lower() not in ROLES:
            raise ValueError(f"unknown role {role[:60]!r}; known: {', '.join(KNOWN_ROLES)}")
    return list(roles)


def forbidden(claims: dict[str, Any], action: Action, vault: str, resource: str) -> VaultError:
    caller = (f"appid={claims.get('appid', '')};oid={claims.get('oid', '')};"
              f"iss={claims.get('iss', '')}")
    message = ("Caller is not authorized to perform action on resource.\r\n"
               "If role assignments, deny assignments or role definitions were changed "
               "recently, please observe propagation time.\r\n"
               f"Caller: {caller}\r\n"
               f"Action: '{action.value}'\r\n"
               f"Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
               f"b2ckeys-emulator/providers/microsoft.keyvault/vaults/{vault.lower()}/"
               f"{resource.lower()}'\r\n"
               "Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\n"
               f"Vault: {vault};location=local\r\n")
    return VaultError(403, "Forbidden", message, inner="ForbiddenByRbac")
