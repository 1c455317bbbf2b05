"""Reads under each plausible reading of the service: getActiveKey's "no active key" and
"no key set" answers, a list without keys, relative and odd next links. Through the real
client against the emulator; its readings and pipeline hooks produce the variants."""

import pytest

from helpers.graph import emulator_client
from reconciler.core import errors
from reconciler.core.model import KeyType, KeyUse
from reconciler.emulator import Response
from reconciler.graph.answers import active_key_verdict
from reconciler.graph.settings import origin

FUTURE = 4_000_000_000


@pytest.fixture
def client(emu):
    return emulator_client(emu.env)


def readings(emu, *names):
    emu.config.update({"readings": list(names)})


def gets(emu, path_end):
    return [r for r in emu.requests() if r["method"] == "GET" and r["path"].endswith(path_end)]


def answer_active_key(hooks, answer):
    hooks.after_auth.append(lambda ctx: answer if ctx.request.path.endswith("/getActiveKey") else None)


def error(status, code=None):
    body = {"error": {"message": "no"}} if code is None else {"error": {"code": code, "message": "no"}}
    return Response.json(status, body)


# -- getActiveKey --------------------------------------------------------------------------

@pytest.mark.parametrize("reading", [[], ["getactivekey-404"], ["getactivekey-404", "not-found-404"]])
def test_no_active_key_is_none_whichever_status_carries_it(emu, client, reading):
    readings(emu, *reading)
    client.create_keyset("Later")
    client.generate_key("B2C_1A_Later", kty=KeyType.RSA, use=KeyUse.SIG, nbf=FUTURE)
    assert client.get_active_key("B2C_1A_Later") is None
    assert gets(emu, "/B2C_1A_Later") == []  # the code said it: no second request


@pytest.mark.parametrize("reading", [[], ["not-found-404"], ["getactivekey-404", "not-found-404"]])
def test_a_missing_key_set_is_not_found_not_no_active_key(emu, client, reading):
    readings(emu, *reading)
    with pytest.raises(errors.GraphNotFound) as caught:
        client.get_active_key("B2C_1A_Nope")
    assert caught.value.code == "AADB2C90073"


def test_an_active_key_without_kid_keeps_its_other_fields(emu, client):
    readings(emu, "getactivekey-no-kid")
    client.create_keyset("Sign")
    made = client.generate_key("B2C_1A_Sign", kty=KeyType.RSA, use=KeyUse.SIG, nbf=1_700_000_000)
    active = client.get_active_key("B2C_1A_Sign")
    assert active.kid == "" and active.identity == made.identity


@pytest.mark.parametrize("exists", [True, False])
@pytest.mark.parametrize("answer", [error(404), error(404, "NotFound"), Response(404, b"", {})])
def test_a_404_that_does_not_say_which_is_settled_by_reading_the_key_set(emu, client, hooks, exists, answer):
    if exists:
        client.create_keyset("Maybe")
    answer_active_key(hooks, answer)
    if exists:
        assert client.get_active_key("B2C_1A_Maybe") is None
    else:
        with pytest.raises(errors.GraphNotFound):
            client.get_active_key("B2C_1A_Maybe")
    assert len(gets(emu, "/keySets/B2C_1A_Maybe")) == 1


@pytest.mark.parametrize("answer", [error(400, "SomethingElse"), error(400), error(422, "Unprocessable"),
                                    error(404, "AADB2C90019"), Response.empty(204)])
def test_other_client_errors_and_no_content_mean_no_active_key(emu, client, hooks, answer):
    client.create_keyset("Sign")
    answer_active_key(hooks, answer)
    assert client.get_active_key("B2C_1A_Sign") is None


@pytest.mark.parametrize("answer, kind", [(error(403, "Authorization_RequestDenied"), errors.GraphAuthError),
                                          (error(401, "InvalidAuthenticationToken"), errors.GraphAuthError),
                                          (Response.json(200, {"kid": "k", "use": "sig"}), errors.GraphAnswerUnreadable)])
def test_auth_failures_and_unreadable_keys_are_raised(emu, client, hooks, answer, kind):
    client.create_keyset("Sign")
    answer_active_key(hooks, answer)
    with pytest.raises(kind):
        client.get_active_key("B2C_1A_Sign")


def err(kind, status, code=None):
    return kind("m", status=status, code=code, method="GET", path="/p")


@pytest.mark.parametrize("error_, verdict", [
    (err(errors.GraphError, 400, "AADB2C90019"), "none"),
    (err(errors.GraphNotFound, 404, "AADB2C90019"), "none"),
    (err(errors.GraphNotFound, 400, "AADB2C90073"), "missing"),
    (err(errors.GraphNotFound, 404, "AADB2C90073"), "missing"),
    (err(errors.GraphNotFound, 400, "AADB2C95052"), "missing"),
    (err(errors.GraphNotFound, 404), "ask"),
    (err(errors.GraphNotFound, 404, "ResourceNotFound"), "ask"),
    (err(errors.GraphError, 400), "none"),
    (err(errors.GraphConflict, 409, "Whatever"), "none"),
    (err(errors.GraphError, 409, "AADB2C95053"), "raise"),   # busy: retried, never "no key"
    (err(errors.GraphThrottled, 400, "AADB2C95043"), "raise"),
    (err(errors.GraphThrottled, 429), "raise"),
    (err(errors.GraphAuthError, 403), "raise"),
    (err(errors.GraphServerError, 503), "raise"),
    (err(errors.GraphError, 400, "AADB2C90063"), "raise"),
    (err(errors.GraphUnreachable, None), "raise"),
    (errors.RetriesExhausted(err(errors.GraphError, 409, "AADB2C95053"), 8, 30.0), "raise"),
])
def test_what_a_failed_get_active_key_says(error_, verdict):
    assert active_key_verdict(error_) == verdict


