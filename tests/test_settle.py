"""The settle window: after a write whose answer was lost, a key that landed may stay
invisible to reads for a while (the emulator's reading `read-lag=SECONDS`), so `ensure`
reads the key set about once a second through the window before it writes again.
B2CKEYS_SETTLE_SECONDS sets the window; the client's time scale shrinks it here."""

import collections
import time

import pytest

from helpers.graph import emulator_client
from reconciler.cli.main import main
from reconciler.core import errors
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse
from reconciler.graph.client import connect_graph
from reconciler.graph.ensure import ensure_deleted, ensure_disabled, ensure_key
from reconciler.graph.retry import RetryPolicy
from reconciler.graph.settings import from_environment

SCALE = 4  # the window of 8 s lasts 2 s, a read every 0.25 s
RSA_SIG = DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG)


def make_client(emu, settle_seconds=8.0):
    return emulator_client(emu.env, policy=RetryPolicy(scale=SCALE), settle_seconds=settle_seconds)


def lag(emu, seconds):
    emu.config.update({"readings": [f"read-lag={seconds}"]})


def calls(emu, method, path_end):
    return [r for r in emu.requests() if r["method"] == method and r["path"].endswith(path_end)]


def generate(client, keyset_id):
    return lambda: client.generate_key(keyset_id, kty=KeyType.RSA, use=KeyUse.SIG)


def test_a_lost_answer_is_waited_for_through_read_lag_and_written_once(emu):
    client = make_client(emu)
    client.create_keyset("Lag")
    lag(emu, 1)
    emu.faults.add({"method": "POST", "path": "*/generateKey", "commit_then_drop": True})
    landed, remark = ensure_key(client, "B2C_1A_Lag", RSA_SIG, generate(client, "B2C_1A_Lag"), known_kids=set())
    assert remark == "added; its answer was lost"
    assert [k["kid"] for k in emu.state()["keySets"][0]["keys"]] == [landed.kid]
    assert len(calls(emu, "POST", "/generateKey")) == 1
    assert len(calls(emu, "GET", "/B2C_1A_Lag")) >= 2  # the first read missed it


def test_without_a_window_one_read_misses_a_lagging_key_and_a_second_is_written(emu):
    """What B2CKEYS_SETTLE_SECONDS=0 costs against a lagging service: the duplicate the window prevents."""
    client = make_client(emu, settle_seconds=0)
    client.create_keyset("Lag")
    lag(emu, 1)
    emu.faults.add({"method": "POST", "path": "*/generateKey", "commit_then_drop": True})
    ensure_key(client, "B2C_1A_Lag", RSA_SIG, generate(client, "B2C_1A_Lag"), known_kids=set())
    assert len(emu.state()["keySets"][0]["keys"]) == 2


def test_a_write_that_never_landed_is_sent_again_after_the_window(emu):
    client = make_client(emu)
    client.create_keyset("Lost")
    emu.faults.add({"method": "POST", "path": "*/generateKey", "status": 503})  # refused before any change
    started = time.monotonic()
    landed, remark = ensure_key(client, "B2C_1A_Lost", RSA_SIG, generate(client, "B2C_1A_Lost"), known_kids=set())
    waited = time.monotonic() - started
    assert remark == "" and [k["kid"] for k in emu.state()["keySets"][0]["keys"]] == [landed.kid]
    assert waited >= client.settle_seconds
    reads = len(calls(emu, "GET", "/B2C_1A_Lost"))
    assert 2 <= reads <= client.settle_seconds / client.settle_interval + 2  # about one a second, scaled


def test_an_answer_that_arrives_costs_no_read(emu):
    client = make_client(emu)
    client.create_keyset("Quick")
    lag(emu, 1)
    before = len(emu.requests())
    ensure_key(client, "B2C_1A_Quick", RSA_SIG, generate(client, "B2C_1A_Quick"), known_kids=set())
    assert len(emu.requests()) == before + 1


