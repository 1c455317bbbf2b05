"""Answers the client cannot read: after a write they are ambiguous (the write may have
landed, so `ensure` reads back), after a read they are a GraphError naming the key set.
Malformed answers are sent by the emulator's pipeline hooks, through the real client."""

import pytest

from helpers.graph import emulator_client
from reconciler.cli.main import main
from reconciler.core import errors
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse
from reconciler.emulator import Response
from reconciler.graph.ensure import ensure_key, ensure_keyset
from reconciler.graph.keyshape import epoch, parse_key
from reconciler.graph.retry import RetryPolicy, is_ambiguous

ODATA = {"Content-Type": "application/json;odata.metadata=minimal"}
RSA_SIG = {"kty": "RSA", "use": "sig"}

BROKEN_KEYS = {
    "empty 200": Response(200, b"", dict(ODATA)),
    "204 no content": Response.empty(204),
    "not JSON": Response(200, b"<html>upstream hiccup</html>", {"Content-Type": "text/html"}),
    "truncated JSON": Response(200, b'{"kid": "abc", "kty": "RS', dict(ODATA)),
    "a list": Response.json(200, [{"kid": "abc", **RSA_SIG}]),
    "no kty": Response.json(200, {"kid": "abc", "use": "sig"}),
    "unknown kty": Response.json(200, {"kid": "abc", "kty": "EC", "use": "sig"}),
    "no kid": Response.json(200, dict(RSA_SIG)),
    "kid a number": Response.json(200, {"kid": 7, **RSA_SIG}),
    "nbf a date string": Response.json(200, {"kid": "abc", **RSA_SIG, "nbf": "2026-01-01T00:00:00Z"}),
    "exp fractional": Response.json(200, {"kid": "abc", **RSA_SIG, "exp": 1_900_000_000.5}),
    "nbf an object": Response.json(200, {"kid": "abc", **RSA_SIG, "nbf": {"value": 1}}),
}


@pytest.fixture
def client(emu):
    return emulator_client(emu.env, policy=RetryPolicy(scale=20), settle_seconds=2)


def replace_answer(hooks, path_end, answer, times=1):
    """The next `times` committed writes to a path ending `path_end` are answered `answer`."""
    left = [times]

    def hook(ctx, response):
        if ctx.request.path.endswith(path_end) and left[0] > 0:
            left[0] -= 1
            return answer
        return None

    hooks.after_commit.append(hook)


def answer_reads(hooks, path_end, answer):
    hooks.after_auth.append(lambda ctx: answer if ctx.request.method == "GET" and ctx.request.path.endswith(path_end) else None)


def posts(emu, path_end):
    return [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith(path_end)]


@pytest.mark.parametrize("shape", BROKEN_KEYS)
def test_a_write_answer_that_cannot_be_read_is_ambiguous_and_says_why(emu, client, hooks, shape):
    client.create_keyset("Odd")
    replace_answer(hooks, "/generateKey", BROKEN_KEYS[shape])
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.generate_key("B2C_1A_Odd", kty=KeyType.RSA, use=KeyUse.SIG)
    e = caught.value
    assert is_ambiguous(e) and isinstance(e, errors.GraphError)
    assert str(e).startswith("POST /trustFramework/keySets/B2C_1A_Odd/generateKey: HTTP 20")
    assert "b2ckeys cannot read the answer: " in str(e) and "\n" not in str(e)
    assert len(emu.state()["keySets"][0]["keys"]) == 1  # the write did land


@pytest.mark.parametrize("shape", BROKEN_KEYS)
def test_ensure_finds_the_key_an_unreadable_answer_hid_and_writes_no_second(emu, client, hooks, shape):
    client.create_keyset("Odd")
    replace_answer(hooks, "/generateKey", BROKEN_KEYS[shape])
    key = DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG)
    write = lambda: client.generate_key("B2C_1A_Odd", kty=KeyType.RSA, use=KeyUse.SIG)  # noqa: E731
    landed, remark = ensure_key(client, "B2C_1A_Odd", key, write, known_kids=set())
    (only,) = emu.state()["keySets"][0]["keys"]
    assert landed.kid == only["kid"] and landed.kty is KeyType.RSA
    assert remark == "added; its answer could not be read"
    assert len(posts(emu, "/generateKey")) == 1


def test_an_upload_answered_with_a_date_string_is_found_by_its_dates(emu, client, hooks):
    client.create_keyset("Fb")
    replace_answer(hooks, "/uploadSecret", BROKEN_KEYS["nbf a date string"])
    key = DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, nbf=1_700_000_000, exp=1_900_000_000)
    write = lambda: client.upload_secret("B2C_1A_Fb", value="s3cret", use=KeyUse.SIG,  # noqa: E731
                                         nbf=1_700_000_000, exp=1_900_000_000)
    landed, remark = ensure_key(client, "B2C_1A_Fb", key, write, known_kids=set())
    assert (landed.nbf, landed.exp, remark) == (1_700_000_000, 1_900_000_000, "added; its answer could not be read")
    assert len(posts(emu, "/uploadSecret")) == 1


def test_a_create_answer_naming_no_id_is_ambiguous_and_the_set_is_read_back(emu, client, hooks):
    replace_answer(hooks, "/trustFramework/keySets", Response(201, b"", dict(ODATA)))
    assert ensure_keyset(client, "B2C_1A_Made") == ("B2C_1A_Made", "created; its answer could not be read")
    assert len(posts(emu, "/trustFramework/keySets")) == 1