# -- the list ------------------------------------------------------------------------------

def test_a_list_without_keys_reads_each_key_set_once(emu, client):
    readings(emu, "list-without-keys")
    for name in ("A", "B", "C"):
        client.create_keyset(name)
    made = client.generate_key("B2C_1A_B", kty=KeyType.RSA, use=KeyUse.SIG)
    before = len(emu.requests())
    live = client.list_keysets()
    assert [ks.id for ks in live.keysets] == ["B2C_1A_A", "B2C_1A_B", "B2C_1A_C"]
    assert [k.kid for k in live.find("B2C_1A_B").keys] == [made.kid]
    reads = emu.requests()[before:]
    assert len([r for r in reads if r["path"].endswith("/keySets")]) == 2  # two pages of two
    assert sorted(r["path"].rsplit("/", 1)[1] for r in reads if not r["path"].endswith("/keySets")) == \
        ["B2C_1A_A", "B2C_1A_B", "B2C_1A_C"]


def test_a_listed_empty_key_set_is_empty_without_a_second_read(emu, client):
    client.create_keyset("Empty")
    before = len(emu.requests())
    assert client.list_keysets().find("B2C_1A_Empty").keys == ()
    assert len(emu.requests()) == before + 1


def test_a_key_set_deleted_between_the_list_and_its_read_is_left_out(emu, client, hooks):
    client.create_keyset("Gone")
    client.create_keyset("Kept")
    hooks.after_auth.append(lambda ctx: Response.json(200, {"value": [{"id": "B2C_1A_Gone"}, {"id": "B2C_1A_Kept", "keys": None}]})
                            if ctx.request.path.endswith("/keySets") else None)
    client.delete_keyset("B2C_1A_Gone")
    assert [ks.id for ks in client.list_keysets().keysets] == ["B2C_1A_Kept"]


@pytest.mark.parametrize("page_size", [1, 2, 5])
def test_relative_next_links_are_followed(emu, client, page_size):
    readings(emu, "relative-next-link", f"page-size={page_size}")
    for name in "ABCDE":
        client.create_keyset(name)
    assert [ks.id for ks in client.list_keysets().keysets] == [f"B2C_1A_{n}" for n in "ABCDE"]
    assert len(gets(emu, "/keySets")) == -(-5 // page_size)


def paged_by_hand(hooks, links):
    """The list answers page N (query `page=N`) with one key set and `links[N]` as its next link."""
    def answer(ctx):
        if not ctx.request.path.endswith("/keySets"):
            return None
        page = int((ctx.request.query.get("page") or ["0"])[0])
        body = {"value": [{"id": f"B2C_1A_P{page}", "keys": []}]}
        if links[page]:
            body["@odata.nextLink"] = links[page]
        return Response.json(200, body)
    hooks.after_auth.append(answer)


def test_relative_links_of_every_form_resolve_against_their_page(emu, client, hooks):
    scheme_upper = emu.url.replace("https://", "HTTPS://")
    paged_by_hand(hooks, ["keySets?page=1", "/beta/trustFramework/keySets?page=2",
                          f"{scheme_upper}/beta/trustFramework/keySets?page=3", "?page=4", None])
    assert [ks.id for ks in client.list_keysets().keysets] == [f"B2C_1A_P{n}" for n in range(5)]
    assert len(gets(emu, "/keySets")) == 5


def test_a_next_page_on_another_origin_is_refused(emu, client, hooks):
    host, port = emu.url.rsplit(":", 1)
    paged_by_hand(hooks, [f"{host}:{int(port) + 1}/beta/trustFramework/keySets?page=1", None])
    with pytest.raises(errors.GraphError, match="next page on another host"):
        client.list_keysets()
    assert len(gets(emu, "/keySets")) == 1


def test_a_next_link_back_to_a_page_already_read_is_refused(emu, client, hooks):
    paged_by_hand(hooks, ["keySets?page=1", "keySets?page=1"])  # page 1 names itself
    with pytest.raises(errors.GraphAnswerUnreadable, match="its next page is one already read"):
        client.list_keysets()
    assert len(gets(emu, "/keySets")) == 2


@pytest.mark.parametrize("url, same", [
    ("https://graph.microsoft.com:443/beta/x", True),
    ("HTTPS://Graph.Microsoft.COM/beta", True),
    ("https://graph.microsoft.com:8443/beta", False),
    ("http://graph.microsoft.com/beta", False),
    ("https://graph.microsoft.us/beta", False),
    ("https://user@graph.microsoft.com/beta", False),
    ("https://graph.microsoft.com:http/beta", False),
])
def test_origins_compare_normalised(url, same):
    assert (origin(url) == origin("https://graph.microsoft.com/beta")) is same


def test_default_ports_of_each_scheme_are_dropped():
    assert origin("http://127.0.0.1:80/beta") == "http://127.0.0.1"
    assert origin("https://[::1]:443/") == "https://[::1]"
    assert origin("https://[::1]:8443/") == "https://[::1]:8443"
