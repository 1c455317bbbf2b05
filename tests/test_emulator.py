"""The emulator over real HTTPS on loopback: token service, Graph keySets, control surface.

`verify=` is passed on every call: a Session's `verify` is overridden by REQUESTS_CA_BUNDLE
when that variable is set (a requests quirk), per-call `verify` is not.
"""

import base64
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import msal
import pytest
import requests
from cryptography import x509

from reconciler.emulator import Emulator, Response
from reconciler.emulator.store import Key, pick_active

ROOT = Path(__file__).resolve().parent.parent
READ = "TrustFrameworkKeySet.Read.All"
WRITE = "TrustFrameworkKeySet.ReadWrite.All"
SECRET_FIELDS = {"k", "d", "p", "q", "dp", "dq", "qi"}


# -- helpers ---------------------------------------------------------------------------------
def token(emu, **form):
    data = {"grant_type": "client_credentials", "client_id": emu.client_id,
            "client_secret": emu.client_secret, "scope": f"{emu.url}/.default", **form}
    tenant = data.pop("tenant", emu.tenant_id)
    return requests.post(f"{emu.url}/{tenant}/oauth2/v2.0/token", data=data, verify=emu.ca_path)


def call(emu, method, path, *, bearer=None, **kwargs):
    """A Graph call with a fresh token (unless `bearer` is given; "" sends none)."""
    if bearer is None:
        bearer = token(emu).json()["access_token"]
    headers = kwargs.pop("headers", {})
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    url = path if path.startswith("https://") else f"{emu.url}/beta/trustFramework/keySets{path}"
    return requests.request(method, url, headers=headers, verify=emu.ca_path, **kwargs)


def configure(emu, **settings):
    response = requests.post(f"{emu.url}/_emulator/config", json=settings, verify=emu.ca_path)
    assert response.status_code == 200, response.text
    return response.json()


