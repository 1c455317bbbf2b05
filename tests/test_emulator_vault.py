"""The emulated Key Vault over HTTPS with plain requests and msal: the challenge, tokens for
the vault's resource, Set Secret and its reads, paging, roles, and no value in any log."""

import io
import json
import time

import msal
import pytest
import requests

from helpers.cli import CANARY
from reconciler.emulator import Emulator

VAULT = "kv-b2c-test"


@pytest.fixture
def kv(emu):
    """(session, vault URL, auth headers): a vault on the reset emulator and a vault token."""
    url = emu.add_vault(VAULT)
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_path
    app = msal.ConfidentialClientApplication(
        emu.client_id, client_credential=emu.client_secret, authority=f"{emu.url}/{emu.tenant_id}",
        http_client=session, instance_discovery=False)
    token = app.acquire_token_for_client(["https://vault.azure.net/.default"])["access_token"]
    return session, url, {"Authorization": f"Bearer {token}"}


def put(kv, name, value, api="7.4", **attributes):
    session, url, auth = kv
    return session.put(f"{url}/secrets/{name}?api-version={api}", headers=auth,
                       json={"value": value, "contentType": "text/plain", "attributes": attributes})


def test_the_vault_answers_without_a_token_with_the_challenge(kv, emu):
    session, url, _ = kv
    answer = session.get(f"{url}/secrets/fb?api-version=7.4")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer authorization="{emu.url}/{emu.tenant_id}", resource="https://vault.azure.net"')
    assert answer.json()["error"]["code"] == "Unauthorized"


