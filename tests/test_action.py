"""The GitHub Action as a user runs it: this repository's action.yml, step by step (helpers/
action_runner.py), installing b2ckeys from the action's checkout with the hash-pinned lock, in a
scratch git repository of manifests, against the emulator, with the plan posted on a stand-in
GitHub API (helpers/github_api.py) as one comment that later runs update."""

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from helpers.action_runner import EXPRESSION, Runner
from helpers.cli import CANARY, ROOT, keys_in
from helpers.github_api import FakeGitHub

MARKER = "<!-- b2ckeys:plan:. -->"
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".hypothesis")


def load_comment_module():
    spec = importlib.util.spec_from_file_location("action_comment", ROOT / "action" / "comment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def action(tmp_path_factory):
    """The action's checkout (a copy of this repository, as `uses:` fetches it) and a RUNNER_TEMP
    whose venv the first run installed: one install for all the tests of a run, also under xdist
    (the workers share the run's base folder and take turns with a file lock)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / "b2ckeys-action.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        checkout, runner_temp = shared / "action-checkout", shared / "runner-temp"
        if not (checkout / "action.yml").exists():
            shutil.copytree(ROOT, checkout, ignore=COPY_IGNORE)
            runner_temp.mkdir()
        runner = Runner(checkout)
        first = runner.run({"command": "validate", "args": str(ROOT / "examples" / "starter-pack.yaml")},
                           workspace=shared, env=dict(os.environ), runner_temp=runner_temp,
                           files=base / "install-run")
        assert first.code == 0, first.log
    return runner, runner_temp


@pytest.fixture
def repo(tmp_path):
    """A user's repository: git init, manifests/, one commit."""
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "manifests", work / "manifests")
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-C", str(work)]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "manifests"], check=True)
    return work


def event(tmp_path, **payload):
    path = tmp_path / f"event-{len(list(tmp_path.glob('event-*')))}.json"
    path.write_text(json.dumps(payload))
    return path


def run_action(action, repo, environ, tmp_path, inputs, event_path=None):
    runner, runner_temp = action
    files = tmp_path / f"runner-{len(list(tmp_path.glob('runner-*')))}"
    return runner.run(inputs, workspace=repo, env=environ, runner_temp=runner_temp, files=files, event=event_path)


def everything_said(result) -> str:
    files = [result.outputs.get("output-file")]
    return result.log + result.summary + "".join(open(f).read() for f in files if f and os.path.exists(f))


