"""Putting secrets and certificates into the emulated Key Vault the way users' own tooling
does: Key Vault's REST (Set Secret, Import Certificate) with a vault token from msal."""

import base64

import msal
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .certkit import rsa_key


class Vault:
    def __init__(self, emu, name):
        self.name, self.url = name, emu.add_vault(name)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = emu.ca_path
        app = msal.ConfidentialClientApplication(
            emu.client_id, client_credential=emu.client_secret, authority=f"{emu.url}/{emu.tenant_id}",
            http_client=self.session, instance_discovery=False)
        token = app.acquire_token_for_client(["https://vault.azure.net/.default"])["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def set_secret(self, name, value, **attributes) -> str:
        """Set Secret; the new version's id."""
        answer = self.session.put(f"{self.url}/secrets/{name}?api-version=7.4", headers=self.auth,
                                  json={"value": value, "attributes": attributes})
        answer.raise_for_status()
        return answer.json()["id"].rsplit("/", 1)[1]

    def import_certificate(self, name, cert) -> str:
        """Import Certificate: a PFX without a password, as Key Vault keeps it."""
        pfx = pkcs12.serialize_key_and_certificates(b"c", rsa_key(), cert, None, serialization.NoEncryption())
        answer = self.session.post(f"{self.url}/certificates/{name}/import?api-version=7.4", headers=self.auth,
                                   json={"value": base64.b64encode(pfx).decode()})
        answer.raise_for_status()
        return answer.json()["id"].rsplit("/", 1)[1]