def test_a_graph_token_is_refused_by_the_vault_and_a_vault_token_by_graph(kv, emu):
    session, url, auth = kv
    graph = session.get(f"{emu.url}/beta/trustFramework/keySets", headers=auth)
    assert graph.status_code == 401
    token = emu.make_token()  # Graph's audience
    answer = session.get(f"{url}/secrets/fb?api-version=7.4", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and "WWW-Authenticate" in answer.headers


@pytest.mark.parametrize("query, status", [("", 400), ("?api-version=1.0", 400),
                                           ("?api-version=7.5", 404), ("?api-version=2025-07-01", 404)])
def test_api_version_is_required_and_checked(kv, query, status):
    session, url, auth = kv
    answer = session.get(f"{url}/secrets/missing{query}", headers=auth)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == ("BadParameter" if status == 400 else "SecretNotFound")


def test_set_secret_then_get_the_latest_and_a_version(kv):
    session, url, auth = kv
    nbf, exp = int(time.time()) - 60, int(time.time()) + 86400
    first = put(kv, "facebook", "first-value", nbf=nbf, exp=exp)
    assert first.status_code == 200
    body = first.json()
    assert body["value"] == "first-value" and body["contentType"] == "text/plain"
    assert body["attributes"]["nbf"] == nbf and body["attributes"]["exp"] == exp
    assert body["attributes"]["enabled"] is True
    version = body["id"].rsplit("/", 1)[1]
    assert body["id"].endswith(f"/secrets/facebook/{version}") and len(version) == 32
    put(kv, "facebook", "second-value", api="2025-07-01")
    latest = session.get(f"{url}/secrets/Facebook?api-version=7.5", headers=auth).json()
    assert latest["value"] == "second-value" and "nbf" not in latest["attributes"]
    pinned = session.get(f"{url}/secrets/facebook/{version}?api-version=7.4", headers=auth).json()
    assert pinned["value"] == "first-value"
    missing = session.get(f"{url}/secrets/facebook/{'0' * 32}?api-version=7.4", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SecretNotFound"


@pytest.mark.parametrize("body", [{"value": 3}, {"value": CANARY, "attributes": {"nbf": "soon"}},
                                  {"value": CANARY, "attributes": {"nbf": 20, "exp": 10}},
                                  {"value": CANARY * 2000}, {"value": CANARY, "contentType": "t" * 256},
                                  {"value": CANARY, "tags": {f"t{i}": CANARY for i in range(16)}}, []])
def test_a_bad_set_secret_is_400_without_echoing_the_value(kv, body):
    session, url, auth = kv
    answer = session.put(f"{url}/secrets/s?api-version=7.4", headers=auth, json=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadParameter"
    assert CANARY not in answer.text


def test_list_versions_pages_with_next_link_and_no_values(kv):
    session, url, auth = kv
    made = [put(kv, "rotating", f"{CANARY}-{i}", exp=int(time.time()) + 1000 + i).json()["id"]
            for i in range(5)]
    seen, link, pages = [], f"{url}/secrets/rotating/versions?api-version=7.4&maxresults=2", 0
    while link:
        page = session.get(link, headers=auth)
        assert page.status_code == 200 and CANARY not in page.text
        seen += [item["id"] for item in page.json()["value"]]
        link, pages = page.json()["nextLink"], pages + 1
    assert seen == made and pages == 3
    too_big = session.get(f"{url}/secrets/rotating/versions?api-version=7.4&maxresults=26", headers=auth)
    assert too_big.status_code == 400


def test_a_disabled_version_is_forbidden_to_get(kv):
    session, url, auth = kv
    put(kv, "off", "value", enabled=False)
    answer = session.get(f"{url}/secrets/off?api-version=7.4", headers=auth)
    assert answer.status_code == 403 and answer.json()["error"]["innererror"]["code"] == "SecretDisabled"


def test_roles_decide_what_the_app_may_do(kv, emu):
    session, url, auth = kv
    put(kv, "fb", "v")
    control = f"{emu.url}/_emulator/vaults/{VAULT}/roles"
    assert session.get(control).json()["roles"] == ["Key Vault Secrets Officer",
                                                    "Key Vault Certificates Officer"]
    assert session.post(control, json={"roles": ["Key Vault Secrets User"]}).ok
    assert session.get(f"{url}/secrets/fb?api-version=7.4", headers=auth).status_code == 200
    refused = put(kv, "fb", "w")
    assert refused.status_code == 403
    assert session.post(control, json={"roles": ["Key Vault Reader"]}).ok
    assert session.get(f"{url}/secrets/fb/versions?api-version=7.4", headers=auth).status_code == 200
    assert session.post(control, json={"roles": []}).ok
    error = session.get(f"{url}/secrets/fb?api-version=7.4", headers=auth).json()["error"]
    assert error["code"] == "Forbidden" and error["innererror"]["code"] == "ForbiddenByRbac"
    assert "secrets/getSecret/action" in error["message"] and VAULT in error["message"]
    assert session.post(control, json={"roles": ["Key Vault Boss"]}).status_code == 400
    emu.reset()
    assert emu.state()["vaults"] == []


def test_an_unknown_vault_is_404(kv, emu):
    session, _, auth = kv
    answer = session.get(f"{emu.url}/vaults/kv-nowhere/secrets/fb?api-version=7.4", headers=auth)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "VaultNotFound"


def test_values_never_reach_state_request_log_or_access_log():
    log = io.StringIO()
    with Emulator(vaults=[VAULT], log_stream=log) as emu:
        session = requests.Session()
        session.trust_env = False
        session.verify = emu.ca_path
        app = msal.ConfidentialClientApplication(
            emu.client_id, client_credential=emu.client_secret,
            authority=f"{emu.url}/{emu.tenant_id}", http_client=session, instance_discovery=False)
        token = app.acquire_token_for_client(["https://vault.azure.net/.default"])["access_token"]
        kv = (session, f"{emu.url}/vaults/{VAULT}", {"Authorization": f"Bearer {token}"})
        assert put(kv, "canary", CANARY).ok
        assert put(kv, "canary", CANARY, nbf="bad").status_code == 400
        state = session.get(f"{emu.url}/_emulator/state").text
        logged = json.dumps(emu.requests())
        secret = json.loads(state)["vaults"][0]["secrets"][0]
        assert secret["name"] == "canary" and len(secret["versions"][0]["sha256"]) == 64
        assert emu.env["B2CKEYS_KEYVAULT_URL"] == f"{emu.url}/vaults/{{name}}"
    for text in (state, logged, log.getvalue()):
        assert CANARY not in text
    assert f"PUT /vaults/{VAULT}/secrets/canary 200" in log.getvalue()


def test_vault_names_are_checked():
    with pytest.raises(ValueError):
        Emulator(vaults=["no"])
    with pytest.raises(ValueError):
        Emulator(vaults=["kv_under"])


def test_the_emulator_command_serves_each_vault_named_and_writes_the_url_template(emulator_process):
    env = emulator_process("--vault", "kv-b2c-dev", "--vault", "kv-b2c-prod")
    template = env["B2CKEYS_KEYVAULT_URL"]
    assert template == env["B2CKEYS_GRAPH_URL"] + "/vaults/{name}"
    session = requests.Session()
    session.trust_env = False
    session.verify = env["B2CKEYS_CA_BUNDLE"]
    for name in ("kv-b2c-dev", "kv-b2c-prod"):
        answer = session.get(template.format(name=name) + "/secrets/fb?api-version=7.4")
        assert answer.status_code == 401 and "WWW-Authenticate" in answer.headers
    vaults = session.get(env["B2CKEYS_GRAPH_URL"] + "/_emulator/state").json()["vaults"]
    assert [v["name"] for v in vaults] == ["kv-b2c-dev", "kv-b2c-prod"]


def test_the_emulator_command_refuses_a_bad_vault_name():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "reconciler", "emulator", "--vault", "a_b"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "not a Key Vault name" in done.stderr
    assert "Traceback" not in done.stderr


def _pfx(password):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from helpers.certkit import certificate, rsa_key

    cert = certificate("kv import", nbf=int(time.time()) - 60)
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    return cert, pkcs12.serialize_key_and_certificates(b"kv", rsa_key(), cert, None, encryption)


def test_import_certificate_makes_the_certificate_and_its_secret(kv):
    import base64

    from helpers.certkit import PFX_PASSWORD, x5t

    session, url, auth = kv
    cert, pfx = _pfx(PFX_PASSWORD)
    answer = session.post(f"{url}/certificates/saml/import?api-version=7.5", headers=auth,
                          json={"value": base64.b64encode(pfx).decode(), "pwd": PFX_PASSWORD})
    assert answer.status_code == 200 and PFX_PASSWORD not in answer.text
    bundle = answer.json()
    version = bundle["id"].rsplit("/", 1)[1]
    assert bundle["x5t"] == x5t(cert) and bundle["sid"].endswith(f"/secrets/saml/{version}")
    assert bundle["policy"]["secret_props"]["contentType"] == "application/x-pkcs12"
    assert bundle["attributes"]["exp"] == int(cert.not_valid_after_utc.timestamp())
    got = session.get(f"{url}/certificates/saml/{version}?api-version=7.5", headers=auth).json()
    assert got["cer"] == bundle["cer"]
    secret = session.get(f"{url}/secrets/saml?api-version=7.5", headers=auth).json()
    assert secret["contentType"] == "application/x-pkcs12" and secret["managed"] is True
    assert secret["kid"].endswith(f"/keys/saml/{version}")


def test_import_certificate_as_pem_and_its_errors(kv):
    import base64

    from cryptography.hazmat.primitives import serialization

    from helpers.certkit import PFX_PASSWORD, rsa_key

    session, url, auth = kv
    cert, pfx = _pfx("")
    pem = (rsa_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
           + cert.public_bytes(serialization.Encoding.PEM)).decode()
    answer = session.post(f"{url}/certificates/pem/import?api-version=7.4", headers=auth,
                          json={"value": pem,
                                "policy": {"secret_props": {"contentType": "application/x-pem-file"}}})
    assert answer.status_code == 200
    secret = session.get(f"{url}/secrets/pem?api-version=7.4", headers=auth).json()
    assert "BEGIN PRIVATE KEY" in secret["value"] and secret["contentType"] == "application/x-pem-file"
    _, locked = _pfx(PFX_PASSWORD)
    wrong = session.post(f"{url}/certificates/x/import?api-version=7.4", headers=auth,
                         json={"value": base64.b64encode(locked).decode(), "pwd": "wrong-" + CANARY})
    assert wrong.status_code == 400 and CANARY not in wrong.text
    missing = session.get(f"{url}/certificates/nothing?api-version=7.4", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CertificateNotFound"
    emu_roles = session.post(url.replace("/vaults/", "/_emulator/vaults/") + "/roles",
                             json={"roles": ["Key Vault Secrets Officer"]})
    assert emu_roles.ok
    refused = session.post(f"{url}/certificates/pem/import?api-version=7.4", headers=auth,
                           json={"value": base64.b64encode(pfx).decode()})
    assert refused.status_code == 403
    assert "certificates/import/action" in refused.json()["error"]["message"]


def test_fault_rules_reach_vault_paths_in_key_vaults_shape(kv, emu):
    session, url, auth = kv
    emu.faults.add_all(["GET:/vaults/*/secrets/*:status=503:retry_after=1"])
    answer = session.get(f"{url}/secrets/fb?api-version=7.4", headers=auth)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json()["error"]["code"] == "ServiceUnavailable"
    assert emu.requests()[-1]["fault"] == "status"
    assert session.get(f"{url}/secrets/fb?api-version=7.4", headers=auth).status_code == 404


def test_reset_empties_the_start_vaults_and_restores_their_roles():
    with Emulator(vaults=[VAULT, "kv-other"]) as emu:
        emu.add_vault("kv-extra")
        emu.set_vault_roles(VAULT, [])
        version = emu.set_secret(VAULT, "s", "v", nbf=10, exp=20)
        assert emu.state()["vaults"][0]["secrets"][0]["versions"][0]["version"] == version
        emu.reset()
        vaults = emu.state()["vaults"]
    assert [v["name"] for v in vaults] == [VAULT, "kv-other"]
    assert all(v["secrets"] == [] and v["roles"] == ["Key Vault Secrets Officer",
                                                     "Key Vault Certificates Officer"] for v in vaults)


def test_reading_vault_versions_empty(kv, emu):
    session, url, auth = kv
    link = f"{url}/secrets/never-set/versions?api-version=7.4"
    assert session.get(link, headers=auth).status_code == 404
    emu.config.update({"readings": ["vault-versions-empty"]})
    answer = session.get(link, headers=auth)
    assert answer.status_code == 200 and answer.json() == {"value": [], "nextLink": None}
    assert session.get(f"{url}/secrets/never-set?api-version=7.4", headers=auth).status_code == 404