def test_pull_request_then_main_then_the_same_comment_updated(action, repo, emu, env, tmp_path):
    with FakeGitHub() as github:
        human = github.add(f"{MARKER}\n> quoting the bot's plan: looks fine to me", "alice", "User")
        other_bot = github.add("<!-- another-tool -->\nterraform plan: 3 to add", "other-ci[bot]", "Bot")
        quoting_bot = github.add(f"another bot quoting: {MARKER}", "quoting[bot]", "Bot")
        for i in range(120):  # ours comes after them, on the second page of 100
            github.add(f"comment {i}", "bob", "User")
        before = {c["id"]: c["body"] for c in github.comments}
        environ = dict(env, **github.env())
        pr = event(tmp_path, pull_request={"number": 7})
        plan = {"command": "plan", "args": "manifests/ --out b2ckeys.plan.json", "comment": "true"}

        first = run_action(action, repo, environ, tmp_path, plan, pr)
        assert first.code == 0, first.log
        assert first.outputs["changes"] == "true" and first.outputs["exit-code"] == "2"
        assert open(first.outputs["output-file"]).read().startswith("### b2ckeys plan")
        assert "### b2ckeys plan" in first.summary
        [created] = github.writes()
        assert created["method"] == "POST" and created["path"] == "/repos/octo/keys/issues/7/comments"
        assert created["body"]["body"].startswith(f"{MARKER}\n### b2ckeys plan")
        assert (repo / "b2ckeys.plan.json").exists()
        assert any(p.endswith("b2ckeys-venv/bin") for p in first.path)  # later steps can run b2ckeys

        applied = run_action(action, repo, environ, tmp_path,
                             {"command": "apply", "args": "--auto-approve b2ckeys.plan.json"})
        assert applied.code == 0 and applied.outputs["exit-code"] == "0", applied.log
        assert keys_in(emu) == {"B2C_1A_TokenSigningKeyContainer": 1, "B2C_1A_TokenEncryptionKeyContainer": 1,
                                "B2C_1A_FacebookSecret": 1}

        again = run_action(action, repo, environ, tmp_path, plan, pr)
        assert again.code == 0, again.log
        assert again.outputs["changes"] == "false" and again.outputs["exit-code"] == "0"
        created_id = github.comments[-1]["id"]
        assert [w["method"] for w in github.writes()] == ["POST", "PATCH"]
        assert github.writes()[1]["path"] == f"/repos/octo/keys/issues/comments/{created_id}"
        assert len(github.comments) == len(before) + 1
        assert "No changes" in github.comments[-1]["body"] and github.comments[-1]["body"].startswith(MARKER)
        for untouched in (human, other_bot, quoting_bot):
            assert untouched["body"] == before[untouched["id"]]
        listed = [c for c in github.calls if c["method"] == "GET"]
        assert all("per_page=100" in c["query"] for c in listed) and any("page=2" in c["query"] for c in listed)
        assert all(c["authorization"] == "Bearer gh-token-for-tests" for c in github.calls)

        said = "".join(everything_said(r) for r in (first, applied, again))
        said += json.dumps(github.calls) + json.dumps(github.comments) + (repo / "b2ckeys.plan.json").read_text()
        assert CANARY not in said and "gh-token-for-tests" not in said.replace("Bearer gh-token-for-tests", "")


def test_a_failed_command_fails_the_step_and_says_why_in_the_comment(action, repo, emu, env, tmp_path):
    with FakeGitHub() as github:
        environ = dict(env, **github.env())
        result = run_action(action, repo, environ, tmp_path,
                            {"command": "plan", "args": "nowhere/", "comment": "true"},
                            event(tmp_path, pull_request={"number": 7}))
        assert result.code != 0 and result.outputs["exit-code"] == "1"
        [posted] = github.comments
        assert posted["body"].startswith(MARKER + "\n### b2ckeys plan failed (exit code 1)")
        assert "nowhere" in posted["body"] and "```text" in posted["body"]
        assert "failed (exit code 1)" in result.summary
        assert CANARY not in everything_said(result) + json.dumps(github.calls)


def test_args_are_words_never_shell(action, repo, emu, env, tmp_path):
    result = run_action(action, repo, dict(env), tmp_path,
                        {"command": "validate", "args": "manifests/ '$(touch pwned1)' ; touch pwned2 `touch pwned3`"})
    assert result.code != 0 and result.outputs["exit-code"] == "1"
    assert not list(repo.rglob("pwned*")) and not list(tmp_path.rglob("pwned*"))
    assert "$(touch pwned1)" in result.log  # b2ckeys got the literal word, and said it is no file


def test_what_b2ckeys_prints_cannot_be_a_workflow_command(action, repo, emu, env, tmp_path):
    """A manifest's text quoted in an error, at the start of a line, is shown, not obeyed."""
    (repo / "manifests" / "bad.yaml").write_text("version: 1\nkeySets:\n::add-mask::gh-token-for-tests\n")
    result = run_action(action, repo, dict(env), tmp_path, {"command": "validate", "args": "manifests/"})
    assert result.outputs["exit-code"] == "1"
    stop = re.search(r"^::stop-commands::([0-9a-f]{32})$", result.log, flags=re.M)
    assert stop and f"\n::{stop.group(1)}::\n" in result.log
    quoted = result.log[stop.end():result.log.index(f"::{stop.group(1)}::")]
    assert "$ b2ckeys validate manifests/" in quoted and "bad.yaml" in quoted


