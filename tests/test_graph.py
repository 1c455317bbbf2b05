"""The Graph client and sign-in against the emulator, over HTTPS, real requests + msal."""

import pytest
import requests

from helpers.graph import emulator_client
from reconciler.core import errors
from reconciler.core.model import KeyType, KeyUse
from reconciler.graph.answers import read_created_id
from reconciler.graph.keyshape import parse_key
from reconciler.graph.client import GraphClient
from reconciler.graph.redact import scrub_error
from reconciler.graph.retry import RetryPolicy
from reconciler.graph.settings import from_environment
from reconciler.signin.auth import TokenProvider


def configure(emu, **settings):
    emu.config.update(settings)


@pytest.fixture
def client(emu):
    return emulator_client(emu.env)


def test_list_follows_next_link_across_pages(emu, client):
    for name in ("A", "B", "C", "D", "E"):
        client.create_keyset(name)
    live = client.list_keysets()
    assert [k.id for k in live.keysets] == [f"B2C_1A_{n}" for n in "ABCDE"]
    lists = [r for r in emu.requests() if r["method"] == "GET" and r["path"].endswith("/keySets")]
    assert len(lists) == 3  # page size 2


def test_create_strips_a_written_prefix_and_returns_the_service_id(client):
    assert client.create_keyset("B2C_1A_Foo") == "B2C_1A_Foo"
    assert client.create_keyset("Bar") == "B2C_1A_Bar"


@pytest.mark.parametrize("status", [400, 409])
def test_conflict_is_recognised_in_both_shapes(emu, client, status):
    configure(emu, conflict_status=status)
    client.create_keyset("Foo")
    with pytest.raises(errors.GraphConflict) as caught:
        client.create_keyset("Foo")
    assert caught.value.status == status
    assert caught.value.code == "AADB2C95028"


@pytest.mark.parametrize("status", [400, 404])
def test_missing_key_set_is_recognised_in_both_shapes(emu, client, status):
    configure(emu, not_found_status=status)
    assert client.get_keyset("B2C_1A_Nope") is None
    with pytest.raises(errors.GraphNotFound) as caught:
        client.generate_key("B2C_1A_Nope", kty=KeyType.RSA, use=KeyUse.SIG)
    assert caught.value.status == status and caught.value.request_id


def test_keys_are_parsed_whatever_shape_graph_answers_in(client):
    client.create_keyset("Fb")
    key = client.upload_secret("B2C_1A_Fb", value="s3cret", use=KeyUse.SIG, nbf=1_700_000_000, exp=1_900_000_000)
    assert (key.kty, key.use, key.nbf, key.exp) == (KeyType.OCT, KeyUse.SIG, 1_700_000_000, 1_900_000_000)
    assert key.kid
    (live,) = client.get_keyset("B2C_1A_Fb").keys
    assert live.identity == key.identity and live.kid == key.kid


def test_generate_rsa_and_active_key(client):
    client.create_keyset("Sign")
    key = client.generate_key("B2C_1A_Sign", kty=KeyType.RSA, use=KeyUse.SIG)
    assert key.kty is KeyType.RSA
    assert client.get_active_key("B2C_1A_Sign").kid == key.kid


def test_no_active_key_is_none(client):
    client.create_keyset("Later")
    client.generate_key("B2C_1A_Later", kty=KeyType.RSA, use=KeyUse.SIG, nbf=4_000_000_000)
    assert client.get_active_key("B2C_1A_Later") is None


def test_graph_errors_carry_code_and_request_id(client):
    client.create_keyset("Mix")
    client.upload_secret("B2C_1A_Mix", value="abc", use=KeyUse.SIG)
    with pytest.raises(errors.GraphError) as caught:
        client.generate_key("B2C_1A_Mix", kty=KeyType.RSA, use=KeyUse.SIG)
    e = caught.value
    assert (e.status, e.code) == (400, "AADB2C95032")
    assert e.request_id and f"request-id {e.request_id}" in str(e)
    assert "POST /trustFramework/keySets/B2C_1A_Mix/generateKey" in str(e)


