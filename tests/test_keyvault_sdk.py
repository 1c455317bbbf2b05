"""Microsoft's Key Vault SDKs for Python (azure-keyvault-secrets, azure-keyvault-certificates),
unchanged, against the emulated vault: their challenge policy, a token from the emulator's token
endpoint through msal, their paging, their error mapping and their models. Skipped only when
the SDKs are not installed (they are in the `test` extra)."""

import base64
import datetime as dt
import time

import pytest

pytest.importorskip("azure.keyvault.secrets")
pytest.importorskip("azure.keyvault.certificates")

import msal  # noqa: E402
import requests  # noqa: E402
from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError  # noqa: E402
from azure.keyvault.certificates import CertificateClient  # noqa: E402
from azure.keyvault.secrets import SecretClient  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402

from helpers.certkit import DAY, PFX_PASSWORD, certificate, rsa_key, x5t  # noqa: E402
from helpers.cli import CANARY  # noqa: E402

VAULT = "kv-b2c-sdk"
NOW = int(time.time())


class EmulatorCredential:
    """An azure-core TokenCredential: msal's client credentials against the emulator's token
    endpoint, trusting the emulator's CA."""

    def __init__(self, emu):
        session = requests.Session()
        session.trust_env = False
        session.verify = emu.ca_path
        self.tenants = []
        self.app = msal.ConfidentialClientApplication(
            emu.client_id, client_credential=emu.client_secret,
            authority=f"{emu.url}/{emu.tenant_id}", http_client=session, instance_discovery=False)

    def get_token(self, *scopes, claims=None, tenant_id=None, **kwargs):
        self.tenants.append(tenant_id)
        result = self.app.acquire_token_for_client(list(scopes))
        assert "access_token" in result, result.get("error")
        return AccessToken(result["access_token"], int(time.time()) + result["expires_in"])


def clients(emu, credential=None, **options):
    url = emu.add_vault(VAULT)
    credential = credential or EmulatorCredential(emu)
    # verify_challenge_resource=False: the SDK accepts a challenge only when the vault's host
    # ends with "." + the challenge resource's host (vault.azure.net). 127.0.0.1:PORT never does;
    # the only resources that would pass are dotted tails of the address ("https://0.0.1:PORT"),
    # which no vault names and no token service knows. The emulator answers Azure's challenge.
    options = {"connection_verify": emu.ca_path, "verify_challenge_resource": False, **options}
    return SecretClient(url, credential, **options), CertificateClient(url, credential, **options)


def test_the_sdk_refuses_a_loopback_vault_when_it_checks_the_challenge_resource(emu):
    secrets, _ = clients(emu, verify_challenge_resource=True)
    with pytest.raises(ValueError, match="does not match the requested domain"):
        secrets.get_secret("anything")


def test_set_get_and_list_versions_through_the_sdk(emu):
    credential = EmulatorCredential(emu)
    secrets, _ = clients(emu, credential)
    nbf = NOW - 60
    first = secrets.set_secret("facebook", "first-" + CANARY, not_before=_at(nbf),
                               expires_on=_at(NOW + 30 * DAY), content_type="text/plain")
    assert credential.tenants[-1] == emu.tenant_id  # the tenant came from the challenge
    assert first.value == "first-" + CANARY and first.properties.content_type == "text/plain"
    assert int(first.properties.not_before.timestamp()) == nbf
    assert first.properties.name == "facebook" and len(first.properties.version) == 32
    made = [first.properties.version] + [secrets.set_secret("facebook", f"v{i}").properties.version
                                         for i in range(3)]
    latest = secrets.get_secret("facebook")
    assert latest.value == "v2" and latest.properties.version == made[-1]
    pinned = secrets.get_secret("facebook", made[0])
    assert pinned.value == "first-" + CANARY and pinned.properties.expires_on is not None
    pages = secrets.list_properties_of_secret_versions("facebook", max_page_size=2).by_page()
    seen = [[p.version for p in page] for page in pages]
    assert seen == [made[:2], made[2:]]


def test_errors_map_to_the_sdks_exceptions(emu):
    secrets, _ = clients(emu)
    with pytest.raises(ResourceNotFoundError) as missing:
        secrets.get_secret("nothing-here")
    assert missing.value.error.code == "SecretNotFound"
    secrets.set_secret("fb", CANARY)
    emu.set_vault_roles(VAULT, [])
    with pytest.raises(HttpResponseError) as refused:
        secrets.get_secret("fb")
    assert refused.value.status_code == 403 and refused.value.error.code == "Forbidden"
    assert CANARY not in str(refused.value)


def test_import_certificate_then_the_secret_holds_the_pfx(emu):
    secrets, certificates = clients(emu)
    cert = certificate("saml signing", nbf=NOW - DAY)
    pfx = pkcs12.serialize_key_and_certificates(
        b"saml", rsa_key(), cert, None,
        serialization.BestAvailableEncryption(PFX_PASSWORD.encode()))
    imported = certificates.import_certificate("saml-signing", pfx, password=PFX_PASSWORD)
    assert base64.urlsafe_b64encode(imported.properties.x509_thumbprint).decode().rstrip("=") \
        == x5t(cert)
    assert imported.cer == cert.public_bytes(serialization.Encoding.DER)
    assert certificates.get_certificate("saml-signing").properties.version \
        == imported.properties.version
    secret = secrets.get_secret("saml-signing")
    assert secret.properties.content_type == "application/x-pkcs12"
    assert secret.properties.version == imported.properties.version
    key, again, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert again == cert and key.private_numbers() == rsa_key().private_numbers()


def _at(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
