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


@pytest.mark.parametrize("body", [{"value": 3}, {"value": "x", "attributes": {"nbf": "soon"}},
                                  {"value": "x", "attributes": {"nbf": 20, "exp": 10}}, []])
def test_a_bad_set_secret_is_400_without_echoing_the_value(kv, body):
    session, url, auth = kv
    answer = session.put(f"{url}/secrets/s?api-version=7.4", headers=auth, json=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadParameter"


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
