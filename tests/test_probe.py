"""`b2ckeys probe` through the real CLI against the emulator: with each reading switched on it
finds exactly that reading, with none it finds none; it leaves nothing in the tenant (no .bak
either), also when a step fails; the secrets it uploads never show; it asks before writing;
and its --out file is what `b2ckeys emulator --readings-from FILE` takes."""

import io
import json
import sys

import pytest
import requests

from helpers.cli import graph_calls, run, writes

SWITCHES = ["prefix-doubled", "conflict-409", "not-found-404", "getactivekey-404", "getactivekey-no-kid",
            "default-dates", "list-without-keys", "delete-without-bak"]
PAGING = ["page-size", "next-link"]
OTHERS = [{"id": f"B2C_1A_Other{n}", "keys": []} for n in range(3)]  # enough for two pages of 2


def probe(capsys, env, tmp_path, *extra):
    tmp_path.mkdir(exist_ok=True)
    out_file = tmp_path / "readings.json"
    code, out, err = run(capsys, ["probe", "--auto-approve", "--out", str(out_file), *extra], env)
    return code, out, err, json.loads(out_file.read_text())


def ids(emu):
    return [keyset["id"] for keyset in emu.state()["keySets"]]


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("reading", [None, *SWITCHES])
def test_it_finds_exactly_the_reading_switched_on_and_leaves_nothing(emu, env, capsys, tmp_path, reading):
    emu.config.update({"readings": [reading] if reading else []})
    code, out, err, data = probe(capsys, env, tmp_path)
    assert code == 0, err
    assert data["version"] == 1
    assert data["readings"] == ([reading] if reading else [])
    assert data["undetermined"] == PAGING  # one key set of its own: too few to tell
    assert ids(emu) == []
    assert data["requests"] == len(graph_calls(emu)) == (14 if reading == "delete-without-bak" else 15)
    assert (f"Readings that differ from the emulator's defaults: {reading}" if reading else
            "No reading differs from the emulator's defaults") in out


@pytest.mark.parametrize("readings, found", [
    ([], []),
    (["relative-next-link"], ["relative-next-link"]),
    (["page-size=3"], ["page-size=3"]),
])
def test_a_tenant_with_two_pages_shows_the_page_size_and_the_next_link(emu, env, capsys, tmp_path, readings, found):
    emu.seed(OTHERS)
    emu.config.update({"readings": readings})
    code, out, err, data = probe(capsys, env, tmp_path)
    assert code == 0, err
    assert data["readings"] == found
    assert data["undetermined"] == []
    assert ids(emu) == [k["id"] for k in OTHERS]  # the tenant's own key sets, untouched
    assert writes(emu) and all("Other" not in r["path"] for r in writes(emu))


def test_it_measures_a_read_after_write_lag_in_whole_seconds(emu, env, capsys, tmp_path):
    emu.config.update({"readings": ["read-lag=1"]})
    code, out, err, data = probe(capsys, env, tmp_path)
    assert code == 0, err
    assert data["readings"] == ["read-lag=1"]
    lags = data["questions"]["read-lag"]["facts"]  # what: [not yet at, there at (s after the write), reads]
    assert set(lags) == {"create, then GET", "key 1 added, then GET", "key 2 added, then GET",
                         "key 2 added, then the list", "DELETE, then GET .bak"}
    assert all(0.9 < high < 3 for low, high, reads in lags.values())  # each write lagged, the .bak's too
    assert 0.5 < max(low for low, high, reads in lags.values()) < 1
    assert "read-lag=1" in out
    assert ids(emu) == []


def test_a_lag_longer_than_the_probe_waits_is_reported_and_cleaned_up(emu, env, capsys, tmp_path):
    emu.config.update({"readings": ["read-lag=2"]})
    env["B2CKEYS_TIME_SCALE"] = "60"  # the probe waits 60 s / 60 = 1 s for a write to show
    code, out, err, data = probe(capsys, env, tmp_path)
    assert code == 1
    assert "did not show in GET within 1 s" in err
    lag = data["questions"]["read-lag"]
    assert lag["determined"] is False and "not seen within 1 s" in lag["observed"]
    assert data["readings"] == [] and "read-lag" in data["undetermined"]
    assert len(data["deleted"]) == 2 and ids(emu) == []  # the .bak GET could not see yet, deleted too


def test_a_failed_step_still_deletes_what_was_made(emu, env, capsys, tmp_path):
    emu.faults.add({"method": "POST", "path": "*/uploadSecret", "status": 500, "times": None})
    try:
        code, out, err, data = probe(capsys, env, tmp_path)
    finally:
        emu.faults.clear()
    assert code == 1
    assert "error: the probe stopped early, at uploading" in err and "HTTP 500" in err
    assert ids(emu) == []
    assert data["failure"] and data["readings"] == []
    assert data["questions"]["getactivekey-none"]["observed"].startswith("not reached")
    assert data["questions"]["prefix"]["determined"] and data["questions"]["delete-bak"]["determined"] is False
    assert len(data["deleted"]) == 2  # the key set and its .bak


