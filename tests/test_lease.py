"""The tenant lease: two applies never write at once; a killed holder's lease is released by
force-unlock or taken over once it expired; plan and drift never take it; --lock=false
takes none. Through the real CLI (in-process and as processes) against the emulator."""

import signal
import subprocess
import sys
import time

import pytest

from helpers.cli import ROOT, run
from reconciler.core.errors import LeaseHeld, LeaseLost
from reconciler.graph.lease import LEASE_KEYSET_ID, Lease, force_unlock, read_lease
from reconciler.render.text import render_report
from reconciler.session import Session
from reconciler.session.leasing import LeaseOptions

MANIFEST = """\
version: 1
keySets:
  - name: Signing
    keys:
      - {kind: generate, kty: RSA, use: sig}
  - name: Encryption
    keys:
      - {kind: generate, kty: RSA, use: enc}
  - name: Shared
    keys:
      - {kind: generate, kty: oct, use: sig, nbf: 2026-01-01T00:00:00Z}
      - {kind: generate, kty: oct, use: sig, nbf: 2026-06-01T00:00:00Z}
"""


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(MANIFEST)
    return str(path)


def lease_sets(emu):
    return [ks["id"] for ks in emu.state()["keySets"] if ks["id"].lower().startswith(LEASE_KEYSET_ID.lower())]


def key_counts(emu):
    return {ks["id"]: len(ks["keys"]) for ks in emu.state()["keySets"]}


def client_for(env):
    return Session(env).connect(None, command="apply", write=True)


def apply_process(env, manifest, *extra):
    return subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve", manifest, *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("timeout", ["0", "60s"])
def test_two_applies_at_once_never_add_a_key_twice(emu, env, manifest, timeout):
    emu.config.update({"latency": {"fixed_ms": 50}})
    for _ in range(3):
        emu.reset()
        emu.config.update({"latency": {"fixed_ms": 50}})
        first, second = (apply_process(env, manifest, "--lock-timeout", timeout) for _ in range(2))
        results = [(p.wait(timeout=120), *p.communicate()) for p in (first, second)]
        assert key_counts(emu) == {"B2C_1A_Encryption": 1, "B2C_1A_Shared": 2, "B2C_1A_Signing": 1}
        codes = sorted(code for code, _, _ in results)
        if timeout == "0":  # the one that found the lease held failed at once, naming its holder
            assert codes in ([0, 0], [0, 1])
            for code, out, err in results:
                if code == 1:
                    assert "another run holds the tenant lease" in err and "force-unlock" in err
                    assert "Apply complete" not in out
        else:  # the second waited, then planned against the finished tenant: nothing left to do
            assert codes == [0, 0]
            assert any("No changes" in out for _, out, _ in results)
        assert lease_sets(emu) == []


def test_a_killed_holders_lease_names_it_and_force_unlock_releases_it(emu, env, manifest, capsys):
    client = client_for(env)
    killed = Lease(client, holder="apply by someone@elsewhere pid 4242", run="GitHub contoso/keys run 7")
    killed.acquire()  # and never released: its process was killed
    code, out, err = run(capsys, ["apply", "--auto-approve", manifest], env)
    assert code == 1
    assert f"lock ID {killed.lock_id}" in err
    assert "held by apply by someone@elsewhere pid 4242 (GitHub contoso/keys run 7)" in err
    assert f"b2ckeys force-unlock {killed.lock_id}" in err
    assert key_counts(emu) == {LEASE_KEYSET_ID: 1}  # nothing else was written

    code, _, err = run(capsys, ["force-unlock", "not-the-id", "--force"], env)
    assert code == 1 and "nothing was released" in err
    code, _, err = run(capsys, ["force-unlock", killed.lock_id], env)  # no terminal to confirm on
    assert code == 1 and "--force" in err
    code, out, _ = run(capsys, ["force-unlock", killed.lock_id, "--force"], env)
    assert code == 0 and f"Released the tenant lease: lock ID {killed.lock_id}" in out
    assert lease_sets(emu) == []  # the .bak its delete may leave is gone too

    code, out, _ = run(capsys, ["apply", "--auto-approve", manifest], env)
    assert code == 0 and "Apply complete" in out
    assert lease_sets(emu) == []


def test_an_expired_lease_is_taken_over(emu, env, manifest, capsys):
    scaled = {**env, "B2CKEYS_TIME_SCALE": "120"}  # a lease of 600 s lasts 5 s; clocks may differ by 0.5 s
    gone = Lease(client_for(scaled), holder="apply by killed@host pid 1")
    gone.acquire()
    code, _, err = run(capsys, ["apply", "--auto-approve", manifest], scaled)
    assert code == 1 and "another run holds the tenant lease" in err
    started = time.monotonic()
    code, out, err = run(capsys, ["apply", "--auto-approve", "--lock-timeout", "60s", manifest], scaled)
    assert code == 0, err
    assert "Waiting up to 60 s for the tenant lease: lock ID" in err
    assert time.monotonic() - started >= 2.5  # it waited for the expiry, not less
    assert key_counts(emu) == {"B2C_1A_Encryption": 1, "B2C_1A_Shared": 2, "B2C_1A_Signing": 1}
    with pytest.raises(LeaseLost):
        gone.renew()  # the killed holder, were it to come back, finds it lost


