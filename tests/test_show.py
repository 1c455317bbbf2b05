"""`b2ckeys show PLANFILE`: a saved plan printed again exactly as `plan` printed it, in each
format, offline (an empty environment, no request to the tenant), never a secret; a missing,
unreadable or edited plan file is one located line and exit 1."""

import json
import shutil

import pytest

from helpers.cli import CANARY, STARTER, graph_calls, run
from helpers.graph import Graph

FORMATS = ("text", "json", "markdown")


@pytest.fixture
def manifests(tmp_path, monkeypatch):
    folder = tmp_path / "manifests"
    folder.mkdir()
    shutil.copy(STARTER, folder / "starter-pack.yaml")
    monkeypatch.chdir(tmp_path)
    return folder


def saved_plan(capsys, env, name="p.json"):
    code, _, err = run(capsys, ["plan", "--out", name], env)
    assert code == 0, err
    return name


def plan_output(capsys, env, fmt):
    code, out, err = run(capsys, ["plan", "--format", fmt], env)
    assert code == 0, err
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_prints_the_plan_as_plan_did(emu, env, manifests, capsys, fmt):
    path = saved_plan(capsys, env)
    code, out, err = run(capsys, ["show", path, "--format", fmt], {})
    assert code == 0, err
    assert err == ""
    assert out == plan_output(capsys, env, fmt)
    assert CANARY not in out


def test_show_prints_a_plan_with_active_keys_unmanaged_keys_and_warnings(emu, env, manifests, capsys):
    assert run(capsys, ["apply", "--auto-approve"], env)[0] == 0
    graph = Graph(emu)
    graph("POST", "", {"id": "Sneaky"})
    graph("POST", "/B2C_1A_Sneaky/uploadSecret", {"use": "enc", "k": "x" * 16, "exp": 1924992000})
    graph("POST", "/B2C_1A_TokenSigningKeyContainer/generateKey", {"use": "sig", "kty": "RSA", "nbf": 1893456000})
    (manifests / "more.yaml").write_text(
        "version: 1\nkeySets:\n  - name: More\n    keys:\n"
        "      - {kind: generate, kty: RSA, use: enc, nbf: 2027-01-01T00:00:00Z, exp: 2029-01-01T00:00:00Z}\n"
        "  - name: MoreSecret\n    keys:\n      - {kind: secret, use: sig, value: {env: MORE_SECRET}}\n")
    env["MORE_SECRET"] = CANARY + "-more"
    path = saved_plan(capsys, env)
    text = open(path, encoding="utf-8").read()
    assert CANARY not in text
    data = json.loads(text)["plan"]
    assert data["changes"] and data["activeKeys"] and data["unmanaged"] and data["notes"]  # the rich parts
    for fmt in FORMATS:
        code, out, err = run(capsys, ["show", path, "--format", fmt], {})
        assert code == 0, err
        assert out == plan_output(capsys, env, fmt), fmt
        assert CANARY not in out + err


def test_show_needs_no_environment_and_makes_no_request(emu, env, manifests, capsys):
    path = saved_plan(capsys, env)
    before = len(emu.requests())
    code, out, err = run(capsys, ["show", path], {})  # no tenant, no client, no secret
    assert code == 0, err
    assert "Plan: 3 key sets to create, 3 keys to add." in out
    assert len(emu.requests()) == before  # neither Graph nor the token endpoint was asked


def test_show_in_a_subprocess_with_an_empty_environment(emu, env, manifests, capsys, tmp_path):
    import subprocess
    import sys

    path = saved_plan(capsys, env)
    result = subprocess.run([sys.executable, "-m", "reconciler", "show", path, "--format", "json"],
                            capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(open(path).read())["plan"]


def _edit(path, change):
    data = json.loads(open(path, encoding="utf-8").read())
    change(data)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


@pytest.mark.parametrize("edit, why", [
    (lambda d: d["plan"]["changes"][0].update(keySet="B2C_1A_Other"), "changed after b2ckeys wrote it, or is damaged (its digest does not match its content)"),
    (lambda d: d["live"]["keySets"].append({"id": "B2C_1A_X", "keys": []}), "its digest does not match"),
    (lambda d: (d.pop("digest"), d["live"]["keySets"].append({"id": "B2C_1A_X", "keys": []})),
     "its 'live' part does not match its digest"),
    (lambda d: (d.pop("digest"), d["plan"]["summary"].update(keysToAdd=7)),
     "its 'plan' part does not read back as it was written"),
    (lambda d: (d.pop("digest"), d["plan"]["changes"][0].update(action="explode")), "holds a change b2ckeys cannot read (ValueError"),
    (lambda d: (d.pop("digest"), d["plan"].pop("activeKeys")), "KeyError in its 'plan' part"),
])
def test_an_edited_plan_file_is_one_located_line(emu, env, manifests, capsys, edit, why):
    path = saved_plan(capsys, env)
    _edit(path, edit)
    code, out, err = run(capsys, ["show", path], {})
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: "), err
    assert why in err
    calls = len(graph_calls(emu))
    code, _, err = run(capsys, ["apply", path], env)  # apply refuses it too, before any call to Graph
    assert code == 1 and why in err
    assert len(graph_calls(emu)) == calls


def test_an_older_plan_file_without_digest_or_folder_is_still_shown(emu, env, manifests, capsys):
    path = saved_plan(capsys, env)
    _edit(path, lambda d: (d.pop("digest"), d.pop("madeIn")))
    code, out, _ = run(capsys, ["show", path], {})
    assert code == 0 and out == plan_output(capsys, env, "text")


@pytest.mark.parametrize("content, message", [
    (None, "not a readable b2ckeys plan file ([Errno 2] No such file or directory"),
    ("not json", "not a readable b2ckeys plan file"),
    ('{"kind": "something"}', "not a b2ckeys plan file"),
    ('{"format_version": 1, "kind": "b2ckeys-plan", "manifests": {}, "live": {}}', "has no 'plan' part"),
])
def test_a_missing_or_unreadable_plan_file_is_one_located_line(tmp_path, capsys, content, message):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, ["show", str(path)], {})
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ") and message in err, err
    assert "Traceback" not in err
