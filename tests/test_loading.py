"""Large manifest sets load in a thread while `plan` and `drift` sign in and read the
tenant, with everything loading first guarantees kept: the tenant guard before any
key-set call, the same errors word for word, the manifests' errors first, the same plan.

The CLI tests run b2ckeys as a process of its own, as a pipeline does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.core.errors import ManifestError
from reconciler.manifest.background import OVERLAP_MIN_BYTES, _InThread
from reconciler.manifest.files import find_manifest_files
from reconciler.manifest.reader import load_manifests
from reconciler.manifest.state import load_state
from reconciler.manifest.tenantscan import UNKNOWN, _top_level_tenant, declared_tenant

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
try:
    import workload
finally:
    sys.path.pop(0)

BIG = 1300  # key sets: a little over OVERLAP_MIN_BYTES of manifests
OVERLAPPED = "in a thread while the tenant is read"  # what --debug says
WRONG_TENANT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def big(tmp_path) -> Path:
    folder = tmp_path / "manifests"
    workload.write_manifests(str(folder), BIG)
    assert sum(f.stat().st_size for f in folder.iterdir()) >= OVERLAP_MIN_BYTES
    return folder


def b2ckeys(emu, *args: str, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "B2CKEYS_", "REQUESTS_CA", "CURL_CA"))}
    env.update({k: v for k, v in emu.env.items() if k not in drop})
    env.update(NO_COLOR="1", B2CKEYS_MAX_RPM="100000")
    return subprocess.run([sys.executable, "-m", "reconciler", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def with_first_lines(folder: Path, *lines: str) -> None:
    first = sorted(folder.iterdir())[0]
    text = first.read_text().replace("version: 1\n", "version: 1\n" + "".join(f"{line}\n" for line in lines), 1)
    first.write_text(text)


# -- the CLI ------------------------------------------------------------------------------

def test_plan_while_loading_prints_what_loading_first_prints(emu, big, capsys, monkeypatch):
    emu.config.update({"page_size": 250})
    emu.seed(workload.tenant(BIG)[:1200])  # 100 key sets left to create
    overlapped = b2ckeys(emu, "--debug", "plan", "--detailed-exitcode", str(big))
    assert overlapped.returncode == 2, overlapped.stderr[-2000:]
    assert OVERLAPPED in overlapped.stderr

    monkeypatch.setattr("reconciler.manifest.background.OVERLAP_MIN_BYTES", 1 << 40)  # load first here
    assert main(["plan", "--detailed-exitcode", str(big)], environ={**emu.env, "NO_COLOR": "1"}) == 2
    assert overlapped.stdout == capsys.readouterr().out
    missing = workload.tenant(BIG)[1200:]
    keys = sum(len(keyset["keys"]) for keyset in missing)
    assert f"Plan: {len(missing)} key sets to create, {keys} keys to add." in overlapped.stdout


def test_drift_while_loading(emu, big):
    emu.config.update({"page_size": 250})
    done = b2ckeys(emu, "--debug", "drift", str(big))
    assert OVERLAPPED in done.stderr
    assert done.returncode == 2 | 8, done.stderr[-2000:]  # every key set is missing: pending, and a key problem


@pytest.mark.parametrize("lines", [
    [f"tenant: {WRONG_TENANT}"],  # read by the pre-scan
    [f"<<: {{tenant: '{WRONG_TENANT}'}}"],  # through a merge key: the pre-scan cannot tell, the whole load is waited for
], ids=["pre-scanned", "merge-key"])
def test_the_tenant_guard_runs_before_any_key_set_call(emu, big, lines):
    with_first_lines(big, *lines)
    done = b2ckeys(emu, "--debug", "plan", str(big))
    assert OVERLAPPED in done.stderr
    assert done.returncode == 1
    assert "wrong tenant" in done.stderr and WRONG_TENANT in done.stderr
    assert emu.stats()["graph_requests"] == 0


def test_manifest_errors_come_first_and_are_the_same_words(emu, big):
    last = sorted(big.iterdir())[-1]
    last.write_text(last.read_text() + "  - name: Empty\n    keys: []\n")
    done = b2ckeys(emu, "--debug", "plan", str(big), drop=("AZURE_TENANT_ID",))  # sign-in fails too
    assert OVERLAPPED in done.stderr
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "must list at least one key" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{last}:")
    assert "AZURE_TENANT_ID" not in done.stderr
    with pytest.raises(ManifestError) as caught:
        load_state([str(big)], {})
    assert lines[0] in caught.value.lines()
    assert emu.stats()["graph_requests"] == 0


def test_small_manifest_sets_load_first(emu, tmp_path):
    workload.write_manifests(str(tmp_path), 10)
    done = b2ckeys(emu, "--debug", "plan", str(tmp_path))
    assert done.returncode == 0 and OVERLAPPED not in done.stderr


# -- the loading thread itself -------------------------------------------------------------

def test_the_thread_gives_what_loading_first_gives(big):
    with_first_lines(big, "tenant: contoso.onmicrosoft.com")
    (big / "zz-starter.yaml").write_text((ROOT / "examples" / "starter-pack.yaml").read_text())
    policies = [str(ROOT / "tests" / "fixtures" / "policies")]  # policy references cross too

    def load():
        return load_state([str(big)], {}, policies=policies)

    with _InThread(load, find_manifest_files([str(big)])) as loading:
        assert loading.tenant() == "contoso.onmicrosoft.com"
        state, warnings = loading.result()
    assert state.references and (state, warnings) == load()


def test_the_thread_s_errors_are_raised_in_the_caller_and_the_interval_restored(big):
    files = find_manifest_files([str(big)])
    before = sys.getswitchinterval()
    wrong = ManifestError.at(None, "what the load found")

    def fail():
        assert sys.getswitchinterval() < before  # the listing gets the GIL often while this runs
        raise wrong

    with _InThread(fail, files) as loading:
        with pytest.raises(ManifestError) as caught:
            loading.result()
    assert caught.value is wrong and sys.getswitchinterval() == before


def test_manifests_that_change_while_read_are_refused(big):
    files = find_manifest_files([str(big)])
    with_first_lines(big, "tenant: contoso.onmicrosoft.com")
    real = load_state([str(big)], {})
    other = (real[0].__class__(real[0].keysets, "fabrikam.onmicrosoft.com", real[0].sources), real[1])
    with _InThread(lambda: other, files) as loading:
        assert loading.tenant() == "contoso.onmicrosoft.com"
        with pytest.raises(ManifestError, match="changed while they were read"):
            loading.result()


# -- the tenant pre-scan -------------------------------------------------------------------

@pytest.mark.parametrize("text, tenant", [
    ("version: 1\ntenant: contoso.onmicrosoft.com\nkeySets: []\n", "contoso.onmicrosoft.com"),
    ("version: 1\nkeySets: [{name: a, tenant: x.com}]\ntenant: 'b.com'\n", "b.com"),  # after keySets
    ("keySets:\n  - tenant: f.com\n", None),  # not at the top
    (f"tenant: {WRONG_TENANT}\n", WRONG_TENANT),
    ("{version: 1, tenant: i.com}", "i.com"),
    ("'<<': 1\ntenant: d.com\n", "d.com"),  # a quoted << is a plain key
    ("x: [\ntenant: 1]\ntenant: k.com\n", "k.com"),
    ("a: &x {tenant: c.com}\n<<: *x\n", UNKNOWN),  # a merge key could bring one
    ("tenant: 123\n", UNKNOWN),
    ("tenant: !!str e.com\n", UNKNOWN),
    ("tenant: e.com\ntenant: e.com\n", UNKNOWN),
    ("- a\n", UNKNOWN),
    ("x: 1\n---\ntenant: g.com\n", UNKNOWN),
    ("? [a]\n: 1\ntenant: h.com\n", UNKNOWN),
    ("*a : 1\n", UNKNOWN),
    ('tenant: "j.com\\n"\n', UNKNOWN),  # the schema's pattern would pass it ($): exactness first
])
def test_pre_scan(text, tenant):
    assert _top_level_tenant(text) == tenant


def test_pre_scan_over_files(tmp_path):
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    a.write_text("version: 1\ntenant: Contoso.onmicrosoft.com\nkeySets: []\n")
    b.write_text("version: 1\ntenant: contoso.onmicrosoft.com\nkeySets: []\n")
    c.write_text("version: 1\ntenant: fabrikam.onmicrosoft.com\nkeySets: []\n")
    assert declared_tenant([str(a), str(b)]) == "Contoso.onmicrosoft.com"  # the first, as the merge keeps it
    assert declared_tenant([str(a), str(c)]) == UNKNOWN  # the whole load reports the disagreement
    assert declared_tenant([str(tmp_path / "gone.yaml")]) == UNKNOWN


FIXTURES = sorted(p for d in ("examples", "manifests", "tests/fixtures/manifests") for p in (ROOT / d).rglob("*.y*ml"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pre_scan_agrees_with_the_whole_load(path):
    told = declared_tenant([str(path)])
    try:
        loaded = load_manifests([str(path)]).state.tenant
    except ManifestError:
        return  # the command stops on the errors; no plan is made with either answer
    assert told in (UNKNOWN, loaded)


def test_ctrl_c_while_loading_ends_the_command_at_once(big):
    import signal
    import time

    from reconciler.emulator import Emulator

    with Emulator(faults=["GET:*/openid-configuration:delay=6"]) as slow:  # b2ckeys stays in sign-in
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "B2CKEYS_", "REQUESTS_CA", "CURL_CA"))}
        process = subprocess.Popen([sys.executable, "-m", "reconciler", "--debug", "plan", str(big)], cwd=ROOT,
                                   env={**env, **slow.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        signing_in_while_loading(process, slow)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        _, err = process.communicate(timeout=30)  # the 6 s delay is not waited for, nor the load
    assert process.returncode == 130 and err.strip().endswith("interrupted")
    assert OVERLAPPED in err
    deadline = time.monotonic() + 5
    while group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert group_members(process.pid) == []


def signing_in_while_loading(process: subprocess.Popen, emulator, timeout: float = 60) -> None:
    """Waits, without guessing a time, for the moment to press Ctrl-C: b2ckeys is signing in
    (the emulator took its delayed openid-configuration request), so the load was started
    beside it."""
    import time

    deadline = time.monotonic() + timeout
    while not emulator.stats()["faults"].get("delay"):
        assert process.poll() is None, f"b2ckeys ended first: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"not signing in while loading after {timeout} s"
        time.sleep(0.01)


def group_members(group: int) -> list[int]:
    """The live processes of a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
                members.append(int(entry))
    return members


def test_warnings_are_shown_when_signing_in_fails(tmp_path, capsys):
    (tmp_path / "empty.yaml").write_text("version: 1\nkeySets: []\n")
    assert main(["plan", str(tmp_path)], environ={}) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("warning: this manifest declares no key sets")
    assert err[1].startswith("error: no credential")