@pytest.mark.parametrize("answer, reason", [
    ({"id": "B2C_1A_Bad", "keys": [{"kid": "a", "use": "sig"}]}, "key set 'B2C_1A_Bad', key 1: a key has no kty"),
    ({"id": "B2C_1A_Bad", "keys": [dict(RSA_SIG, kid="a", exp="soon")]},
     "key set 'B2C_1A_Bad', key 1: a key's exp is a string that is not a whole number, not epoch seconds"),
    ({"id": "B2C_1A_Bad", "keys": {"kid": "a"}}, "key set 'B2C_1A_Bad' comes with keys that are an object, not a list"),
    ({"id": "B2C_1A_Bad"}, "key set 'B2C_1A_Bad' comes with no keys"),
    ({"keys": []}, "a key set has no id"),
])
def test_a_key_set_that_cannot_be_read_is_a_graph_error_naming_it(emu, client, hooks, answer, reason):
    answer_reads(hooks, "/keySets/B2C_1A_Bad", Response.json(200, answer))
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.get_keyset("B2C_1A_Bad")
    assert str(caught.value) == (f"GET /trustFramework/keySets/B2C_1A_Bad: HTTP 200: b2ckeys cannot read "
                                 f"the answer: {reason} (request-id {caught.value.request_id})")


def test_a_listed_key_set_that_cannot_be_read_is_named(emu, client, hooks):
    client.create_keyset("Good")
    answer_reads(hooks, "/trustFramework/keySets", Response.json(200, {"value": [
        {"id": "B2C_1A_Good", "keys": []}, {"id": "B2C_1A_Odd", "keys": [{"kid": "a", "kty": "RSA", "nbf": True}]}]}))
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.list_keysets()
    assert "GET /trustFramework/keySets: HTTP 200: b2ckeys cannot read the answer: key set 'B2C_1A_Odd', key 1: " \
           "a key's nbf is true or false, not epoch seconds" in str(caught.value)


@pytest.mark.parametrize("answer, reason", [
    (Response(200, b"not json", {"Content-Type": "text/plain"}), "it is not JSON"),
    (Response.json(200, [{"id": "B2C_1A_A", "keys": []}]), "the page is a list, not a JSON object"),
    (Response.json(200, {"@odata.context": "x"}), "the page's value is null, not a list"),
    (Response.json(200, {"value": [], "@odata.nextLink": 3}), "the page's @odata.nextLink is a number, not a URL"),
])
def test_a_list_page_that_cannot_be_read_is_not_taken_for_an_empty_tenant(emu, client, hooks, answer, reason):
    answer_reads(hooks, "/trustFramework/keySets", answer)
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.list_keysets()
    assert f"GET /trustFramework/keySets: HTTP 200: b2ckeys cannot read the answer: {reason}" in str(caught.value)


def test_plan_reports_an_unreadable_answer_in_one_line(emu, env, hooks, capsys, tmp_path):
    manifest = tmp_path / "keys.yaml"
    manifest.write_text("version: 1\nkeySets:\n  - name: Sign\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n")
    answer_reads(hooks, "/trustFramework/keySets", Response.json(200, {"value": [{"id": "B2C_1A_Sign", "keys": [{}]}]}))
    assert main(["plan", str(manifest)], environ=env) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GET /trustFramework/keySets: HTTP 200: b2ckeys cannot read the answer: "
                          "key set 'B2C_1A_Sign', key 1: a key has no kty")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_unreadable_key_status_is_a_graph_error(emu, client, hooks):
    client.create_keyset("St")
    kid = client.generate_key("B2C_1A_St", kty=KeyType.RSA, use=KeyUse.SIG).kid
    answer_reads(hooks, f"/keys_v2/{kid}", Response.json(200, {"kid": kid, "status": ["enabled"]}))
    with pytest.raises(errors.GraphAnswerUnreadable, match="the key's status is a list, not a string"):
        client.key_status("B2C_1A_St", kid)


@pytest.mark.parametrize("value, expected", [
    (1_700_000_000, 1_700_000_000), ("1700000000", 1_700_000_000), (" 42 ", 42), ("+5", 5), (0, 0),
    (None, None), ("", None),
])
def test_dates_are_integers_or_integral_strings(value, expected):
    assert epoch(value, "nbf") == expected


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00Z", "1.7e9", "1700000000.0", "  ", 1.5, 1_700_000_000.0,
                                   True, [1], {"a": 1}, "9" * 25])
def test_any_other_date_is_unreadable(value):
    with pytest.raises(errors.GraphAnswerUnreadable, match="nbf .* not epoch seconds"):
        epoch(value, "nbf")


def test_a_key_never_keeps_its_secret_nor_quotes_an_unreadable_value():
    key = parse_key({"kid": "k", "kty": "oct", "use": "sig", "k": "SECRET", "nbf": "5", "exp": 9})
    assert "SECRET" not in repr(key) and (key.nbf, key.exp) == (5, 9)
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        parse_key({"kid": "k", "kty": "oct", "use": "sig", "nbf": "SECRET-looking"})
    assert "SECRET" not in str(caught.value)