def test_missing_write_role_is_a_clear_403(emu, client):
    configure(emu, roles=["TrustFrameworkKeySet.Read.All"])
    fresh = GraphClient(emu.url, TokenProvider(from_environment(emu.env), emu.env),
                        verify=from_environment(emu.env).verify)
    assert fresh.list_keysets().keysets == ()
    with pytest.raises(errors.GraphAuthError) as caught:
        fresh.create_keyset("Denied")
    assert "TrustFrameworkKeySet.ReadWrite.All" in str(caught.value)


def test_bad_token_is_401(emu):
    client = GraphClient(emu.url, lambda: "not-a-token", verify=emu.ca_path)
    with pytest.raises(errors.GraphAuthError) as caught:
        client.list_keysets()
    assert caught.value.status == 401


def test_tls_without_the_ca_is_refused_with_advice_and_not_retried(emu):
    client = GraphClient(emu.url, lambda: "t", verify=True)
    with pytest.raises(errors.GraphError) as caught:
        client.list_keysets()
    assert "B2CKEYS_CA_BUNDLE" in str(caught.value)
    assert client.request_count == 1


def test_unreachable_host_is_our_error_after_the_retry_budget():
    client = GraphClient("https://127.0.0.1:1", lambda: "t", timeout=(2, 2),
                         policy=RetryPolicy(max_tries=3, base_delay=0.01, max_delay=0.02))
    with pytest.raises(errors.RetriesExhausted) as caught:
        client.list_keysets()
    assert isinstance(caught.value.last, errors.GraphUnreachable)
    assert caught.value.tries == 3 and "gave up after 3 tries" in str(caught.value)


@pytest.mark.parametrize("url", ["http://graph.microsoft.com", "ftp://127.0.0.1", "graph.microsoft.com"])
def test_insecure_or_bad_graph_urls_are_refused(url):
    with pytest.raises(errors.ConfigError):
        GraphClient(url, lambda: "t")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "https://graph.microsoft.us"])
def test_loopback_http_and_https_are_allowed(url):
    GraphClient(url, lambda: "t")


def test_our_errors_are_not_requests_errors():
    assert not issubclass(errors.GraphError, requests.RequestException)


def test_created_id_falls_back_to_the_location_header():
    response = requests.Response()
    response.status_code = 201
    response._content = b""
    response.headers["Location"] = "/trustFramework/keySets('B2C_1A_keyset1')"
    assert read_created_id(response, "B2C_1A_keyset1") == "B2C_1A_keyset1"


def test_an_echoed_secret_is_removed_from_graph_errors():
    e = errors.GraphError("bad k 'hunter2'", status=400, code="AADB2C95029", request_id="r")
    cleaned = scrub_error(e, ("hunter2",))
    assert "hunter2" not in str(cleaned) and cleaned.code == "AADB2C95029"


def test_secret_fields_are_never_kept():
    key = parse_key({"kid": "k", "kty": "oct", "use": "sig", "k": "SECRET", "nbf": "5", "exp": 9})
    assert "SECRET" not in repr(key) and (key.nbf, key.exp) == (5, 9)


def test_wrong_secret_is_an_auth_error_without_the_secret(emu):
    environ = dict(emu.env, AZURE_CLIENT_SECRET="CANARY-bad-secret")
    provider = TokenProvider(from_environment(environ), environ)
    with pytest.raises(errors.AuthError) as caught:
        provider.token()
    assert "AZURE_CLIENT_SECRET" in str(caught.value)
    assert "CANARY-bad-secret" not in str(caught.value)


def test_unknown_client_names_the_client_id(emu):
    environ = dict(emu.env, AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000001")
    with pytest.raises(errors.AuthError) as caught:
        TokenProvider(from_environment(environ), environ).token()
    assert "00000000-0000-0000-0000-000000000001" in str(caught.value)


def test_token_is_cached_for_the_run(emu):
    provider = TokenProvider(from_environment(emu.env), emu.env)
    assert provider.token() == provider.token()
    assert len([r for r in emu.requests() if r["path"].endswith("/oauth2/v2.0/token")]) == 1
