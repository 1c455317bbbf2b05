"""The demo's own Key Vault tooling: Key Vault's Set Secret over REST, as a team's scripts
(or `az keyvault secret set`) put a secret in a vault, against the emulated vault. b2ckeys
itself never writes to a vault; only the demo does, to seed and rotate its secrets.

The token is the emulator app's, from its token endpoint, for Key Vault's scope. The value
goes in the request body only; what comes back is the new version's id and dates, never
shown with the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from ..core.errors import ReconcilerError

API_VERSION = "7.5"
VAULT_SCOPE = "https://vault.azure.net/.default"
TIMEOUT = 30


@dataclass(frozen=True)
class SetSecret:
    """What Set Secret answered: the version's id, and its `nbf` and creation time (epoch seconds)."""

    vault: str
    name: str
    version: str
    nbf: int | None
    created: int


def vault_token(env: dict[str, str]) -> str:
    """A token for Key Vault from the emulator's token endpoint (client credentials)."""
    url = f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
            "client_secret": env["AZURE_CLIENT_SECRET"], "scope": VAULT_SCOPE}
    answer = requests.post(url, data=form, verify=env["B2CKEYS_CA_BUNDLE"], timeout=TIMEOUT)
    if answer.status_code != 200:
        raise ReconcilerError(f"demo: the emulator's token endpoint answered {answer.status_code}")
    return answer.json()["access_token"]


def set_secret(env: dict[str, str], vault: str, name: str, value: str, *, nbf: int | None = None) -> SetSecret:
    """PUT {vault}/secrets/{name}: a new version of the secret, enabled, with `nbf` if given."""
    url = env["B2CKEYS_KEYVAULT_URL"].format(name=vault) + f"/secrets/{name}"
    body = {"value": value, "attributes": {"enabled": True, **({"nbf": nbf} if nbf is not None else {})}}
    answer = requests.put(url, params={"api-version": API_VERSION}, json=body, verify=env["B2CKEYS_CA_BUNDLE"],
                          headers={"Authorization": f"Bearer {vault_token(env)}"}, timeout=TIMEOUT)
    if answer.status_code != 200:
        raise ReconcilerError(f"demo: Set Secret on vault {vault} answered {answer.status_code}")
    made = answer.json()
    attributes = made.get("attributes", {})
    return SetSecret(vault, name, made["id"].rstrip("/").rsplit("/", 1)[-1], attributes.get("nbf"),
                     attributes["created"])
