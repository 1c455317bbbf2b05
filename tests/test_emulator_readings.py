"""The emulator follows the evidence by default, and each reading of an open question changes
the wire as it says: raw HTTPS calls with a token, as any client makes them.

`verify=` is passed on every call (REQUESTS_CA_BUNDLE would override a Session's).
"""

import base64
import hashlib
import json
import time
from urllib.parse import urljoin

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers.cli import run
from reconciler.emulator import Emulator
from reconciler.emulator.config import Config

KEYSETS = "/beta/trustFramework/keySets"
SECRET_FIELDS = {"k", "d", "p", "q", "dp", "dq", "qi"}
NOW = int(time.time())
TWO_YEARS = 730 * 86400


# -- helpers ---------------------------------------------------------------------------------
def call(emu, method, path="", **kwargs):
    url = path if path.startswith("https://") else emu.url + KEYSETS + path
    headers = {"Authorization": f"Bearer {emu.make_token()}", **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, verify=emu.ca_path, **kwargs)


def readings(emu, *names):
    answer = requests.post(f"{emu.url}/_emulator/config", json={"readings": list(names)},
                           verify=emu.ca_path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def create(emu, name):
    answer = call(emu, "POST", json={"id": name})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def secret(emu, keyset_id, **body):
    answer = call(emu, "POST", f"/{keyset_id}/uploadSecret", json={"use": "sig", "k": "s3cret", **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def code_of(answer):
    return answer.status_code, answer.json()["error"]["code"]


def true_ids(emu):
    return [ks["id"] for ks in emu.state()["keySets"]]


def listed(emu):
    return [ks["id"] for ks in call(emu, "GET").json()["value"]]


def b64(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rsa_jwk(**extra):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    public = private.public_numbers
    return {"kty": "RSA", "use": "sig", "n": b64(public.n), "e": b64(public.e), "d": b64(private.d),
            "p": b64(private.p), "q": b64(private.q), "dp": b64(private.dmp1), "dq": b64(private.dmq1),
            "qi": b64(private.iqmp), **extra}


# -- the evidence, by default ----------------------------------------------------------------
def test_upload_secret_answers_nbf_and_exp_as_json_integers(emu):
    create(emu, "Fb")
    key = secret(emu, "B2C_1A_Fb", nbf=1_700_000_000, exp=4_000_000_000)
    assert type(key["nbf"]) is int and type(key["exp"]) is int
    assert (key["nbf"], key["exp"]) == (1_700_000_000, 4_000_000_000)


@pytest.mark.parametrize("name, kept", [("B2C_1A_Bar", "B2C_1A_Bar"), ("b2c_1a_low", "b2c_1a_low"),
                                        ("Plain", "B2C_1A_Plain")])
def test_an_id_with_the_prefix_is_kept_as_it_is(emu, name, kept):
    answer = call(emu, "POST", json={"id": name})
    assert answer.status_code == 201 and answer.json()["id"] == kept
    assert answer.headers["Location"] == f"/trustFramework/keySets('{kept}')"
    assert true_ids(emu) == [kept]


def test_the_prefix_alone_is_not_an_id(emu):
    assert code_of(call(emu, "POST", json={"id": "B2C_1A_"})) == (400, "AADB2C")


def test_delete_leaves_a_bak_and_deleting_the_bak_leaves_none(emu):
    create(emu, "Foo")
    secret(emu, "B2C_1A_Foo")
    assert call(emu, "DELETE", "/B2C_1A_Foo").status_code == 204
    (bak,) = emu.state()["keySets"]
    assert bak["id"] == "B2C_1A_Foo.bak" and len(bak["keys"]) == 1
    assert call(emu, "GET", "/B2C_1A_Foo.bak").json()["keys"][0]["kty"] == "oct"
    assert call(emu, "DELETE", "/B2C_1A_Foo.bak").status_code == 204
    assert true_ids(emu) == []


@pytest.mark.parametrize("suffix", ["/getActiveKey()", "/getActiveKey", "/getactivekey()"])
def test_get_active_key_as_a_function_call_too(emu, suffix):
    create(emu, "Act")
    kid = secret(emu, "B2C_1A_Act")["kid"]
    answer = call(emu, "GET", "/B2C_1A_Act" + suffix)
    assert answer.status_code == 200 and answer.json()["kid"] == kid
    assert call(emu, "POST", "/B2C_1A_Act" + suffix, json={}).status_code == 405
    assert code_of(call(emu, "POST", "/B2C_1A_Act/generateKey()", json={})) == (400, "BadRequest")


def test_every_path_form_the_sdk_sends(emu):
    """msgraph-beta-sdk's URL templates: keySets/{id}, keys_v2/{kid}, $count, and OData key
    predicates, percent-encoded or not, with query options."""
    create(emu, "Sdk")
    kid = secret(emu, "B2C_1A_Sdk")["kid"]
    for path in (f"/B2C_1A_Sdk/keys_v2/{kid}", f"('B2C_1A_Sdk')/keys_v2('{kid}')",
                 f"/B2C%5F1A%5FSdk/keys_v2/{kid}?%24select=kid,status"):
        answer = call(emu, "GET", path)
        assert answer.status_code == 200, path
        assert (answer.json()["kid"], answer.json()["status"]) == (kid, "enabled")
    assert call(emu, "GET", "/B2C_1A_Sdk?%24select=id").json()["id"] == "B2C_1A_Sdk"
    assert call(emu, "GET", "?%24top=5&%24count=true").json()["value"][0]["id"] == "B2C_1A_Sdk"
    for path, count in (("/$count", "1"), ("/%24count", "1"), ("/B2C_1A_Sdk/keys_v2/$count", "1")):
        answer = call(emu, "GET", path, headers={"Accept": "text/plain;q=0.9"})
        assert (answer.status_code, answer.text) == (200, count)
        assert answer.headers["Content-Type"].startswith("text/plain")
    assert code_of(call(emu, "GET", "/B2C_1A_Sdk/keys_v2/nope")) == (400, "AADB2C90073")


def test_put_replaces_every_key_and_keeps_only_hashes(emu):
    create(emu, "Put")
    old = secret(emu, "B2C_1A_Put")["kid"]
    answer = call(emu, "PUT", "/B2C_1A_Put", json={"id": "b2c_1a_put", "keys": [
        {"kty": "oct", "use": "sig", "k": "c2VjcmV0LW9uZQ", "nbf": NOW, "exp": NOW + 100},
        {"kty": "OCT", "use": "sig", "k": "c2VjcmV0LXR3bw", "kid": ""}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "B2C_1A_Put" and len(body["keys"]) == 2 and old not in answer.text
    assert not SECRET_FIELDS & set(body["keys"][0]) and "c2VjcmV0" not in answer.text
    assert (body["keys"][0]["nbf"], body["keys"][0]["exp"]) == (NOW, NOW + 100)
    stored = emu.state()["keySets"][0]["keys"]
    assert [k["kid"] for k in stored] == [k["kid"] for k in body["keys"]]
    assert stored[0]["secretSha256"] == hashlib.sha256(b"c2VjcmV0LW9uZQ").hexdigest()
    assert call(emu, "GET", "/B2C_1A_Put").json()["keys"] == body["keys"]


def test_put_of_an_rsa_key_with_its_private_parts(emu):
    create(emu, "Rsa")
    jwk = rsa_jwk(nbf=NOW)
    answer = call(emu, "PUT", "/B2C_1A_Rsa", json={"keys": [jwk]})
    assert answer.status_code == 200, answer.text
    (key,) = answer.json()["keys"]
    assert (key["kty"], key["n"], key["e"]) == ("RSA", jwk["n"], jwk["e"])
    assert not SECRET_FIELDS & set(key) and jwk["d"] not in json.dumps(emu.state())


@pytest.mark.parametrize("body, code", [
    ({"keys": [{"kty": "oct", "use": "sig", "k": "YQ", "kid": "chosen"}]}, "AADB2C95059"),
    ({"keys": [{"kty": "oct", "use": "sig", "k": "YQ"}, {"kty": "RSA", "use": "sig"}]}, "AADB2C95032"),
    ({"keys": [{"kty": "oct", "use": "sig", "k": "YQ"}, {"kty": "oct", "use": "enc", "k": "Yg"}]},
     "AADB2C95042"),
    ({"keys": [{"kty": "oct", "use": "sig", "k": "YQ", "nbf": 20, "exp": 10}]}, "AADB2C95026"),
    ({"keys": [{"kty": "oct", "use": "sig", "k": "not base64!"}]}, "AADB2C95029"),
    ({"keys": [{"kty": "oct", "use": "sig"}]}, "AADB2C90253"),
    ({"keys": [{"kty": "EC", "use": "sig"}]}, "AADB2C95031"),
    ({"keys": [{"kty": "oct", "use": "signing", "k": "YQ"}]}, "AADB2C95033"),
    ({"keys": [{"kty": "RSA", "use": "sig", "e": "AQAB"}]}, "AADB2C95039"),
    ({"keys": [{key: value for key, value in rsa_jwk().items() if key != "qi"}]}, "AADB2C90253"),
    ({"keys": [rsa_jwk(d="AQAB")]}, "AADB2C95026"),
    ({"keys": [{"kty": "oct", "use": "sig", "k": "YQ", "exp": "99"}]}, "BadRequest"),
    ({"id": "B2C_1A_Other", "keys": []}, "AADB2C"),
    ({}, "AADB2C90253"),
])
def test_put_refuses_what_b2c_refuses_and_changes_nothing(emu, body, code):
    create(emu, "Put")
    kid = secret(emu, "B2C_1A_Put")["kid"]
    assert code_of(call(emu, "PUT", "/B2C_1A_Put", json=body)) == (400, code)
    assert [k["kid"] for k in emu.state()["keySets"][0]["keys"]] == [kid]


def test_put_on_a_missing_set_is_not_found_and_patch_stays_405(emu):
    assert code_of(call(emu, "PUT", "/B2C_1A_Nope", json={"keys": []})) == (400, "AADB2C90073")
    create(emu, "Here")
    refused = call(emu, "PATCH", "/B2C_1A_Here", json={"keys": []})
    assert refused.status_code == 405 and refused.headers["Allow"] == "DELETE, GET, PUT"


# -- each reading changes the wire -----------------------------------------------------------
@pytest.mark.parametrize("active, status", [((), 400), (("getactivekey-404",), 404)])
def test_getactivekey_404(emu, active, status):
    readings(emu, *active)
    create(emu, "Dead")
    assert code_of(call(emu, "GET", "/B2C_1A_Dead/getActiveKey()")) == (status, "AADB2C90019")
    assert code_of(call(emu, "GET", "/B2C_1A_Nope/getActiveKey()")) == (400, "AADB2C90073")


def test_getactivekey_no_kid(emu):
    readings(emu, "getactivekey-no-kid")
    create(emu, "Act")
    secret(emu, "B2C_1A_Act", nbf=NOW - 10, exp=NOW + 100)
    key = call(emu, "GET", "/B2C_1A_Act/getActiveKey()").json()
    assert "kid" not in key and (key["use"], key["kty"], key["nbf"], key["exp"]) == (
        "sig", "oct", NOW - 10, NOW + 100)
    assert "kid" in call(emu, "GET", "/B2C_1A_Act").json()["keys"][0]


def test_list_without_keys(emu):
    readings(emu, "list-without-keys")
    create(emu, "A")
    secret(emu, "B2C_1A_A")
    assert call(emu, "GET").json()["value"] == [{"id": "B2C_1A_A"}]
    assert len(call(emu, "GET", "/B2C_1A_A").json()["keys"]) == 1


@pytest.mark.parametrize("action, body", [("uploadSecret", {"use": "sig", "k": "x"}),
                                          ("generateKey", {"use": "sig", "kty": "oct"})])
def test_default_dates(emu, action, body):
    create(emu, "Dated")
    bare = call(emu, "POST", f"/B2C_1A_Dated/{action}", json=body).json()
    assert "nbf" not in bare and "exp" not in bare                      # the default: none
    readings(emu, "default-dates")
    before = int(time.time())
    filled = call(emu, "POST", f"/B2C_1A_Dated/{action}", json=body).json()
    assert before <= filled["nbf"] <= int(time.time()) and filled["exp"] == filled["nbf"] + TWO_YEARS
    only_nbf = call(emu, "POST", f"/B2C_1A_Dated/{action}", json={**body, "nbf": 1_700_000_000}).json()
    assert only_nbf["nbf"] == 1_700_000_000 and only_nbf["exp"] >= before + TWO_YEARS
    only_exp = call(emu, "POST", f"/B2C_1A_Dated/{action}", json={**body, "exp": 4_000_000_000}).json()
    assert only_exp["exp"] == 4_000_000_000 and only_exp["nbf"] >= before
    stored = emu.state()["keySets"][0]["keys"]
    assert [k["exp"] for k in stored[2:]] == [only_nbf["exp"], 4_000_000_000]


def test_read_lag_hides_writes_from_reads_but_not_from_writes(emu):
    readings(emu, "read-lag=60")
    create(emu, "Late")
    assert code_of(call(emu, "GET", "/B2C_1A_Late")) == (400, "AADB2C90073")
    assert listed(emu) == [] and call(emu, "GET", "/$count").text == "0"
    assert code_of(call(emu, "POST", json={"id": "Late"})) == (400, "AADB2C95028")   # at once
    kid = secret(emu, "B2C_1A_Late", nbf=NOW - 10)["kid"]                     # a write sees it
    for path in ("/getActiveKey()", "/keys_v2", f"/keys_v2/{kid}"):
        assert code_of(call(emu, "GET", "/B2C_1A_Late" + path)) == (400, "AADB2C90073")
    assert true_ids(emu) == ["B2C_1A_Late"] and len(emu.state()["keySets"][0]["keys"]) == 1


def test_read_lag_shows_a_deleted_set_until_the_lag_passes(emu):
    create(emu, "Old")
    secret(emu, "B2C_1A_Old")
    readings(emu, "read-lag=60")
    assert call(emu, "DELETE", "/B2C_1A_Old").status_code == 204
    assert true_ids(emu) == ["B2C_1A_Old.bak"]
    assert listed(emu) == ["B2C_1A_Old"] and call(emu, "GET", "/B2C_1A_Old").status_code == 200
    assert code_of(call(emu, "GET", "/B2C_1A_Old.bak")) == (400, "AADB2C90073")
    assert code_of(call(emu, "POST", "/B2C_1A_Old/uploadSecret", json={"use": "sig", "k": "x"})) == (
        400, "AADB2C90073")                                                   # a write: gone
    assert create(emu, "Old") == "B2C_1A_Old"


def test_read_lag_lets_writes_appear_once_it_passed(emu):
    create(emu, "Keys")
    readings(emu, "read-lag=0.4")
    kid = secret(emu, "B2C_1A_Keys")["kid"]
    create(emu, "New")
    assert call(emu, "GET", "/B2C_1A_Keys").json()["keys"] == [] and listed(emu) == ["B2C_1A_Keys"]
    time.sleep(0.5)
    assert [k["kid"] for k in call(emu, "GET", "/B2C_1A_Keys").json()["keys"]] == [kid]
    assert listed(emu) == ["B2C_1A_Keys", "B2C_1A_New"]
    assert call(emu, "GET", f"/B2C_1A_Keys/keys_v2/{kid}").status_code == 200


def test_not_found_404_and_conflict_409(emu):
    create(emu, "Foo")
    assert code_of(call(emu, "GET", "/B2C_1A_Nope")) == (400, "AADB2C90073")
    assert code_of(call(emu, "POST", json={"id": "Foo"})) == (400, "AADB2C95028")
    readings(emu, "not-found-404", "conflict-409")
    assert code_of(call(emu, "GET", "/B2C_1A_Nope")) == (404, "AADB2C90073")
    assert code_of(call(emu, "POST", json={"id": "Foo"})) == (409, "AADB2C95028")


def test_relative_next_link_resolves_against_the_request_url(emu):
    for name in ("A", "B", "C"):
        create(emu, name)
    absolute = call(emu, "GET").json()["@odata.nextLink"]
    assert absolute.startswith(emu.url + KEYSETS + "?$skiptoken=")
    readings(emu, "relative-next-link")
    first = call(emu, "GET").json()
    link = first["@odata.nextLink"]
    assert link.startswith("keySets?$skiptoken=") and link == absolute.rsplit("/", 1)[1]
    second = call(emu, "GET", urljoin(emu.url + KEYSETS, link))
    assert [ks["id"] for ks in first["value"] + second.json()["value"]] == [
        "B2C_1A_A", "B2C_1A_B", "B2C_1A_C"]


def test_prefix_doubled_delete_without_bak_and_page_size(emu):
    readings(emu, "prefix-doubled", "delete-without-bak", "page-size=1")
    assert create(emu, "B2C_1A_Bar") == "B2C_1A_B2C_1A_Bar"
    create(emu, "Gone")
    assert len(call(emu, "GET").json()["value"]) == 1
    call(emu, "DELETE", "/B2C_1A_Gone")
    assert true_ids(emu) == ["B2C_1A_B2C_1A_Bar"]


# -- switching them --------------------------------------------------------------------------
def test_config_shows_readings_and_a_new_set_replaces_the_old(emu):
    shown = readings(emu, "not-found-404", "READ-LAG=2.5", "page-size=7")
    assert shown["readings"] == ["not-found-404", "read-lag=2.5", "page-size=7"]
    assert (shown["not_found_status"], shown["read_lag"], shown["page_size"]) == (404, 2.5, 7)
    shown = readings(emu, "conflict-409")
    assert shown["readings"] == ["conflict-409"] and shown["conflict_status"] == 409
    assert (shown["not_found_status"], shown["read_lag"], shown["page_size"]) == (400, 0, 2)
    got = requests.get(f"{emu.url}/_emulator/config", verify=emu.ca_path).json()
    assert got["readings"] == ["conflict-409"]
    emu.config.update({"readings": ["list-without-keys"]})                  # in-process: the same
    assert emu.config.current.readings == ("list-without-keys",) and emu.config.current.conflict_status == 400
    emu.reset()
    assert emu.config.current.readings == () and emu.config.current.list_keys


@pytest.mark.parametrize("value, message", [
    (["nope"], "unknown reading 'nope'; known: getactivekey-404"),
    (["read-lag"], "needs a value: read-lag=SECONDS"),
    (["read-lag=-1"], "SECONDS must be a number"),
    (["page-size=0"], "N must be an integer from 1 to 1000"),
    (["not-found-404=1"], "takes no value"),
    (["page-size=3", "page-size=4"], "given twice"),
    ("not-found-404", "must be a list"),
])
def test_a_bad_reading_is_refused_with_the_known_names(emu, value, message):
    answer = requests.post(f"{emu.url}/_emulator/config", json={"readings": value}, verify=emu.ca_path)
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert emu.config.current.readings == ()


def test_reset_restores_the_start_readings_over_the_start_settings():
    config = Config(page_size=5, readings=["not-found-404", "delete-without-bak"])
    assert (config.current.page_size, config.current.not_found_status) == (5, 404)
    config.update({"readings": ["page-size=9"]})
    assert (config.current.page_size, config.current.not_found_status, config.current.backup_on_delete) == (
        9, 400, True)
    config.update({"readings": []})
    assert config.current.page_size == 5                                   # the start value, not 2
    config.reset()
    assert config.current.readings == ("not-found-404", "delete-without-bak")


def test_emulator_takes_start_readings():
    with Emulator(readings=["conflict-409"]) as own:
        create(own, "Foo")
        assert code_of(call(own, "POST", json={"id": "Foo"})) == (409, "AADB2C95028")


# -- the command line ------------------------------------------------------------------------
def test_reading_help_lists_every_reading_with_its_source(capsys):
    code, out, _ = run(capsys, ["emulator", "--reading", "help"], {})
    assert code == 0
    for name in ("getactivekey-404", "getactivekey-no-kid", "list-without-keys", "default-dates",
                 "read-lag=SECONDS", "not-found-404", "conflict-409", "relative-next-link",
                 "prefix-doubled", "delete-without-bak", "page-size=N", "vault-versions-empty"):
        assert f"\n  {name}\n" in out
    assert out.count("source: ") == 12


def test_an_unknown_reading_names_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exited:
        run(capsys, ["emulator", "--reading", "maybe-404"], {})
    assert exited.value.code == 1  # a usage error: 2 is "changes pending"
    assert "unknown reading 'maybe-404'; known: getactivekey-404" in capsys.readouterr().err


@pytest.mark.parametrize("content, problem", [
    ("{", "not JSON"),
    ("[]", "must be a JSON object"),
    ('{"readings": []}', '"version" must be 1, not None'),
    ('{"version": 1, "readings": "not-found-404"}', '"readings" must be a list of strings'),
    ('{"version": 1, "readings": ["sometimes"]}', "unknown reading 'sometimes'"),
])
def test_a_bad_readings_file_is_refused_naming_the_file(capsys, tmp_path, content, problem):
    path = tmp_path / "probe.json"
    path.write_text(content)
    code, _, err = run(capsys, ["emulator", "--readings-from", str(path)], {})
    assert code == 1 and f"readings file {path}: {problem}" in err


def test_readings_from_a_probe_file_with_reading_on_top(emulator_process, tmp_path):
    probe = tmp_path / "tenant.json"
    probe.write_text(json.dumps({"version": 1, "tenant": "ignored", "readings": [
        "not-found-404", "page-size=100"]}))
    env = emulator_process("--readings-from", str(probe), "--reading", "page-size=3",
                           "--reading", "read-lag=1")
    config = requests.get(env["B2CKEYS_GRAPH_URL"] + "/_emulator/config",
                          verify=env["B2CKEYS_CA_BUNDLE"]).json()
    assert config["readings"] == ["not-found-404", "page-size=3", "read-lag=1"]
    assert (config["page_size"], config["not_found_status"], config["read_lag"]) == (3, 404, 1)