def test_a_create_whose_answer_was_lost_is_still_deleted(emu, env, capsys, tmp_path):
    emu.faults.add({"method": "POST", "path": "/beta/trustFramework/keySets", "commit_then_drop": True, "times": 1})
    try:
        code, out, err, data = probe(capsys, env, tmp_path)
    finally:
        emu.faults.clear()
    assert code == 1 and "creating" in err
    assert ids(emu) == []
    assert [name.endswith(".bak") for name in data["deleted"]] == [False, True]


def test_the_uploaded_secrets_never_show(emu, env, capsys, tmp_path):
    sent = []

    def keep_secret(ctx):
        if ctx.request.path.endswith("/uploadSecret"):
            sent.append(json.loads(ctx.request.body)["k"])

    emu.pipeline.before_request.append(keep_secret)
    try:
        code, out, err, data = probe(capsys, env, tmp_path, "--debug")
    finally:
        emu.pipeline.clear()
    assert code == 0, err
    assert len(set(sent)) == 2
    shown = out + err + (tmp_path / "readings.json").read_text()
    assert "uploadSecret" in err  # --debug logged those requests
    assert not [secret for secret in sent if secret in shown or secret[:16] in shown]


def test_without_a_terminal_and_without_auto_approve_it_refuses(emu, env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))  # not a terminal
    code, out, err = run(capsys, ["probe"], env)
    assert code == 1
    assert "--auto-approve" in err and "nothing was changed" in err
    assert graph_calls(emu) == []


def test_on_a_terminal_it_asks_and_only_yes_goes_on(emu, env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Terminal("no\n"))
    code, out, err = run(capsys, ["probe"], env)
    assert code == 1 and "probe cancelled; nothing was changed" in err
    assert "Only 'yes' is accepted" in out
    assert writes(emu) == []

    monkeypatch.setattr(sys, "stdin", Terminal("yes\n"))
    code, out, err = run(capsys, ["probe"], env)
    assert code == 0, err
    assert "No reading differs" in out and ids(emu) == []


def test_it_needs_the_write_permission(emu, env, capsys):
    emu.config.update({"roles": ["TrustFrameworkKeySet.Read.All"]})
    code, out, err = run(capsys, ["probe", "--auto-approve"], env)
    assert code == 1
    assert "missing permission: 'b2ckeys probe' needs" in err and "ReadWrite.All" in err
    assert graph_calls(emu) == []


def test_the_out_file_makes_the_emulator_follow_the_probed_tenant(emu, env, capsys, tmp_path, emulator_process):
    emu.seed(OTHERS)
    probed = ["conflict-409", "not-found-404", "relative-next-link", "page-size=3"]
    emu.config.update({"readings": probed})
    code, out, err, data = probe(capsys, env, tmp_path)
    assert code == 0, err
    assert sorted(data["readings"]) == sorted(probed)
    assert "b2ckeys emulator --readings-from" in out

    # b2ckeys emulator --readings-from FILE, as its own process: probed again, it answers the same
    started = emulator_process("--readings-from", str(tmp_path / "readings.json"))
    requests.post(started["B2CKEYS_GRAPH_URL"] + "/_emulator/seed", json={"keySets": OTHERS},
                  verify=started["B2CKEYS_CA_BUNDLE"]).raise_for_status()
    there = {k: v for k, v in env.items() if not k.startswith(("AZURE_", "B2CKEYS_"))} | started
    code, out, err, again = probe(capsys, there, tmp_path / "again")
    assert code == 0, err
    assert again["readings"] == data["readings"]


def test_a_lag_is_whole_seconds_rounded_up_and_only_past_half_a_second():
    from reconciler.graph.probe_findings import read_lag
    from reconciler.graph.probing import Lag

    assert read_lag([Lag("create", 0.0, 0.1, 1), Lag("key", 0.4, 0.6, 3)]).reading is None
    assert read_lag([Lag("create", 0.0, 0.1, 1), Lag("key", 2.3, 2.6, 9)]).reading == "read-lag=3"
    assert read_lag([Lag("create", 1.8, 2.05, 8)]).reading == "read-lag=2"
    timed_out = read_lag([Lag("create", 60.0, 60.0, 40, timed_out=True)])
    assert not timed_out.determined and "create: not seen within 60 s" in timed_out.observed


def test_the_page_size_it_takes_for_the_default_is_the_emulators():
    from reconciler.emulator.config import Settings
    from reconciler.graph.probe_findings import EMULATOR_PAGE_SIZE

    assert Settings().page_size == EMULATOR_PAGE_SIZE


def test_the_json_example_in_the_command_reference_has_the_real_shape(emu, env, capsys, tmp_path):
    from helpers.cli import ROOT

    section = (ROOT / "docs" / "commands.md").read_text().split("## `b2ckeys probe`", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    real = probe(capsys, env, tmp_path)[3]
    assert example.keys() == real.keys()
    for name, question in example["questions"].items():
        assert question.keys() == real["questions"][name].keys()
        assert question["facts"].keys() == real["questions"][name]["facts"].keys()
