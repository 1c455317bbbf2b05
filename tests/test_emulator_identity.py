"""The emulator's client assertions, federated tokens and managed identity endpoints,
over HTTPS with plain requests: the wire as Entra ID answers it."""

import base64
import json
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from reconciler.cli.main import main
from reconciler.emulator import DEFAULT_FEDERATED_SUBJECT, Emulator
from reconciler.emulator.credentials_kit import make_client_certificate

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def sign(key, header, claims, alg="RS256"):
    header = {"typ": "JWT", "alg": alg, **header}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}".encode()
    pad = padding.PKCS1v15() if alg == "RS256" else padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    return signing_input.decode() + "." + b64(key.sign(signing_input, pad, hashes.SHA256()))


@pytest.fixture
def registered(emu):
    key, cert = make_client_certificate()
    emu.register_client_certificate(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def assertion(emu, key, cert, alg="RS256", header=None, **claims):
    now = int(time.time())
    body = {"aud": f"{emu.url}/{emu.tenant_id}/oauth2/v2.0/token", "iss": emu.client_id, "sub": emu.client_id,
            "exp": now + 600, "nbf": now, "iat": now, "jti": str(uuid.uuid4()), **claims}
    thumbprint = ({"x5t": b64(cert.fingerprint(hashes.SHA1()))} if alg == "RS256"
                  else {"x5t#S256": b64(cert.fingerprint(hashes.SHA256()))})
    return sign(key, {**thumbprint, **(header or {})}, body, alg)


def token_with(emu, client_assertion, assertion_type=JWT_BEARER, tenant=None):
    data = {"grant_type": "client_credentials", "client_id": emu.client_id, "scope": f"{emu.url}/.default",
            "client_assertion_type": assertion_type, "client_assertion": client_assertion}
    return requests.post(f"{emu.url}/{tenant or emu.tenant_id}/oauth2/v2.0/token", data=data, verify=emu.ca_path)


def aad_code(response):
    return response.json()["error_codes"][0]


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_certificate_assertions_signed_rs256_or_ps256_are_accepted(emu, registered, alg):
    answer = token_with(emu, assertion(emu, *registered, alg=alg))
    assert answer.status_code == 200, answer.text
    assert claims_of(answer.json()["access_token"])["appidacr"] == "2"
    by_domain = assertion(emu, *registered, aud=f"{emu.url}/{emu.tenant_domain.upper()}/oauth2/v2.0/token")
    assert token_with(emu, by_domain).status_code == 200


def test_certificate_assertion_failures_have_entra_codes_and_echo_nothing(emu, registered):
    key, cert = registered
    stranger_key, stranger = make_client_certificate()
    now = int(time.time())
    cases = {
        "expired": (assertion(emu, key, cert, exp=now - 900, nbf=now - 1500), 700024),
        "not yet valid": (assertion(emu, key, cert, nbf=now + 900, exp=now + 1500), 700024),
        "lives too long": (assertion(emu, key, cert, exp=now + 3 * 86400), 700024),
        "audience": (assertion(emu, key, cert, aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"), 700023),
        "subject": (assertion(emu, key, cert, sub=str(uuid.uuid4())), 700021),
        "unregistered": (assertion(emu, stranger_key, stranger), 700027),
        "forged": (assertion(emu, stranger_key, cert), 700027),  # a registered thumbprint, another key
        "algorithm": (assertion(emu, key, cert, header={"alg": "HS256"}), 5002738),
        "malformed": ("not.a-jwt", 50027),
    }
    for name, (value, code) in cases.items():
        answer = token_with(emu, value)
        assert answer.status_code in (400, 401) and aad_code(answer) == code, (name, answer.text)
        assert value not in answer.text
    assert aad_code(token_with(emu, assertion(emu, key, cert), assertion_type="jwt")) == 7000216
    expired_cert_key, expired_cert = make_client_certificate(days=-1)
    emu.register_client_certificate(expired_cert.public_bytes(serialization.Encoding.PEM))
    assert aad_code(token_with(emu, assertion(emu, expired_cert_key, expired_cert))) == 700027


def test_reset_forgets_certificates_registered_since_start(emu, registered, tmp_path):
    assert token_with(emu, assertion(emu, *registered)).status_code == 200
    emu.reset()
    assert aad_code(token_with(emu, assertion(emu, *registered))) == 700027
    pem = tmp_path / "start.pem"
    emu.write_client_certificate(str(pem), register=False)
    with Emulator(client_certificates=[str(pem)]) as own:
        own.reset()
        key = serialization.load_pem_private_key(pem.read_bytes(), None)
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        assert token_with(own, assertion(own, key, cert, alg="PS256")).status_code == 200


def test_client_certificate_option_refuses_a_file_without_a_certificate(tmp_path, capsys):
    empty = tmp_path / "nothing.pem"
    empty.write_text("no certificate here\n")
    assert main(["emulator", "--client-certificate", str(empty)], environ={}) == 1
    err = capsys.readouterr().err
    assert err == f"error: --client-certificate {empty}: no PEM certificate ('-----BEGIN CERTIFICATE-----') in it\n"


# -- federated ---------------------------------------------------------------------------------


def federated(emu, **query):
    answer = requests.get(f"{emu.url}/_emulator/federated-token", params=query, verify=emu.ca_path)
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def test_federated_tokens_are_handed_out_and_accepted_for_the_configured_subject(emu):
    handed = federated(emu)
    claims = claims_of(handed)
    assert (claims["iss"], claims["sub"], claims["aud"]) == (f"{emu.url}/federated", DEFAULT_FEDERATED_SUBJECT,
                                                             "api://AzureADTokenExchange")
    assert token_with(emu, handed).status_code == 200
    other = federated(emu, subject="repo:contoso/b2c-keys:environment:prod")
    refused = token_with(emu, other)
    assert refused.status_code == 400 and aad_code(refused) == 70021
    assert "Assertion Subject: 'repo:contoso/b2c-keys:environment:prod'" in refused.json()["error_description"]
    configured = requests.post(f"{emu.url}/_emulator/config", verify=emu.ca_path,
                               json={"federated_subject": "repo:contoso/b2c-keys:environment:prod"})
    assert configured.json()["federated_subject"] == "repo:contoso/b2c-keys:environment:prod"
    assert token_with(emu, other).status_code == 200


def test_federated_assertion_failures(emu):
    good = federated(emu)
    head, body, signature = good.split(".")
    forged_claims = {**claims_of(good), "sub": DEFAULT_FEDERATED_SUBJECT, "exp": int(time.time()) + 3000}
    forged = f"{head}.{b64(json.dumps(forged_claims).encode())}.{signature}"
    key, _ = make_client_certificate()
    foreign_issuer = sign(key, {"kid": "k"}, {**claims_of(good), "iss": "https://token.actions.githubusercontent.com"})
    assert aad_code(token_with(emu, federated(emu, lifetime=-3600))) == 700024
    assert aad_code(token_with(emu, federated(emu, audience="api://other"))) == 700212
    assert aad_code(token_with(emu, forged)) == 700027
    assert aad_code(token_with(emu, foreign_issuer)) == 700211
    bad = requests.get(f"{emu.url}/_emulator/federated-token?lifetime=soon", verify=emu.ca_path)
    assert bad.status_code == 400


# -- managed identity --------------------------------------------------------------------------


def app_service(emu, header=None, **params):
    query = {"api-version": "2019-08-01", "resource": emu.url, **params}
    headers = {"X-IDENTITY-HEADER": emu.identity_header if header is None else header}
    return requests.get(f"{emu.url}/msi/token", params=query, headers=headers, verify=emu.ca_path)


def imds(emu, metadata="true", **params):
    query = {"api-version": "2018-02-01", "resource": emu.url, **params}
    return requests.get(f"{emu.url}/metadata/identity/oauth2/token", params=query,
                        headers={"Metadata": metadata}, verify=emu.ca_path)


def test_managed_identity_endpoints_issue_graph_tokens_for_the_app(emu):
    for answer in (app_service(emu), app_service(emu, client_id=emu.client_id), imds(emu)):
        assert answer.status_code == 200, answer.text
        claims = claims_of(answer.json()["access_token"])
        assert (claims["appid"], claims["tid"], claims["aud"]) == (emu.client_id, emu.tenant_id, emu.url)
        assert int(answer.json()["expires_on"]) > time.time()
    assert "expires_in" in imds(emu).json()
    graph = requests.get(f"{emu.url}/beta/trustFramework/keySets", verify=emu.ca_path,
                         headers={"Authorization": "Bearer " + app_service(emu).json()["access_token"]})
    assert graph.status_code == 200


def test_managed_identity_endpoint_errors(emu):
    assert app_service(emu, header="CANARY-wrong").status_code == 401
    assert "CANARY-wrong" not in app_service(emu, header="CANARY-wrong").text
    unknown = app_service(emu, client_id=str(uuid.uuid4()))
    assert unknown.status_code == 400 and unknown.json()["message"].startswith("No User Assigned")
    assert app_service(emu, **{"api-version": "2017-09-01"}).status_code == 400
    assert app_service(emu, resource="https://graph.microsoft.com").status_code == 400
    assert imds(emu, metadata="false").json()["error_description"] == "Required metadata header not specified"
    assert imds(emu, mi_res_id="x", msi_res_id="/subscriptions/x").json()["error"] == "invalid_request"


def test_emulator_command_registers_certificates_and_sets_the_federated_subject(tmp_path, emulator_process):
    key, cert = make_client_certificate()
    cert_file = tmp_path / "cert.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    env = emulator_process("--client-certificate", str(cert_file),
                           "--federated-subject", "repo:o/r:environment:prod")
    url, ca = env["B2CKEYS_GRAPH_URL"], env["B2CKEYS_CA_BUNDLE"]
    config = requests.get(f"{url}/_emulator/config", verify=ca).json()
    assert config["federated_subject"] == "repo:o/r:environment:prod"
    running = SimpleNamespace(url=url, ca_path=ca, client_id=env["AZURE_CLIENT_ID"],
                              tenant_id=env["AZURE_TENANT_ID"])
    assert token_with(running, assertion(running, key, cert, alg="PS256")).status_code == 200


# -- with faults, throttling and latency ---------------------------------------------


def test_start_options_of_both_kinds_are_kept_and_reset_restores_all_of_them(tmp_path):
    key, cert = make_client_certificate()
    pem = tmp_path / "start.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with Emulator(client_certificates=[str(pem)], federated_subject="repo:o/r:environment:prod",
                  throttle={"app_per_minute": 50}, latency={"fixed_ms": 1},
                  faults=["POST:*/oauth2/v2.0/token:status=503"]) as own:
        start = own.config.current.as_dict()
        assert start["federated_subject"] == "repo:o/r:environment:prod"
        assert start["throttle"]["enabled"] and start["throttle"]["app_per_minute"] == 50
        assert start["latency"]["fixed_ms"] == 1
        assert token_with(own, assertion(own, key, cert)).status_code == 503     # the start fault
        assert token_with(own, assertion(own, key, cert)).status_code == 200     # the start certificate
        later_key, later = make_client_certificate()
        own.register_client_certificate(later.public_bytes(serialization.Encoding.PEM))
        own.config.update({"federated_subject": "repo:o/r:ref:refs/heads/x", "throttle": None})
        own.faults.add("GET:/beta/*:status=500")
        own.reset()
        assert own.config.current.as_dict() == start
        assert [rule["status"] for rule in own.faults.list()] == [503]
        assert token_with(own, assertion(own, key, cert)).status_code == 503     # re-armed
        assert token_with(own, assertion(own, key, cert)).status_code == 200
        assert aad_code(token_with(own, assertion(own, later_key, later))) == 700027
        assert claims_of(own.federated_token())["sub"] == "repo:o/r:environment:prod"


def test_managed_identity_endpoints_meet_fault_rules_and_are_logged(emu):
    emu.faults.add("GET:/msi/token:status=503")
    assert app_service(emu).status_code == 503
    assert app_service(emu).status_code == 200
    assert [r["fault"] for r in emu.requests() if r.get("fault")] == ["status"]


def test_emulator_command_takes_fault_throttle_and_credential_options_together(tmp_path, emulator_process):
    key, cert = make_client_certificate()
    cert_file = tmp_path / "cert.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    env = emulator_process("--client-certificate", str(cert_file),
                           "--federated-subject", "repo:o/r:environment:prod",
                           "--throttle-app-rpm", "20", "--time-scale", "60", "--latency-ms", "2",
                           "--fault", "POST:*/oauth2/v2.0/token:status=503")
    url, ca = env["B2CKEYS_GRAPH_URL"], env["B2CKEYS_CA_BUNDLE"]
    config = requests.get(f"{url}/_emulator/config", verify=ca).json()
    assert config["federated_subject"] == "repo:o/r:environment:prod"
    assert config["throttle"]["enabled"] and config["throttle"]["app_per_minute"] == 20
    assert config["throttle"]["time_scale"] == 60 and config["latency"]["fixed_ms"] == 2
    running = SimpleNamespace(url=url, ca_path=ca, client_id=env["AZURE_CLIENT_ID"],
                              tenant_id=env["AZURE_TENANT_ID"])
    assert token_with(running, assertion(running, key, cert)).status_code == 503
    assert token_with(running, assertion(running, key, cert)).status_code == 200
