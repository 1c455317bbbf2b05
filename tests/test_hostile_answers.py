"""Graph answers of the wrong shape or out of range, through the real client and the commands
against the emulator (its pipeline hooks answer a request with any body): each is one line
naming the request (method, path), the field and the request-id, never an internal error.
Dates in answers must be epoch seconds b2ckeys takes (0 to 253402300799, the year 9999);
the property test at the end covers Graph's numeric fields whatever they hold."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.graph import emulator_client
from reconciler.cli.main import main
from reconciler.core import errors
from reconciler.core.model import EPOCH_MAX, KeyType, KeyUse, format_time
from reconciler.emulator import Response
from reconciler.graph.ensure import ensure_keyset
from reconciler.graph.keyshape import epoch, parse_key
from reconciler.graph.retry import RetryPolicy, is_ambiguous

KEY = {"kid": "a", "kty": "RSA", "use": "sig"}
MANIFEST = "version: 1\nkeySets:\n  - name: Sign\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n"
LIST = "/trustFramework/keySets"
ONE_LINE = re.compile(r"^error: GET /trustFramework/keySets[^ ]*: HTTP 200: b2ckeys cannot read the answer: .+ "
                      r"\(request-id [0-9a-f-]{36}\)$")


@pytest.fixture
def client(emu):
    return emulator_client(emu.env, policy=RetryPolicy(scale=50), settle_seconds=0.2)


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(MANIFEST)
    return str(path)


def answer_gets(hooks, path_end, answer):
    hooks.after_auth.append(lambda ctx: answer if ctx.request.method == "GET" and ctx.request.path.endswith(path_end)
                            else None)


def listed(*keysets) -> Response:
    return Response.json(200, {"value": list(keysets)})


def odd_key(**fields) -> Response:
    return listed({"id": "B2C_1A_Sign", "keys": [dict(KEY, **fields)]})


OUT_OF_RANGE = {  # (the answer, the words that name the field)
    "nbf 10^20": (odd_key(nbf=10 ** 20), "key set 'B2C_1A_Sign', key 1: a key's nbf is outside"),
    "nbf 2^62": (odd_key(nbf=2 ** 62), "key 1: a key's nbf is outside"),
    "exp 10^15 as a string": (odd_key(exp="999999999999999"), "key 1: a key's exp is outside"),
    "exp before 1970": (odd_key(exp=-99_999_999_999), "key 1: a key's exp is outside"),
    "nbf -1": (odd_key(nbf=-1), "key 1: a key's nbf is outside"),
    "exp just past the year 9999": (odd_key(exp=EPOCH_MAX + 1), "key 1: a key's exp is outside"),
    "a 400-digit nbf": (Response(200, b'{"value": [{"id": "B2C_1A_Sign", "keys": [{"kid": "a", "kty": "RSA", '
                                      b'"use": "sig", "nbf": 1' + b"0" * 400 + b'}]}]}',
                                 {"Content-Type": "application/json"}), "key 1: a key's nbf is outside"),
    "a kid that is not text": (odd_key(kid="\ud800"), "key 1: a key's kid is not valid Unicode text"),
    "a key set id that is not text": (listed({"id": "B2C_1A_\udfff", "keys": []}),
                                      "a key set's id is not valid Unicode text"),
    "a key set id that is a path segment": (listed({"id": "..", "keys": []}), "a key set's id is '..'"),
}


@pytest.mark.parametrize("command", [["plan"], ["plan", "--format", "markdown"], ["drift"]])
@pytest.mark.parametrize("case", OUT_OF_RANGE)
def test_an_answer_out_of_range_is_one_line_naming_the_request_and_the_field(emu, env, hooks, capsys, manifest,
                                                                             command, case):
    answer, words = OUT_OF_RANGE[case]
    answer_gets(hooks, LIST, answer)
    assert main(command + [manifest], environ=env) == 1
    err = capsys.readouterr().err.strip()
    assert ONE_LINE.match(err), err
    assert words in err and "internal error" not in err


def test_key_set_ids_that_differ_only_in_case_are_an_error_not_a_dropped_key_set(emu, env, hooks, capsys, manifest):
    answer_gets(hooks, LIST, listed({"id": "B2C_1A_Sign", "keys": []}, {"id": "B2C_1A_SIGN", "keys": [KEY]}))
    assert main(["plan", manifest], environ=env) == 1
    err = capsys.readouterr().err.strip()
    assert ONE_LINE.match(err), err
    assert "key sets 'B2C_1A_Sign' and 'B2C_1A_SIGN' differ only in case" in err


def test_a_key_set_listed_twice_alike_is_one_key_set_and_twice_unlike_an_error(emu, client, hooks):
    same = {"id": "B2C_1A_Sign", "keys": [KEY]}
    answer_gets(hooks, LIST, listed(same, same))
    assert [ks.id for ks in client.list_keysets().keysets] == ["B2C_1A_Sign"]
    hooks.clear()
    answer_gets(hooks, LIST, listed(same, {"id": "B2C_1A_Sign", "keys": []}))
    with pytest.raises(errors.GraphAnswerUnreadable, match="key set 'B2C_1A_Sign' is listed twice, with different keys"):
        client.list_keysets()


@pytest.mark.parametrize("body, words", [
    ({**KEY, "nbf": 10 ** 20}, "a key's nbf is outside"),
    ({**KEY, "exp": True}, "a key's exp is true or false"),
    ({**KEY, "kid": "\ud800"}, "a key's kid is not valid Unicode text"),
])
def test_get_active_key_answers_out_of_range_are_unreadable(emu, env, hooks, capsys, manifest, body, words):
    emu.seed([{"id": "B2C_1A_Sign", "keys": [{"kty": "RSA", "use": "sig"}]}])
    answer_gets(hooks, "/getActiveKey", Response.json(200, body))
    assert main(["drift", manifest], environ=env) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: GET /trustFramework/keySets/B2C_1A_Sign/getActiveKey: HTTP 200: b2ckeys cannot "
                          "read the answer: ") and words in err and "(request-id " in err, err


@pytest.mark.parametrize("body, words", [
    ({"kid": "k", "status": 1}, "the key's status is a number, not a string"),
    ({"kid": "k", "status": "\ud800"}, "the key's status is not valid Unicode text"),
    ([], "it is a list, not a JSON object"),
])
def test_keys_v2_answers_of_the_wrong_shape_are_unreadable(emu, client, hooks, body, words):
    client.create_keyset("St")
    kid = client.generate_key("B2C_1A_St", kty=KeyType.RSA, use=KeyUse.SIG).kid
    answer_gets(hooks, f"/keys_v2/{kid}", Response.json(200, body))
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.key_status("B2C_1A_St", kid)
    assert str(caught.value).startswith(f"GET /trustFramework/keySets/B2C_1A_St/keys_v2/{kid}: HTTP 200: ")
    assert words in str(caught.value) and "(request-id " in str(caught.value)


def replace_create_answer(hooks, answer):
    left = [1]

    def hook(ctx, response):
        if ctx.request.method == "POST" and ctx.request.path.endswith(LIST) and left[0]:
            left[0] -= 1
            return answer
        return None

    hooks.after_commit.append(hook)


@pytest.mark.parametrize("body, words", [
    ({"id": "B2C_1A_TokenSigningKeyContainer"}, "the create answer names key set 'B2C_1A_TokenSigningKeyContainer', "
                                                "not B2C_1A_Made"),
    ({"id": 7}, "the create answer's id is a number, not a string"),
    ({"id": "B2C_1A_Made\ud800"}, "the create answer's id is not valid Unicode text"),
])
def test_a_create_answer_naming_another_key_set_is_never_taken_for_it(emu, client, hooks, body, words):
    replace_create_answer(hooks, Response.json(201, body))
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.create_keyset("Made")
    assert str(caught.value).startswith("POST /trustFramework/keySets: HTTP 201: b2ckeys cannot read the answer: ")
    assert words in str(caught.value) and is_ambiguous(caught.value)
    replace_create_answer(hooks, Response.json(201, body))
    assert ensure_keyset(client, "B2C_1A_Other") == ("B2C_1A_Other", "created; its answer could not be read")


def test_a_get_answered_with_another_key_set_is_never_taken_for_it(emu, client, hooks):
    client.create_keyset("Asked")
    answer_gets(hooks, "/keySets/B2C_1A_Asked", Response.json(200, {"id": "B2C_1A_TokenSigningKeyContainer", "keys": []}))
    with pytest.raises(errors.GraphAnswerUnreadable) as caught:
        client.get_keyset("B2C_1A_Asked")
    assert str(caught.value).startswith("GET /trustFramework/keySets/B2C_1A_Asked: HTTP 200: b2ckeys cannot read the "
                                        "answer: it is key set 'B2C_1A_TokenSigningKeyContainer', not B2C_1A_Asked")


def test_a_create_answer_in_another_case_is_the_key_set_asked_for(emu, client, hooks):
    replace_create_answer(hooks, Response.json(201, {"id": "b2c_1a_made"}))
    assert client.create_keyset("Made") == "b2c_1a_made"


def test_a_lease_with_dates_out_of_range_is_named_without_them(emu, env, hooks, capsys, manifest):
    emu.seed([{"id": "B2C_1A_B2CKeysLock", "keys": [{"kty": "RSA", "use": "sig"}]}])
    answer_gets(hooks, "/keySets/B2C_1A_B2CKeysLock", Response.json(200, {"id": "B2C_1A_B2CKeysLock", "keys": [
        {**KEY, "x5t": "lock-1", "nbf": 10 ** 20, "exp": -5}]}))
    assert main(["apply", "--auto-approve", manifest], environ=env) == 1
    err = capsys.readouterr().err
    assert "another run holds the tenant lease" in err and "lock ID lock-1" in err and "internal error" not in err


# -- the property: Graph's numeric fields, whatever they hold -------------------------------

numbers = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-2, EPOCH_MAX + 2),
    st.sampled_from([0, EPOCH_MAX, EPOCH_MAX + 1, -1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -(2 ** 63)]),
    st.floats(), st.floats(0, 2e11), st.integers(-(2 ** 70), 2 ** 70).map(str),
    st.text(alphabet="0123456789 +-.eE", max_size=25), st.text(max_size=6),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(nbf=numbers, exp=numbers)
def test_any_nbf_and_exp_from_graph_are_read_into_a_date_that_formats_back_or_refused(nbf, exp):
    try:
        key = parse_key({**KEY, "nbf": nbf, "exp": exp})
    except errors.GraphAnswerUnreadable as e:
        assert "\n" not in e.graph_message and re.search(r"a key's (nbf|exp) ", e.graph_message)
        return
    for value in (key.nbf, key.exp):
        if value is not None:
            assert type(value) is int and 0 <= value <= EPOCH_MAX
            assert epoch(str(value), "nbf") == value
            text = format_time(value)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
