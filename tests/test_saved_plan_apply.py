"""`apply PLANFILE` as Terraform applies a saved plan: without asking (the review happened
when the plan was made), with or without a terminal; from another folder it names the
folder the plan was made in; a checkout at another absolute path applies it from its root."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers.cli import STARTER, graph_calls, keys_in, run, writes

APPLIED = "Apply complete: 3 key sets created, 3 keys added."


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A repository root holding manifests/, and the current folder."""
    root = tmp_path / "checkout"
    (root / "manifests").mkdir(parents=True)
    shutil.copy(STARTER, root / "manifests" / "starter-pack.yaml")
    monkeypatch.chdir(root)
    return root


def test_saved_plan_is_applied_without_asking_and_without_a_terminal(emu, env, checkout, capsys, monkeypatch):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal, nobody to answer
    code, out, err = run(capsys, ["apply", "p.json"], env)
    assert code == 0, err
    assert APPLIED in out and "Make these changes?" not in out
    assert sum(keys_in(emu).values()) == 3


def test_apply_from_manifests_still_refuses_without_a_terminal(emu, env, checkout, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    code, _, err = run(capsys, ["apply", "manifests"], env)
    assert code == 1 and "--auto-approve" in err and "nothing was changed" in err
    assert writes(emu) == []


def test_auto_approve_is_still_accepted_with_a_plan_file(emu, env, checkout, capsys):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    code, out, err = run(capsys, ["apply", "--auto-approve", "p.json"], env)
    assert code == 0 and APPLIED in out, err


def test_stale_plan_is_still_refused_without_asking(emu, env, checkout, capsys, monkeypatch):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    assert run(capsys, ["apply", "--auto-approve", "manifests"], env)[0] == 0  # the tenant moves on
    before = len(writes(emu))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, ["apply", "p.json"], env)
    assert code == 1 and "the saved plan p.json is stale" in err and "Nothing was changed" in err
    assert len(writes(emu)) == before


def _on_a_terminal(argv, env, cwd, answer="yes\n"):
    import pty

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "reconciler", *argv], cwd=cwd, stdin=terminal,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        os.write(controller, answer.encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, out, err


def test_saved_plan_on_a_terminal_does_not_ask(emu, env, checkout, capsys):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    code, out, err = _on_a_terminal(["apply", "p.json"], env, checkout, answer="no\n")  # "no" is never read
    assert code == 0, err
    assert "Make these changes?" not in out and APPLIED in out


def test_apply_from_manifests_on_a_terminal_still_asks(emu, env, checkout):
    code, out, err = _on_a_terminal(["apply", "manifests"], env, checkout, answer="no\n")
    assert "Make these changes? Only 'yes' is accepted:" in out
    assert code == 1 and "apply cancelled; nothing was changed" in err
    assert writes(emu) == []


def test_apply_from_another_folder_names_the_folder_the_plan_was_made_in(emu, env, checkout, capsys, monkeypatch):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    assert json.loads((checkout / "p.json").read_text())["madeIn"] == str(checkout)
    elsewhere = checkout / "docs"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    calls = len(graph_calls(emu))
    code, out, err = run(capsys, ["apply", "../p.json"], env)
    assert code == 1
    assert err.count("\n") == 1, err  # one line
    assert "no such file or folder" not in err
    assert f"it was made in {checkout}." in err and f"not found from here ({elsewhere})" in err
    assert "Run apply from that folder, the one that holds manifests" in err and "Nothing was changed" in err
    assert len(graph_calls(emu)) == calls


def test_a_plan_file_without_the_folder_still_reads_and_says_so(emu, env, checkout, capsys, monkeypatch):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    data = json.loads((checkout / "p.json").read_text())
    del data["madeIn"]  # as an older b2ckeys wrote it
    (checkout / "p.json").write_text(json.dumps(data))
    monkeypatch.chdir(checkout.parent)
    code, _, err = run(capsys, ["apply", "checkout/p.json"], env)
    assert code == 1 and "made by an older b2ckeys" in err and "Run apply from that folder" in err
    monkeypatch.chdir(checkout)  # from the right folder, the old file applies
    code, out, err = run(capsys, ["apply", "p.json"], env)
    assert code == 0 and APPLIED in out, err


def test_a_checkout_at_another_absolute_path_applies_the_plan_from_its_root(emu, env, checkout, capsys,
                                                                            monkeypatch, tmp_path):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0  # the plan job's checkout
    other = tmp_path / "runner" / "work" / "repo"  # the apply job's checkout, elsewhere
    shutil.copytree(checkout, other)
    shutil.rmtree(checkout)
    monkeypatch.chdir(other)
    code, out, err = run(capsys, ["apply", "p.json"], env)
    assert code == 0, err
    assert "still matches the tenant and the manifests" in out and APPLIED in out


def test_manifests_gone_from_the_folder_the_plan_was_made_in_are_named_as_gone(emu, env, checkout, capsys):
    assert run(capsys, ["plan", "--out", "p.json"], env)[0] == 0
    shutil.rmtree(checkout / "manifests")
    code, _, err = run(capsys, ["apply", "p.json"], env)
    assert code == 1
    assert f"reads manifests, which is no longer there in {checkout}, the folder it was made in" in err
    assert "Make and review a new plan" in err and "Run apply from that folder" not in err
