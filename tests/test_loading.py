"""Large manifest sets load in a process of their own while `plan` and `drift` sign in
and read the tenant (issue 7, reconciler/loading.py), with everything one process
guarantees kept: the tenant guard before any key-set call, the same errors word for
word, the manifests' errors first, the same plan.

The CLI tests run b2ckeys as a process of its own (the pytest process has the
emulator's threads, and b2ckeys never forks a process with threads).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.core.errors import ManifestError
from reconciler.manifest.background import PROCESS_MIN_BYTES, _InChild
from reconciler.manifest.reader import load_manifests
from reconciler.manifest.files import find_manifest_files
from reconciler.manifest.state import load_state
from reconciler.manifest.tenantscan import UNKNOWN, _top_level_tenant, declared_tenant

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
try:
    import workload
finally:
    sys.path.pop(0)

BIG = 1300  # key sets: a little over PROCESS_MIN_BYTES of manifests
FORKED = "in a process of their own"
WRONG_TENANT = "00000000-0000-4000-8000-000000000001"
needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the second process is Linux-only")


@pytest.fixture
def big(tmp_path) -> Path:
    folder = tmp_path / "manifests"
    workload.write_manifests(str(folder), BIG)
    assert sum(f.stat().st_size for f in folder.iterdir()) >= PROCESS_MIN_BYTES
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

@needs_fork
def test_plan_in_two_processes_prints_what_one_process_prints(emu, big, capsys):
    emu.config.update({"page_size": 250})
    emu.seed(workload.tenant(BIG)[:1200])  # 100 key sets left to create
    forked = b2ckeys(emu, "--debug", "plan", "--detailed-exitcode", str(big))
    assert forked.returncode == 2, forked.stderr[-2000:]
    assert FORKED in forked.stderr

    assert main(["plan", "--detailed-exitcode", str(big)], environ={**emu.env, "NO_COLOR": "1"}) == 2
    assert forked.stdout == capsys.readouterr().out  # in-process here: the emulator's threads run
    missing = workload.tenant(BIG)[1200:]
    keys = sum(len(keyset["keys"]) for keyset in missing)
    assert f"Plan: {len(missing)} key sets to create, {keys} keys to add." in forked.stdout


@needs_fork
def test_drift_in_two_processes(emu, big):
    emu.config.update({"page_size": 250})
    done = b2ckeys(emu, "--debug", "drift", str(big))
    assert FORKED in done.stderr
    assert done.returncode == 2, done.stderr[-2000:]  # changes pending: every key set is missing


@needs_fork
@pytest.mark.parametrize("lines", [
    [f"tenant: {WRONG_TENANT}"],  # read by the pre-scan
    [f"<<: {{tenant: '{WRONG_TENANT}'}}"],  # through a merge key: the pre-scan cannot tell, the whole load is waited for
], ids=["pre-scanned", "merge-key"])
def test_the_tenant_guard_runs_before_any_key_set_call(emu, big, lines):
    with_first_lines(big, *lines)
    done = b2ckeys(emu, "--debug", "plan", str(big))
    assert FORKED in done.stderr
    assert done.returncode == 1
    assert "wrong tenant" in done.stderr and WRONG_TENANT in done.stderr
    assert emu.stats()["graph_requests"] == 0


@needs_fork
def test_manifest_errors_come_first_and_are_the_same_words(emu, big):
    last = sorted(big.iterdir())[-1]
    last.write_text(last.read_text() + "  - name: Empty\n    keys: []\n")
    done = b2ckeys(emu, "--debug", "plan", str(big), drop=("AZURE_TENANT_ID",))  # sign-in fails too
    assert FORKED in done.stderr
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "must list at least one key" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{last}:")
    assert "AZURE_TENANT_ID" not in done.stderr
    with pytest.raises(ManifestError) as caught:
        load_state([str(big)], {})
    assert lines[0] in caught.value.lines()
    assert emu.stats()["graph_requests"] == 0


def test_small_manifest_sets_load_first_and_in_this_process(emu, tmp_path):
    workload.write_manifests(str(tmp_path), 10)
    done = b2ckeys(emu, "--debug", "plan", str(tmp_path))
    assert done.returncode == 0 and FORKED not in done.stderr


# -- the second process itself -------------------------------------------------------------

@needs_fork
def test_the_child_gives_what_loading_here_gives(big):
    with_first_lines(big, "tenant: contoso.onmicrosoft.com")
    (big / "zz-starter.yaml").write_text((ROOT / "examples" / "starter-pack.yaml").read_text())
    policies = [str(ROOT / "tests" / "fixtures" / "policies")]  # policy references cross too

    def load():
        return load_state([str(big)], {}, policies=policies)

    with _InChild(load, find_manifest_files([str(big)])) as loading:
        assert loading.tenant() == "contoso.onmicrosoft.com"
        state, warnings = loading.result()
    assert state.references and (state, warnings) == load()


@needs_fork
def test_a_child_that_dies_is_replaced_by_loading_here(big):
    parent = os.getpid()
    loads = []

    def load():
        if os.getpid() != parent:
            os._exit(3)  # the child dies before it sends anything
        loads.append(parent)
        return load_state([str(big)], {})

    with _InChild(load, find_manifest_files([str(big)])) as loading:
        state, _ = loading.result()
    assert len(state.keysets) == BIG and loads == [parent]


@needs_fork
def test_manifests_that_change_while_read_are_refused(big):
    files = find_manifest_files([str(big)])
    with_first_lines(big, "tenant: contoso.onmicrosoft.com")
    real = load_state([str(big)], {})
    other = (real[0].__class__(real[0].keysets, "fabrikam.onmicrosoft.com", real[0].sources), real[1])
    with _InChild(lambda: other, files) as loading:
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


@needs_fork
def test_ctrl_c_ends_both_processes(big):
    import signal
    import time

    from reconciler.emulator import Emulator

    with Emulator(faults=["GET:*/openid-configuration:delay=6"]) as slow:  # the parent stays in sign-in
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "B2CKEYS_", "REQUESTS_CA", "CURL_CA"))}
        process = subprocess.Popen([sys.executable, "-m", "reconciler", "plan", str(big)], cwd=ROOT,
                                   env={**env, **slow.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        time.sleep(1.5)  # the child has loaded by now, and waits for the parent to take the state
        group = group_members(process.pid)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        _, err = process.communicate(timeout=30)
    assert len(group) == 2
    assert process.returncode == 130 and err.strip().endswith("interrupted")
    time.sleep(0.2)
    assert group_members(process.pid) == []


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
