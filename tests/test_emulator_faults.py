"""Emulator faults, throttling and latency, over real HTTPS on loopback.

`verify=` is passed on every call (see test_emulator.py). Timing tests assert lower bounds
only, or use windows wide enough for a slow machine.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from reconciler.emulator import Emulator, parse_fault_spec
from reconciler.emulator.config import ThrottleSettings
from reconciler.emulator.throttle import Throttle, max_in_window, retry_after_value

ROOT = Path(__file__).resolve().parent.parent
KEYSETS = "/beta/trustFramework/keySets"
THROTTLED = ("AADB2C95043", "There are too many requests at this moment. "
                            "Please wait for some time and try again.")


# -- helpers ---------------------------------------------------------------------------------
def token_response(emu):
    return requests.post(f"{emu.url}/{emu.tenant_id}/oauth2/v2.0/token", verify=emu.ca_path, data={
        "grant_type": "client_credentials", "client_id": emu.client_id,
        "client_secret": emu.client_secret, "scope": f"{emu.url}/.default"})


class Client:
    """One token, one keep-alive session: fast enough to fill a scaled window."""

    def __init__(self, emu, bearer=None):
        self.emu = emu
        self.bearer = bearer or token_response(emu).json()["access_token"]
        self.session = requests.Session()

    def __call__(self, method, path="", **kwargs):
        return self.session.request(method, f"{self.emu.url}{KEYSETS}{path}", verify=self.emu.ca_path,
                                    headers={"Authorization": f"Bearer {self.bearer}"}, **kwargs)


def control(emu, method, name, **kwargs):
    return requests.request(method, f"{emu.url}/_emulator/{name}", verify=emu.ca_path, **kwargs)


def error_of(response):
    body = response.json()["error"]
    assert body["innerError"]["request-id"] == response.headers["request-id"]
    return body["code"], body["message"]


def keys_of(emu, keyset_id):
    return next(s["keys"] for s in emu.state()["keySets"] if s["id"] == keyset_id)


def faults_logged(emu):
    return [entry.get("fault") for entry in emu.requests() if entry.get("fault")]


# -- status ----------------------------------------------------------------------------------
def test_status_faults_with_and_without_retry_after(emu):
    client = Client(emu)
    added = control(emu, "POST", "faults", json=[
        {"method": "GET", "path": "*/keySets", "status": 429, "retry_after": 3},
        {"spec": "GET:*/keySets:status=503"}])
    assert added.status_code == 200, added.text
    first = client("GET")
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert error_of(first) == THROTTLED
    second = client("GET")
    assert second.status_code == 503 and "Retry-After" not in second.headers
    assert error_of(second)[0] == "ServiceUnavailable"
    assert client("GET").status_code == 200                          # both rules used up
    emu.faults.add(method="POST", path="*/keySets", status=500)
    assert client("POST", json={"id": "Never"}).status_code == 500
    assert emu.state()["keySets"] == []                               # the write was not done
    assert faults_logged(emu) == ["status"] * 3


def test_aadb2c90063_on_upload_twice_then_success(emu):
    client = Client(emu)
    assert client("POST", json={"id": "Flaky"}).status_code == 201
    emu.faults.add("POST:*/uploadSecret:status=400:code=AADB2C90063:times=2")
    answers = [client("POST", "/B2C_1A_Flaky/uploadSecret", json={"use": "sig", "k": "s3cret"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 200]
    assert error_of(answers[0]) == ("AADB2C90063", "There is a problem with the service.")
    assert len(keys_of(emu, "B2C_1A_Flaky")) == 1
    assert emu.faults.list()[0]["hits"] == 2 and emu.faults.list()[0]["remaining"] == 0
    assert control(emu, "GET", "stats").json()["faults"] == {"status": 2}


# -- delay, reset, commit_then_drop ----------------------------------------------------------
def test_delay_lets_the_client_time_out_while_the_write_goes_on(emu):
    client = Client(emu)
    emu.faults.add("POST:*/keySets:delay=0.8")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client("POST", json={"id": "Slow"}, timeout=0.2)
    assert time.monotonic() - started < 0.7
    deadline = time.monotonic() + 5
    while not emu.state()["keySets"]:
        assert time.monotonic() < deadline, "the delayed write never happened"
        time.sleep(0.05)
    assert emu.state()["keySets"][0]["id"] == "B2C_1A_Slow"
    assert faults_logged(emu) == ["delay"]


def test_reset_closes_the_connection_and_does_nothing(emu):
    client = Client(emu)
    assert client("POST", json={"id": "Reset"}).status_code == 201
    emu.faults.add("POST:*/generateKey:reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        client("POST", "/B2C_1A_Reset/generateKey", json={"use": "sig", "kty": "RSA"})
    assert keys_of(emu, "B2C_1A_Reset") == []
    last = emu.requests()[-1]
    assert (last["status"], last["fault"]) == (0, "reset")
    assert client("POST", "/B2C_1A_Reset/generateKey",
                  json={"use": "sig", "kty": "RSA"}).status_code == 200   # the session recovers


@pytest.mark.parametrize("write", ["create", "generateKey", "uploadSecret", "delete"])
def test_commit_then_drop_loses_the_answer_but_keeps_the_write(emu, write):
    client = Client(emu)
    assert client("POST", json={"id": "Lost"}).status_code == 201
    method, path, body = {
        "create": ("POST", "", {"id": "Lost2"}),
        "generateKey": ("POST", "/B2C_1A_Lost/generateKey", {"use": "sig", "kty": "RSA"}),
        "uploadSecret": ("POST", "/B2C_1A_Lost/uploadSecret", {"use": "sig", "k": "x"}),
        "delete": ("DELETE", "/B2C_1A_Lost", None),
    }[write]
    emu.faults.add(method=method, path=f"*{path or '/keySets'}", commit_then_drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        client(method, path, json=body)
    ids = {s["id"]: s["keys"] for s in emu.state()["keySets"]}
    expected = {"create": "B2C_1A_Lost2" in ids, "delete": "B2C_1A_Lost" not in ids}
    assert expected.get(write, len(ids.get("B2C_1A_Lost", [])) == 1)
    assert (emu.requests()[-1]["status"], emu.requests()[-1]["fault"]) == (0, "commit_then_drop")


def test_commit_then_drop_waits_for_a_write_that_commits(emu):
    client = Client(emu)
    emu.faults.add("POST:*/uploadSecret:commit_then_drop")
    missing = client("POST", "/B2C_1A_Nope/uploadSecret", json={"use": "sig", "k": "x"})
    assert missing.status_code == 400                       # no write: the rule stays armed
    assert emu.faults.list()[0]["remaining"] == 1
    assert client("POST", json={"id": "Armed"}).status_code == 201
    with pytest.raises(requests.exceptions.ConnectionError):
        client("POST", "/B2C_1A_Armed/uploadSecret", json={"use": "sig", "k": "x"})
    assert len(keys_of(emu, "B2C_1A_Armed")) == 1


# -- counting, probability, scope ------------------------------------------------------------
def schedule(emu, client, **rule):
    emu.faults.clear()
    emu.faults.add(method="GET", path="re:/keySets$", status=503, **rule)
    return "".join("x" if client("GET").status_code == 503 else "." for _ in range(24))


def test_seeded_probability_gives_the_same_schedule_every_time(emu):
    client = Client(emu)
    first = schedule(emu, client, probability=0.5, seed=7)
    assert first == schedule(emu, client, probability=0.5, seed=7)
    assert 0 < first.count("x") < 24
    assert first != schedule(emu, client, probability=0.5, seed=8)
    capped = schedule(emu, client, probability=0.5, seed=7, times=2)    # the same draws, 2 hits
    hits = [i for i, mark in enumerate(first) if mark == "x"]
    assert [i for i, mark in enumerate(capped) if mark == "x"] == hits[:2]


def test_faults_never_touch_the_control_surface_but_do_touch_the_token_service(emu):
    emu.faults.add("*:*:status=503:retry_after=2:times=*")
    assert control(emu, "GET", "state").status_code == 200
    assert control(emu, "GET", "faults").status_code == 200
    denied = token_response(emu)
    assert denied.status_code == 503 and denied.headers["Retry-After"] == "2"
    body = denied.json()
    assert body["error"] == "temporarily_unavailable" and body["error_codes"] == [90033]
    emu.pipeline.clear()                                # user hooks only: the rule survives
    assert token_response(emu).status_code == 503
    assert control(emu, "DELETE", "faults").json() == {"faults": []}
    assert token_response(emu).status_code == 200


def test_fault_control_surface_lists_removes_and_refuses_bad_rules(emu):
    added = control(emu, "POST", "faults", json=[{"spec": "GET:*:reset"},
                                                 {"path": "*/generateKey", "delay": 0.1}])
    ids = [rule["id"] for rule in added.json()["faults"]]
    listed = control(emu, "GET", "faults").json()["faults"]
    assert [(r["id"], r["method"], r["effect"], r["times"], r["remaining"]) for r in listed] == [
        (ids[0], "GET", "reset", 1, 1), (ids[1], "*", "delay", 1, 1)]
    assert control(emu, "DELETE", f"faults/{ids[0]}").json() == {"removed": ids[0]}
    assert control(emu, "DELETE", f"faults/{ids[0]}").status_code == 404
    bad = control(emu, "POST", "faults", json=[{"spec": "GET:*:reset"}, {"status": 200}])
    assert bad.status_code == 400 and "status must be from 400 to 599" in bad.json()["error"]
    assert len(emu.faults.list()) == 1                  # all or none
    assert control(emu, "POST", "faults", json={"path": "*"}).status_code == 400   # no effect
    emu.reset()
    assert emu.faults.list() == [] and control(emu, "GET", "stats").json()["faults"] == {}


# -- throttling ------------------------------------------------------------------------------
def throttle(emu, **settings):
    answer = control(emu, "POST", "config", json={"throttle": settings})
    assert answer.status_code == 200, answer.text
    return answer.json()["throttle"]


def test_throttle_per_app_answers_429_with_retry_after_then_lets_through(emu):
    assert throttle(emu, app_per_minute=5, tenant_per_minute=100, time_scale=30)["enabled"]
    client = Client(emu)
    for _ in range(5):
        token_response(emu)                                  # token calls are not counted
        control(emu, "GET", "state")                        # nor control calls
    started = time.monotonic()
    assert [client("GET").status_code for _ in range(5)] == [200] * 5
    over = client("GET")
    assert time.monotonic() - started < 2, "too slow to fill the 2 s window"
    assert over.status_code == 429 and error_of(over) == THROTTLED
    wait = float(over.headers["Retry-After"])
    assert 0 < wait <= 2
    time.sleep(wait)
    assert client("GET").status_code == 200
    assert emu.requests()[-2]["throttled"] is True
    stats = control(emu, "GET", "stats").json()
    assert stats["window_seconds"] == 2 and stats["graph_requests"] == 7
    assert (stats["admitted"], stats["throttled"]) == (6, 1)
    assert stats["max_in_window"]["apps"] == {emu.client_id: 5}


def test_throttle_per_tenant_counts_all_apps_and_can_omit_retry_after(emu):
    throttle(emu, app_per_minute=4, tenant_per_minute=6, time_scale=6, retry_after=False)
    first, other = Client(emu), Client(emu, emu.make_token(appid="other-app", azp="other-app"))
    assert [first("GET").status_code for _ in range(5)] == [200] * 4 + [429]
    assert [other("GET").status_code for _ in range(3)] == [200, 200, 429]   # tenant: 6
    throttled = [e for e in emu.requests() if e.get("throttled")]
    assert len(throttled) == 2
    last = other("GET")
    assert last.status_code == 429 and "Retry-After" not in last.headers
    stats = control(emu, "GET", "stats").json()
    assert stats["max_in_window"] == {"tenant": 6, "apps": {emu.client_id: 4, "other-app": 2}}


def testmax_in_window_and_retry_after_rules():
    assert max_in_window([], 60) == 0
    assert max_in_window([0, 10, 20, 59, 61, 70, 130], 60) == 4
    assert max_in_window([0, 60, 120], 60) == 1           # (t - 60, t]: the edge is out
    assert max_in_window([0, 59.9, 60, 60.1], 60) == 3
    assert retry_after_value(0.2, 1) == "1" and retry_after_value(3.2, 1) == "4"
    assert retry_after_value(0.5, 60) == "0.5" and retry_after_value(0.001, 60) == "0.017"
    assert retry_after_value(1.99, 30) == "2"
    now = [0.0]
    limiter = Throttle(lambda: ThrottleSettings(enabled=True, app_per_minute=2), lambda: now[0])
    assert limiter.admit("a", "t") is None and limiter.admit("a", "t") is None
    now[0] = 30.0
    assert limiter.admit("a", "t") == 30.0                 # the first leaves at 60
    assert limiter.admit("b", "t") is None                 # another app: its own budget
    now[0] = 60.0
    assert limiter.admit("a", "t") is None
    assert limiter.stats()["max_in_window"] == {"tenant": 3, "apps": {"a": 2, "b": 1}}


def test_throttle_config_validates_and_reset_restores_the_start(emu):
    bad = control(emu, "POST", "config", json={"throttle": {"time_scale": 0}})
    assert bad.status_code == 400 and "time_scale" in bad.json()["error"]
    assert control(emu, "POST", "config", json={"throttle": {"limit": 1}}).status_code == 400
    assert throttle(emu, app_per_minute=1)["app_per_minute"] == 1
    client = Client(emu)
    assert [client("GET").status_code for _ in range(2)] == [200, 429]
    emu.reset()
    assert emu.config.current.throttle.enabled is False
    assert control(emu, "GET", "stats").json()["throttled"] == 0
    with Emulator(throttle={"app_per_minute": 1}, faults=["GET:*/keySets:status=503"]) as own:
        client = Client(own)
        assert [client("GET").status_code for _ in range(3)] == [503, 200, 429]
        own.faults.clear()
        control(own, "POST", "config", json={"throttle": None})
        own.reset()                                         # start throttle and rules, re-armed
        assert own.config.current.throttle.app_per_minute == 1
        assert [client("GET").status_code for _ in range(3)] == [503, 200, 429]


# -- latency ---------------------------------------------------------------------------------
def test_latency_delays_graph_and_token_requests_but_not_control(emu):
    control(emu, "POST", "config", json={"latency": {"fixed_ms": 250, "jitter_ms": 20}})
    started = time.monotonic()
    bearer = token_response(emu).json()["access_token"]
    assert time.monotonic() - started >= 0.25
    client = Client(emu, bearer)
    started = time.monotonic()
    assert client("GET").status_code == 200
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    control(emu, "GET", "state")
    assert time.monotonic() - started < 0.25


# -- the compact spec and the command line ---------------------------------------------------
@pytest.mark.parametrize("spec, expected", [
    ("POST:*/uploadSecret:status=400:code=AADB2C90063:times=2",
     {"method": "POST", "path": "*/uploadSecret", "status": "400", "code": "AADB2C90063",
      "times": "2"}),
    ("*:re:/keySets\\('B2C_1A_[^']*'\\)$:reset:p=0.25:seed=3",
     {"method": "*", "path": "re:/keySets\\('B2C_1A_[^']*'\\)$", "reset": True,
      "probability": "0.25", "seed": "3"}),
    ("GET:*:status=429:retry_after=1.5:times=*", {"method": "GET", "path": "*", "status": "429",
                                                  "retry_after": "1.5", "times": "*"}),
    ("DELETE:*:commit_then_drop:delay=0.5", {"method": "DELETE", "path": "*",
                                             "commit_then_drop": True, "delay": "0.5"}),
    ("GET:re:^/a:b$:delay=2", {"method": "GET", "path": "re:^/a:b$", "delay": "2"}),
])
def test_fault_spec_parses(spec, expected):
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize("spec, reason", [
    ("POST:*/uploadSecret", "no effect found after METHOD:PATH"),
    ("POST:*:status=200", "status must be from 400 to 599"),
    ("POST:*:status=abc", "status must be a number"),
    ("GET:*:reset:colour=red", "unknown or repeated option 'colour=red'"),
    ("GET:*:reset:times=0", "times must be at least 1"),
    ("GET:*:reset:p=2", "probability must be above 0 and at most 1"),
    ("GET:*:reset:code=X", "code, message and retry_after go with a status effect only"),
    ("GET:re:(:reset", "path regex '(' is not valid"),
    ("GE T:*:reset", "method must be an HTTP method or *"),
])
def test_fault_spec_errors_say_what_is_wrong(spec, reason):
    with pytest.raises(ValueError, match="bad fault spec") as caught:
        parse_fault_spec(spec)
    assert reason in str(caught.value)


def test_emulator_command_takes_faults_throttle_and_latency(emulator_process):
    env = emulator_process(
        "--throttle-app-rpm", "7", "--time-scale", "60", "--no-retry-after",
        "--latency-ms", "5", "--jitter-ms", "2",
        "--fault", "POST:*/uploadSecret:status=400:code=AADB2C90063:times=2",
        "--fault", "GET:*:reset:p=0.1:seed=4")
    base, ca = env["B2CKEYS_GRAPH_URL"], env["B2CKEYS_CA_BUNDLE"]
    config = requests.get(f"{base}/_emulator/config", verify=ca).json()
    assert config["throttle"] == {"enabled": True, "app_per_minute": 7, "tenant_per_minute": 300,
                                  "time_scale": 60.0, "retry_after": False}
    assert config["latency"] == {"fixed_ms": 5.0, "jitter_ms": 2.0, "seed": 0}
    rules = requests.get(f"{base}/_emulator/faults", verify=ca).json()["faults"]
    assert [(r["effect"], r["times"], r["probability"]) for r in rules] == [
        ("status", 2, None), ("reset", None, 0.1)]
    bad = subprocess.run([sys.executable, "-m", "reconciler", "emulator", "--fault", "GET:*"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert bad.returncode == 1 and "argument --fault: bad fault spec 'GET:*'" in bad.stderr