def create(emu, name):
    response = call(emu, "POST", "", json={"id": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def error_of(response):
    body = response.json()["error"]
    assert set(body["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert body["innerError"]["request-id"] == response.headers["request-id"]
    return body["code"], body["message"]


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- TLS ---------------------------------------------------------------------------------------
def test_tls_is_trusted_through_the_generated_ca_only(emu):
    assert requests.get(f"{emu.url}/_emulator/state", verify=emu.ca_path).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{emu.url}/_emulator/state", verify=True)
    chain = Path(emu.ca_path).with_name("server.pem").read_bytes()
    leaf = x509.load_pem_x509_certificates(chain)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(n) for n in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "::1", "localhost"} <= names
    localhost = emu.url.replace("127.0.0.1", "localhost")
    assert requests.get(f"{localhost}/_emulator/state", verify=emu.ca_path).status_code == 200


# -- token service -----------------------------------------------------------------------------
@pytest.mark.parametrize("tenant", ["id", "domain"])
def test_discovery_and_jwks(emu, tenant):
    segment = emu.tenant_id if tenant == "id" else emu.tenant_domain
    config = requests.get(f"{emu.url}/{segment}/v2.0/.well-known/openid-configuration",
                          verify=emu.ca_path).json()
    assert config["token_endpoint"] == f"{emu.url}/{emu.tenant_id}/oauth2/v2.0/token"
    assert config["issuer"] == f"{emu.url}/{emu.tenant_id}/v2.0"
    assert config["authorization_endpoint"].startswith("https://")
    keys = requests.get(config["jwks_uri"], verify=emu.ca_path).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"] and "d" not in keys[0]


def test_discovery_of_an_unknown_tenant_is_aadsts90002(emu):
    response = requests.get(f"{emu.url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
                            verify=emu.ca_path)
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_token_success_carries_tenant_app_and_roles(emu):
    response = token(emu)
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    claims = claims_of(body["access_token"])
    assert claims["aud"] == emu.url and claims["tid"] == emu.tenant_id
    assert claims["iss"] == f"https://sts.windows.net/{emu.tenant_id}/"
    assert claims["appid"] == claims["azp"] == emu.client_id
    assert claims["roles"] == [WRITE] and claims["oid"] == claims["sub"]
    assert claims["iat"] <= claims["nbf"] + 1 and claims["exp"] - claims["iat"] == 3600


CANARY = "CANARY-7f3a9e-secret"


@pytest.mark.parametrize("form, status, error, code", [
    ({"client_secret": CANARY}, 401, "invalid_client", 7000215),
    ({"client_id": "00000000-0000-0000-0000-000000000001", "client_secret": CANARY},
     400, "unauthorized_client", 700016),
    ({"tenant": "fabrikam.onmicrosoft.com", "client_secret": CANARY}, 400, "invalid_tenant", 90002),
    ({"scope": "https://127.0.0.1/User.Read"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource", 500011),
    ({"grant_type": "password", "client_secret": CANARY}, 400, "unsupported_grant_type", 70003),
    ({"client_secret": ""}, 401, "invalid_client", 7000218),
])
def test_token_errors_have_the_aad_shape_and_no_secret(emu, form, status, error, code):
    response = token(emu, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    assert CANARY not in response.text and emu.client_secret not in response.text


def test_real_msal_gets_a_token(emu, monkeypatch):
    # requests lets these variables override the Session.verify msal sets.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    app = msal.ConfidentialClientApplication(
        emu.client_id, client_credential=emu.client_secret,
        authority=f"{emu.url}/{emu.tenant_id}", instance_discovery=False, verify=emu.ca_path)
    result = app.acquire_token_for_client(scopes=[f"{emu.url}/.default"])
    assert "access_token" in result, result
    assert call(emu, "GET", "", bearer=result["access_token"]).status_code == 200
    wrong = msal.ConfidentialClientApplication(
        emu.client_id, client_credential="wrong", authority=f"{emu.url}/{emu.tenant_id}",
        instance_discovery=False, verify=emu.ca_path)
    failed = wrong.acquire_token_for_client(scopes=[f"{emu.url}/.default"])
    assert failed["error"] == "invalid_client" and 7000215 in failed["error_codes"]


# -- Graph: token and role checks --------------------------------------------------------------
def tampered(jwt):
    head, body, sig = jwt.split(".")
    return ".".join((head, body, ("A" if sig[0] != "A" else "B") + sig[1:]))


def test_graph_refuses_a_missing_or_bad_token(emu):
    missing = call(emu, "GET", "", bearer="")
    assert missing.status_code == 401
    assert error_of(missing) == ("InvalidAuthenticationToken", "Access token is empty.")
    good = token(emu).json()["access_token"]
    now = int(time.time())
    for bad in (tampered(good), "not-a-jwt", emu.make_token(exp=now - 10),
                emu.make_token(aud="https://graph.microsoft.com"),
                emu.make_token(tid="00000000-0000-0000-0000-000000000000")):
        response = call(emu, "GET", "", bearer=bad)
        assert response.status_code == 401
        code, message = error_of(response)
        assert code == "InvalidAuthenticationToken"
        assert message.startswith("Access token validation failure.")
    assert call(emu, "GET", "", bearer=good).status_code == 200


def test_read_only_role_may_read_but_not_write(emu):
    configure(emu, roles=[READ])
    reader = token(emu).json()["access_token"]
    assert claims_of(reader)["roles"] == [READ]
    assert call(emu, "GET", "", bearer=reader).status_code == 200
    denied = call(emu, "POST", "", bearer=reader, json={"id": "Denied"})
    assert denied.status_code == 403
    assert error_of(denied) == ("Authorization_RequestDenied",
                                "Insufficient privileges to complete the operation.")
    configure(emu, roles=[])
    assert call(emu, "GET", "").status_code == 403
    emu.reset()  # restores the start roles
    assert claims_of(token(emu).json()["access_token"])["roles"] == [WRITE]


# -- Graph: key sets ---------------------------------------------------------------------------
def test_create_adds_the_prefix_and_a_relative_location(emu):
    response = call(emu, "POST", "", json={"id": "Foo"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/trustFramework/keySets('B2C_1A_Foo')"
    body = response.json()
    assert (body["id"], body["keys"]) == ("B2C_1A_Foo", [])
    assert create(emu, "B2C_1A_Bar") == "B2C_1A_Bar"       # a prefix already there is kept
    assert call(emu, "GET", "('B2C_1A_Foo')").json()["id"] == "B2C_1A_Foo"


@pytest.mark.parametrize("status", [400, 409])
def test_create_conflict_in_both_styles(emu, status):
    if status == 409:
        configure(emu, conflict_status=409)
    create(emu, "Foo")
    response = call(emu, "POST", "", json={"id": "foo"})   # ids compare case-insensitively
    assert response.status_code == status
    assert error_of(response) == ("AADB2C95028", "Can't create trustframework key set with name "
                                                 "'B2C_1A_foo' because it already exists.")


@pytest.mark.parametrize("kwargs, status, code", [
    ({"json": {"id": "Foo", "@odata.type": "#microsoft.graph.trustFrameworkKeySet"}}, 400, "AADB2C"),
    ({"json": {}}, 400, "AADB2C90253"),
    ({"data": '{"id": "Foo"}'}, 400, "BadRequest"),                  # no Content-Type
    ({"data": "{", "headers": {"Content-Type": "application/json"}}, 400, "BadRequest"),
])
def test_create_refuses_bad_bodies(emu, kwargs, status, code):
    response = call(emu, "POST", "", **kwargs)
    assert response.status_code == status
    assert error_of(response)[0] == code
    assert emu.state()["keySets"] == []


def test_list_pages_with_an_absolute_next_link(emu):
    for name in ("A", "B", "C"):
        create(emu, name)
    seen, url, pages = [], "", 0
    while url is not None:
        body = call(emu, "GET", url).json()
        assert len(body["value"]) <= 2 and "@odata.context" in body
        seen += [keyset["id"] for keyset in body["value"]]
        url = body.get("@odata.nextLink")
        assert url is None or (url.startswith(emu.url + "/beta/") and "$skiptoken=" in url)
        pages += 1
    assert (seen, pages) == (["B2C_1A_A", "B2C_1A_B", "B2C_1A_C"], 2)
    lists = [r for r in emu.requests() if r["method"] == "GET" and "/beta/" in r["path"]]
    assert [r["path"] for r in lists] == ["/beta/trustFramework/keySets"] * 2   # no query string
    configure(emu, page_size=5)
    assert "@odata.nextLink" not in call(emu, "GET", "").json()


def test_get_and_delete(emu):
    create(emu, "Foo")
    assert call(emu, "GET", "/b2c_1a_foo").json()["id"] == "B2C_1A_Foo"
    assert call(emu, "DELETE", "/B2C_1A_Foo").status_code == 204
    assert [ks["id"] for ks in emu.state()["keySets"]] == ["B2C_1A_Foo.bak"]   # the default
    configure(emu, backup_on_delete=False)
    create(emu, "Bar")
    call(emu, "DELETE", "/B2C_1A_Bar")
    assert [ks["id"] for ks in emu.state()["keySets"]] == ["B2C_1A_Foo.bak"]


@pytest.mark.parametrize("status", [400, 404])
def test_missing_key_set_in_both_styles(emu, status):
    if status == 404:
        configure(emu, not_found_status=404)
    for method, path, body in (("GET", "/B2C_1A_Nope", None), ("DELETE", "/B2C_1A_Nope", None),
                               ("POST", "/B2C_1A_Nope/generateKey", {"use": "sig", "kty": "RSA"}),
                               ("GET", "/B2C_1A_Nope/getActiveKey", None)):
        response = call(emu, method, path, json=body)
        assert response.status_code == status
        assert error_of(response) == ("AADB2C90073", "KeyContainer with 'id': 'B2C_1A_Nope' "
                                      "cannot be found in the directory 'contoso.onmicrosoft.com'.")


def test_unknown_paths_and_methods(emu):
    assert call(emu, "GET", f"{emu.url}/nothing/here").status_code == 404
    typo = call(emu, "GET", f"{emu.url}/beta/trustFramework/keySet")
    assert typo.status_code == 400 and error_of(typo)[0] == "BadRequest"
    assert call(emu, "GET", f"{emu.url}/v1.0/trustFramework/keySets").status_code == 400
    create(emu, "Foo")
    for method, path in (("DELETE", ""), ("PATCH", "/B2C_1A_Foo"), ("GET", "/B2C_1A_Foo/generateKey")):
        assert call(emu, method, path, json={}).status_code == 405


# -- Graph: keys -------------------------------------------------------------------------------
def test_generate_rsa_returns_public_parts_only(emu):
    create(emu, "Sig")
    response = call(emu, "POST", "/B2C_1A_Sig/generateKey",
                    json={"use": "sig", "kty": "rsa", "nbf": 1_700_000_000, "exp": 4_000_000_000})
    assert response.status_code == 200
    key = response.json()
    assert (key["kty"], key["use"], key["nbf"], key["exp"], key["e"]) == (
        "RSA", "sig", 1_700_000_000, 4_000_000_000, "AQAB")
    modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
    assert len(modulus) * 8 == 2048
    assert len(key["kid"]) == 43 and not SECRET_FIELDS & set(key)
    (listed,) = call(emu, "GET", "/B2C_1A_Sig").json()["keys"]
    assert listed["kid"] == key["kid"] and "status" not in listed and not SECRET_FIELDS & set(listed)
    bare = call(emu, "POST", "/B2C_1A_Sig/generateKey", json={"use": "sig", "kty": "RSA"}).json()
    assert "nbf" not in bare and "exp" not in bare


def test_generate_oct_returns_no_k(emu):
    create(emu, "Sym")
    key = call(emu, "POST", "/B2C_1A_Sym/generateKey", json={"use": "enc", "kty": "oct"}).json()
    assert key["kty"] == "oct" and not SECRET_FIELDS & set(key)


def test_upload_secret_answers_the_documented_fields_with_integer_dates(emu):
    create(emu, "Fb")
    response = call(emu, "POST", "/B2C_1A_Fb/uploadSecret",
                    json={"use": "sig", "k": CANARY, "nbf": 1_700_000_000, "exp": 4_000_000_000})
    assert response.status_code == 200
    assert response.json() == {"kid": response.json()["kid"], "use": "sig", "kty": "OCT",
                               "nbf": 1_700_000_000, "exp": 4_000_000_000}
    (listed,) = call(emu, "GET", "/B2C_1A_Fb").json()["keys"]
    assert (listed["kty"], listed["nbf"], listed["exp"]) == ("oct", 1_700_000_000, 4_000_000_000)
    assert CANARY not in response.text


@pytest.mark.parametrize("first, second, code", [
    (("generateKey", {"use": "sig", "kty": "RSA"}), ("uploadSecret", {"use": "sig", "k": "x"}),
     "AADB2C95032"),
    (("uploadSecret", {"use": "sig", "k": "x"}), ("generateKey", {"use": "sig", "kty": "RSA"}),
     "AADB2C95032"),
    (("uploadSecret", {"use": "sig", "k": "x"}), ("uploadSecret", {"use": "enc", "k": "y"}),
     "AADB2C95042"),
])
def test_mixing_types_or_uses_is_refused(emu, first, second, code):
    create(emu, "Mix")
    assert call(emu, "POST", f"/B2C_1A_Mix/{first[0]}", json=first[1]).status_code == 200
    response = call(emu, "POST", f"/B2C_1A_Mix/{second[0]}", json=second[1])
    assert response.status_code == 400 and error_of(response)[0] == code
    assert len(emu.state()["keySets"][0]["keys"]) == 1


@pytest.mark.parametrize("action, body, code", [
    ("generateKey", {"use": "signing", "kty": "RSA"}, "AADB2C95033"),
    ("generateKey", {"use": "sig", "kty": "EC"}, "AADB2C95031"),
    ("generateKey", {"use": "sig"}, "AADB2C95030"),
    ("generateKey", {"kty": "RSA"}, "AADB2C90253"),
    ("uploadSecret", {"use": "sig"}, "AADB2C90253"),
    ("uploadSecret", {"use": "sig", "k": "x", "nbf": "1700000000"}, "BadRequest"),
    ("uploadSecret", {"use": "sig", "k": "x", "nbf": 200, "exp": 100}, "AADB2C95026"),
])
def test_key_bodies_are_validated(emu, action, body, code):
    create(emu, "V")
    response = call(emu, "POST", f"/B2C_1A_V/{action}", json=body)
    assert response.status_code == 400 and error_of(response)[0] == code


def test_active_key_is_the_latest_valid_nbf(emu):
    create(emu, "Rot")
    now = int(time.time())
    kids = {}
    for name, nbf, exp in (("open", None, None), ("older", now - 1000, now + 1000),
                           ("newer", now - 500, now + 1000), ("future", now + 500, now + 1000),
                           ("expired", now - 100, now - 10)):
        body = {"use": "sig", "k": name, **({"nbf": nbf} if nbf else {}), **({"exp": exp} if exp else {})}
        kids[name] = call(emu, "POST", "/B2C_1A_Rot/uploadSecret", json=body).json()["kid"]
    assert call(emu, "GET", "/B2C_1A_Rot/getActiveKey").json()["kid"] == kids["newer"]
    disabled = call(emu, "PATCH", f"/B2C_1A_Rot/keys_v2/{kids['newer']}", json={"status": "disabled"})
    assert disabled.status_code == 204
    assert call(emu, "GET", f"/B2C_1A_Rot/keys_v2/{kids['newer']}").json()["status"] == "disabled"
    assert call(emu, "GET", "/B2C_1A_Rot/getActiveKey").json()["kid"] == kids["older"]


def test_no_valid_key_is_aadb2c90019(emu):
    create(emu, "Dead")
    response = call(emu, "GET", "/B2C_1A_Dead/getActiveKey")
    assert response.status_code == 400 and error_of(response)[0] == "AADB2C90019"
    now = int(time.time())
    for nbf, exp in ((now - 100, now - 10), (now + 100, now + 200)):
        call(emu, "POST", "/B2C_1A_Dead/uploadSecret", json={"use": "sig", "k": "x", "nbf": nbf, "exp": exp})
    response = call(emu, "GET", "/B2C_1A_Dead/getActiveKey")
    assert response.status_code == 400 and error_of(response)[0] == "AADB2C90019"


def test_pick_active_ranks_keys_without_nbf_last():
    def key(seq, nbf=None, exp=None, status="enabled"):
        return Key(f"k{seq}", "oct", "sig", nbf, exp, seq, "", status)
    assert pick_active([key(1), key(2, nbf=10)], now=100).kid == "k2"
    assert pick_active([key(1), key(2)], now=100).kid == "k2"           # tie: added last wins
    assert pick_active([key(1), key(2, nbf=10, status="disabled")], now=100).kid == "k1"
    assert pick_active([key(1, exp=100), key(2, nbf=101)], now=100) is None


def test_concurrent_write_to_one_key_set_is_409(emu):
    create(emu, "Busy")
    create(emu, "Other")
    with emu.store.writing("B2C_1A_Busy"):
        response = call(emu, "POST", "/B2C_1A_Busy/uploadSecret", json={"use": "sig", "k": "x"})
        assert response.status_code == 409 and error_of(response)[0] == "AADB2C95053"
        assert call(emu, "GET", "/B2C_1A_Busy").status_code == 200     # reads are not blocked
        assert call(emu, "POST", "/B2C_1A_Other/uploadSecret", json={"use": "sig", "k": "x"}).ok
    assert call(emu, "POST", "/B2C_1A_Busy/uploadSecret", json={"use": "sig", "k": "x"}).ok


# -- secrets, logs, control surface ------------------------------------------------------------
def test_canary_secret_appears_only_as_a_hash():
    log = io.StringIO()
    with Emulator(log_stream=log) as own:
        answers = [call(own, "POST", "", json={"id": "Fb"}),
                   call(own, "POST", "/B2C_1A_Fb/uploadSecret", json={"use": "sig", "k": CANARY}),
                   call(own, "GET", ""), call(own, "GET", "/B2C_1A_Fb"),
                   call(own, "GET", "/B2C_1A_Fb/getActiveKey"), call(own, "GET", "/B2C_1A_Fb/keys_v2"),
                   token(own, client_secret=CANARY)]
        state = requests.get(f"{own.url}/_emulator/state", verify=own.ca_path).text
        logged = json.dumps(own.requests())
        secret = own.client_secret
    (key,) = json.loads(state)["keySets"][0]["keys"]
    assert key["secretSha256"] == hashlib.sha256(CANARY.encode()).hexdigest()
    assert key["status"] == "enabled" and key["kty"] == "oct"
    everything = "".join(a.text for a in answers) + state + logged + log.getvalue()
    assert CANARY not in everything and secret not in everything
    assert "Bearer" not in log.getvalue() and "/B2C_1A_Fb/uploadSecret 200 request-id=" in log.getvalue()


def test_request_log_lists_graph_and_token_calls_in_order(emu):
    assert emu.requests() == []
    response = call(emu, "GET", "", headers={"client-request-id": "my-correlation-id"})
    assert response.headers["client-request-id"] == "my-correlation-id"
    log = requests.get(f"{emu.url}/_emulator/requests", verify=emu.ca_path).json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", f"/{emu.tenant_id}/oauth2/v2.0/token", 200),
        ("GET", "/beta/trustFramework/keySets", 200)]
    assert log[1]["requestId"] == response.headers["request-id"]
    requests.post(f"{emu.url}/_emulator/reset", verify=emu.ca_path).raise_for_status()
    assert emu.requests() == []


def test_control_config_validates(emu):
    assert configure(emu, page_size=3)["page_size"] == 3
    bad = requests.post(f"{emu.url}/_emulator/config", json={"conflict_status": 418}, verify=emu.ca_path)
    assert bad.status_code == 400
    unknown = requests.post(f"{emu.url}/_emulator/config", json={"nope": 1}, verify=emu.ca_path)
    assert unknown.status_code == 400
    assert requests.get(f"{emu.url}/_emulator/config", verify=emu.ca_path).json()["page_size"] == 3


def test_pipeline_hooks_can_answer_early_and_after_a_commit(emu):
    create(emu, "Hooked")

    def unavailable(ctx):
        if ctx.request.method == "GET" and ctx.request.path.endswith("/B2C_1A_Hooked"):
            return Response.json(503, {"error": {"code": "ServiceUnavailable", "message": "x"}},
                                 headers={"Retry-After": "1"})

    def lose_answer(ctx, response):
        return Response.dropped()

    emu.pipeline.before_request.append(unavailable)
    emu.pipeline.after_commit.append(lose_answer)
    try:
        answer = call(emu, "GET", "/B2C_1A_Hooked")
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
        with pytest.raises(requests.exceptions.ConnectionError):
            call(emu, "POST", "/B2C_1A_Hooked/uploadSecret", json={"use": "sig", "k": "x"})
    finally:
        emu.pipeline.clear()
    assert len(emu.state()["keySets"][0]["keys"]) == 1        # the write happened
    assert emu.requests()[-1]["status"] == 0                   # its answer was lost


def test_write_env_file_is_atomic_and_private(emu, tmp_path):
    target = tmp_path / "emu.env"
    emu.write_env_file(str(target))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in target.read_text().splitlines())
    assert lines == emu.env
    assert set(lines) == {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                          "AZURE_AUTHORITY_HOST", "B2CKEYS_GRAPH_URL", "B2CKEYS_CA_BUNDLE",
                          "B2CKEYS_KEYVAULT_URL"}
    assert lines["AZURE_AUTHORITY_HOST"] == lines["B2CKEYS_GRAPH_URL"] == emu.url
    assert list(tmp_path.iterdir()) == [target]


def test_serve_forever_writes_env_file_prints_it_and_stops_on_sigterm(tmp_path):
    env_file = tmp_path / "emulator.env"
    code = ("import sys; from reconciler.emulator import serve_forever; "
            "sys.exit(serve_forever('127.0.0.1', 0, env_file=sys.argv[1]))")
    server = subprocess.Popen([sys.executable, "-c", code, str(env_file)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = dict(server.stdout.readline().rstrip("\n").split("=", 1) for _ in range(7))
        assert dict(line.split("=", 1) for line in env_file.read_text().splitlines()) == printed
        assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
        ca = printed["B2CKEYS_CA_BUNDLE"]
        assert requests.get(printed["B2CKEYS_GRAPH_URL"] + "/_emulator/state", verify=ca).ok
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        assert "GET /_emulator/state 200" in server.stderr.read()
        assert not os.path.exists(ca)              # its temporary workdir is gone
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