def test_a_lease_taken_over_by_force_unlock_stops_its_holder(emu, env):
    client = client_for(env)
    lease = Lease(client, holder="apply by a@b pid 1")
    lease.acquire()
    assert read_lease(client).lock_id == lease.lock_id
    force_unlock(client, lease.lock_id)
    other = Lease(client, holder="apply by c@d pid 2")
    other.acquire()
    with pytest.raises(LeaseLost, match="taken over"):
        lease.renew()
    with pytest.raises(LeaseLost):
        lease.release()  # and it leaves the other run's lease alone
    assert read_lease(client).lock_id == other.lock_id
    with pytest.raises(LeaseHeld, match="held by apply by c@d pid 2"):
        Lease(client, holder="apply by e@f pid 3").acquire()
    other.release()
    assert lease_sets(emu) == []


def test_plan_and_drift_take_no_lease_and_lock_false_takes_none(emu, env, manifest, capsys):
    for argv in (["plan", manifest], ["drift", manifest]):
        run(capsys, argv, env)
    code, out, err = run(capsys, ["apply", "--auto-approve", "--lock=false", manifest], env)
    assert code == 0 and "--lock=false" in err and "unsafe" not in out
    creates = [r for r in emu.requests() if r["method"] == "POST" and r["path"].endswith("/keySets")]
    assert len(creates) == 3  # the three key sets; never the lease
    assert lease_sets(emu) == []


def test_sigterm_gives_the_lease_back(emu, env, manifest):
    emu.faults.add({"method": "POST", "path": "*/generateKey", "effect": "delay", "delay": 1.5, "times": "*"})
    process = apply_process(env, manifest, "--parallelism", "1")
    deadline = time.monotonic() + 30
    while not lease_sets(emu) or not any(r["path"].endswith("/generateKey") for r in emu.requests()):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM" in err
    assert lease_sets(emu) == []


def test_session_apply_of_a_plan_made_without_the_lease_refuses_a_changed_tenant(emu, env, manifest):
    session = Session(env)
    planned = session.plan([manifest])
    emu.seed([{"id": "B2C_1A_Signing", "keys": [{"kty": "RSA", "use": "sig"}]}])  # another run, meanwhile
    from reconciler.core.errors import ApplyRefused

    with pytest.raises(ApplyRefused, match="the tenant changed since this plan was made"):
        session.apply(planned)
    assert key_counts(emu) == {"B2C_1A_Signing": 1}  # nothing written, the lease given back


def test_a_create_answered_already_exists_reads_the_set_before_adding_keys(emu, env, manifest):
    # as with --lock=false; the key set another run made is read after a short settle window
    session = Session({**env, "B2CKEYS_SETTLE_SECONDS": "0.5"}, lease=LeaseOptions(enabled=False))
    planned = session.plan([manifest])
    # another run made a key set and one of its keys after the plan was read
    emu.seed([{"id": "B2C_1A_Shared", "keys": [{"kty": "oct", "use": "sig", "nbf": 1767225600}]}])
    report = session.apply(planned)
    assert report.ok, report
    shared = [o for o in report.outcomes if o.change.keyset_id == "B2C_1A_Shared"]
    assert "already existed" in shared[0].detail
    assert [o.detail.endswith("already there, not added again") for o in shared[1:]] == [True, False]
    assert [o.found for o in shared] == [True, True, False]  # the summary does not count them as made
    assert render_report(report).startswith(
        "Apply complete: 2 key sets created, 3 keys added; 2 changes found made already.")
    assert key_counts(emu) == {"B2C_1A_Shared": 2, "B2C_1A_Encryption": 1, "B2C_1A_Signing": 1}


def test_apply_reports_a_duplicate_it_finds_in_a_key_set_it_touched(emu, env, manifest, capsys):
    twice = {"kty": "oct", "use": "sig", "nbf": 1767225600}  # the 2026-01-01 key, present twice already
    emu.seed([{"id": "B2C_1A_Shared", "keys": [dict(twice, kid="first"), dict(twice, kid="second")]}])
    code, out, err = run(capsys, ["apply", "--auto-approve", manifest], env)
    assert code == 1
    assert "B2C_1A_Shared" in err and "first" in err and "second" in err
    assert key_counts(emu)["B2C_1A_Shared"] == 3  # the 2026-06-01 key was added; nothing else


def test_the_lease_is_renewed_while_held(emu, env):
    client = client_for({**env, "B2CKEYS_TIME_SCALE": "300"})  # ttl 2 s: renewed every 0.67 s
    lease = Lease(client, holder="apply by r@h pid 9")
    lease.acquire()
    first = read_lease(client)
    lost = []
    lease.start_renewing(lost.append)
    time.sleep(lease.ttl / 3 * 2.5)
    renewed = read_lease(client)
    lease.release()
    assert lost == []
    assert renewed.lock_id == first.lock_id and renewed.expires > first.expires
    assert lease_sets(emu) == []



def test_the_holder_named_by_a_hostile_lease_is_shown_escaped(emu, env, manifest, capsys):
    hostile = Lease(client_for(env), holder="apply by \x1b[31mred\r\n  + key set B2C_1A_Forged", run="\u202erun")
    hostile.acquire()
    code, _, err = run(capsys, ["apply", "--auto-approve", manifest], env)
    assert code == 1 and "another run holds the tenant lease" in err
    assert "\x1b" not in err and "\r" not in err and "\u202e" not in err
    assert len([line for line in err.splitlines() if "B2C_1A_Forged" in line]) == 1  # no forged line
    assert "\\x1b[31mred\\r\\n  + key set B2C_1A_Forged" in err
    hostile.release()