def test_drift_bits_are_outputs_unless_fail_on_changes(action, repo, emu, env, tmp_path):
    nothing_applied = {"command": "drift", "args": "manifests/"}
    result = run_action(action, repo, dict(env), tmp_path, nothing_applied)
    assert result.code == 0, result.log
    # 2 (creates pending) | 8 (declared key sets missing: sign-ins that use them fail now)
    assert result.outputs["exit-code"] == "10" and result.outputs["changes"] == "true"
    strict = run_action(action, repo, dict(env), tmp_path, dict(nothing_applied, **{"fail-on-changes": "true"}))
    assert strict.code != 0 and strict.outputs["exit-code"] == "10"


def test_no_comment_outside_a_pull_request(action, repo, emu, env, tmp_path):
    with FakeGitHub() as github:
        result = run_action(action, repo, dict(env, **github.env()), tmp_path,
                            {"command": "plan", "args": "manifests/", "comment": "true"},
                            event(tmp_path, push={"ref": "refs/heads/main"}))
        assert result.code == 0 and result.outputs["changes"] == "true"
        assert github.calls == [] and "not a pull request" in result.log


def test_the_action_passes_inputs_through_env_only():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert not EXPRESSION.search(step["run"]), step["name"]
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"


def test_the_comment_client_refuses_plain_http_and_other_origins():
    comment = load_comment_module()
    environ = {"GITHUB_REPOSITORY": "octo/keys", "INPUT_GITHUB_TOKEN": "t0ken", "GITHUB_RUN_ID": "1"}
    with pytest.raises(comment.CommentError, match="https"):
        comment.Settings.from_environ(dict(environ, GITHUB_API_URL="http://api.example.com"))
    with FakeGitHub(token="t0ken") as api, FakeGitHub(token="t0ken") as elsewhere:
        settings = comment.Settings.from_environ(dict(environ, **api.env()))
        # A next page on another origin: the token is not sent there, and nothing is posted.
        api.next_page_at = f"{elsewhere.url}/repos/octo/keys/issues/7/comments?page=2"
        with pytest.raises(comment.CommentError, match="refused to send the token"):
            comment.post(settings, 7, MARKER, "new plan")
        assert len(api.calls) == 1 and elsewhere.calls == [] and api.writes() == []


def test_a_long_output_is_cut_to_fit_a_comment_with_a_note():
    comment = load_comment_module()
    settings = comment.Settings("https://api.github.com", "octo/keys", "t", "https://github.com/octo/keys/actions/runs/9")
    text = "### b2ckeys plan\n\n```text\n" + "ä line of the plan\n" * 10_000 + "```\n"
    body = comment.body_of(settings, MARKER, text)
    assert len(body.encode()) <= comment.LIMIT and body.startswith(MARKER + "\n### b2ckeys plan")
    assert body.rstrip().endswith("(https://github.com/octo/keys/actions/runs/9).*")
    assert body.count("```") % 2 == 0  # the code block is closed before the note
    assert comment.body_of(settings, MARKER, "short") == MARKER + "\nshort"


def test_the_test_runner_refuses_what_it_does_not_evaluate(tmp_path):
    """The runner above would otherwise pass an expression on as text and a test could pass on it."""
    for expression in ("github.event.pull_request.title", "secrets.TOKEN", "inputs.command || 'x'"):
        (tmp_path / "action.yml").write_text(yaml.safe_dump({
            "name": "t", "description": "t", "inputs": {"command": {"default": "plan"}},
            "runs": {"using": "composite", "steps": [{"shell": "bash", "run": f"echo ${{{{ {expression} }}}}"}]}}))
        with pytest.raises(AssertionError, match="does not evaluate"):
            Runner(tmp_path).run({}, workspace=tmp_path, env={}, runner_temp=tmp_path, files=tmp_path / "files")