def test_a_lost_delete_is_read_through_the_window_not_sent_twice(emu):
    client = make_client(emu)
    client.create_keyset("Doomed")
    lag(emu, 1)
    emu.faults.add({"method": "DELETE", "path": "*/B2C_1A_Doomed", "commit_then_drop": True})
    assert ensure_deleted(client, "B2C_1A_Doomed") == "deleted; its answer was lost"
    assert len(calls(emu, "DELETE", "/B2C_1A_Doomed")) == 1


def test_a_lost_disable_is_read_through_the_window_not_sent_twice(emu):
    client = make_client(emu)
    client.create_keyset("Old")
    kid = client.generate_key("B2C_1A_Old", kty=KeyType.RSA, use=KeyUse.SIG).kid
    lag(emu, 1)
    emu.faults.add({"method": "PATCH", "path": f"*/keys_v2/{kid}", "commit_then_drop": True})
    assert ensure_disabled(client, "B2C_1A_Old", kid) == "disabled; its answer was lost"
    assert len(calls(emu, "PATCH", f"/keys_v2/{kid}")) == 1


def test_a_key_the_service_dated_itself_is_found_after_a_lost_answer(emu):
    """Reading `default-dates`: a key written without nbf/exp comes back with them."""
    client = make_client(emu)
    client.create_keyset("Dated")
    emu.config.update({"readings": ["default-dates"]})
    emu.faults.add({"method": "POST", "path": "*/generateKey", "commit_then_drop": True})
    landed, remark = ensure_key(client, "B2C_1A_Dated", RSA_SIG, generate(client, "B2C_1A_Dated"), known_kids=set())
    assert remark == "added; its answer was lost" and landed.nbf is not None and landed.exp is not None
    assert len(emu.state()["keySets"][0]["keys"]) == 1


def test_apply_under_read_lag_with_lost_answers_adds_each_key_once(emu, env, capsys, tmp_path):
    manifest = tmp_path / "keys.yaml"
    manifest.write_text("version: 1\nkeySets:\n" + "".join(
        f"  - name: Lag{i}\n    keys:\n      - {{kind: generate, kty: RSA, use: sig}}\n"
        f"      - {{kind: generate, kty: RSA, use: sig, nbf: {4_000_000_000 + i}}}\n" for i in range(3)))
    lag(emu, 1)
    emu.faults.add({"method": "POST", "path": "*/generateKey", "commit_then_drop": True, "times": 3})
    env.update(B2CKEYS_TIME_SCALE="4", B2CKEYS_SETTLE_SECONDS="8")
    assert main(["apply", "--auto-approve", str(manifest)], environ=env) == 0
    assert capsys.readouterr().out.count("its answer was lost") == 3
    counts = {ks["id"]: collections.Counter(k.get("nbf") for k in ks["keys"]) for ks in emu.state()["keySets"]}
    assert counts == {f"B2C_1A_Lag{i}": collections.Counter({None: 1, 4_000_000_000 + i: 1}) for i in range(3)}


# -- the setting ---------------------------------------------------------------------------

def test_the_window_is_ten_seconds_unless_set_and_is_scaled_on_the_client(emu):
    assert from_environment(emu.env).settle_seconds == 10
    environ = dict(emu.env, B2CKEYS_SETTLE_SECONDS="2.5", B2CKEYS_TIME_SCALE="5")
    settings = from_environment(environ)
    assert settings.settle_seconds == 2.5
    client = connect_graph(settings, lambda: "t")
    assert (client.settle_seconds, client.settle_interval) == (0.5, 0.2)
    assert from_environment(dict(emu.env, B2CKEYS_SETTLE_SECONDS="0")).settle_seconds == 0


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "", "10s"])
def test_a_bad_window_is_a_clear_config_error(emu, value):
    with pytest.raises(errors.ConfigError) as caught:
        from_environment(dict(emu.env, B2CKEYS_SETTLE_SECONDS=value))
    assert str(caught.value) == (f"B2CKEYS_SETTLE_SECONDS={value!r} must be a number of seconds, "
                                 "0 or more (default 10)")
