"""The pipeline examples are valid: every YAML file parses, every `b2ckeys ...` line they
run is a command with flags that exist, they sign in with OIDC federation, and the three
stages run by hand against the emulator exactly as the examples run them."""

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.cli import CANARY, keys_in
from reconciler.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
ACTION = "b2ckeys/b2ckeys"
PIN = re.compile(r"^[0-9a-f]{40}$")
PIPELINES = sorted((ROOT / "examples").rglob("*.yml")) + sorted((ROOT / "examples").rglob("*.yaml"))
HOOKS = ROOT / ".pre-commit-hooks.yaml"
FILES = [p for p in PIPELINES if p.parent.name in ("github", "azure-devops")] + [HOOKS]  # the others: manifests
SCRIPT_KEYS = {"run", "script", "bash", "pwsh", "powershell", "inlineScript", "entry"}
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&"}


def scripts(node):
    """Every shell script string in a workflow, pipeline or hook definition."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in SCRIPT_KEYS and isinstance(v, str):
                yield v
            else:
                yield from scripts(v)
    elif isinstance(node, list):
        for item in node:
            yield from scripts(item)


def commands(script: str) -> list[tuple[list[str], dict]]:
    """(argv after 'b2ckeys', redirections) for each line that runs b2ckeys."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line.startswith("b2ckeys "):
            assert "b2ckeys " not in line.split("#")[0], f"b2ckeys is run mid-line, hidden from this test: {line}"
            continue
        words = shlex.split(line, comments=True)[1:]
        argv, redirect = [], {}
        while words:
            word = words.pop(0)
            if word in (">", "2>", ">>"):
                redirect[word] = words.pop(0)
            elif word in SHELL_OPERATORS:
                break
            else:
                argv.append(word)
        found.append((argv, redirect))
    return found


def action_module():
    """action/run.py, whose command_line() makes the argv the action runs from its inputs."""
    spec = importlib.util.spec_from_file_location("action_run", ROOT / "action" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def action_steps(node):
    """Every step that uses the b2ckeys action."""
    if isinstance(node, dict):
        if str(node.get("uses", "")).startswith(ACTION + "@"):
            yield node
        for v in node.values():
            yield from action_steps(v)
    elif isinstance(node, list):
        for item in node:
            yield from action_steps(item)


def action_commands(doc, environment=None) -> list[tuple[list[str], dict]]:
    """(argv, redirections) for each use of the action: the argv it runs, Markdown to COMMAND.md.
    GitHub puts the matrix value into `args` before the action reads it; so does this."""
    found = []
    for step in action_steps(doc):
        inputs = step.get("with", {})
        comment = str(inputs.get("comment", "false")).lower() == "true"
        args = str(inputs.get("args", ""))
        if environment is not None:
            args = args.replace(MATRIX_VALUE, environment)
        argv = action_module().command_line(inputs.get("command", "plan"), args, comment)
        found.append((argv, {">": f"{argv[0]}.md"} if "markdown" in argv else {}))
    return found


MATRIX_VALUE = "${{ matrix.environment }}"  # GitHub: the environment of a matrix job
SCRIPT_VALUE = "$ENVIRONMENT"               # Azure DevOps: the job's or stage's variable
ENVIRONMENTS = ["dev", "prod"]              # the examples' environments


def jobs_of(doc) -> list[tuple[dict, list]]:
    """(job, the environments it runs for: [None] for a job of no environment), in file order.
    A GitHub matrix made at run time (fromJSON) runs for every environment that has changes."""
    found = []
    if not isinstance(doc, dict):  # the pre-commit hook
        return found
    if isinstance(doc.get("jobs"), dict):  # GitHub
        for job in doc["jobs"].values():
            matrix = job.get("strategy", {}).get("matrix", {}).get("environment")
            found.append((job, matrix if isinstance(matrix, list) else ENVIRONMENTS if matrix else [None]))
    for stage in doc.get("stages", []):  # Azure DevOps
        for job in stage["jobs"]:
            found.append((job, [variable(job, "ENVIRONMENT") or variable(stage, "ENVIRONMENT")]))
    return found


def variable(node, name):
    variables = node.get("variables", {})
    if isinstance(variables, dict):
        return variables.get(name)
    return next((v["value"] for v in variables if v.get("name") == name), None)


def runs(path: Path) -> list[tuple[str | None, list[str], dict]]:
    """(environment, argv, redirections), in the order a run does them, environment by environment
    within a job: the b2ckeys lines of scripts and the action's commands."""
    doc = yaml.safe_load(path.read_text())
    found = []
    for job, environments in jobs_of(doc):
        for environment in environments:
            for step in steps_of(job):
                if "uses" in step:
                    found += [(environment, *c) for c in action_commands(step, environment)]
                    continue
                for script in scripts(step):
                    for argv, redirect in commands(script):
                        argv = [environment if word == SCRIPT_VALUE else word for word in argv]
                        found.append((environment, argv, redirect))
    return found or [(None, *c) for script in scripts(doc) for c in commands(script)]  # the pre-commit hook


def commands_of(path: Path, environment: str = "dev"):
    """The commands of every job, a matrix job's for one of its environments."""
    return [(argv, redirect) for env, argv, redirect in runs(path) if env in (None, environment)]


def steps_of(node):
    if isinstance(node, dict):
        if isinstance(node.get("steps"), list):
            yield from node["steps"]
        else:
            for v in node.values():
                yield from steps_of(v)
    elif isinstance(node, list):
        for item in node:
            yield from steps_of(item)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_b2ckeys_command_exists_with_its_flags(path):
    found = commands_of(path)
    assert found, f"{path.name} runs no b2ckeys command"
    for argv, _ in found:
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{path.name}: 'b2ckeys {' '.join(argv)}' is not a valid command line")


EXPECTED = {
    "github/pull-request.yml": {"validate", "plan --env --format markdown --detailed-exitcode"},
    "github/apply.yml": {"plan --env --out --detailed-exitcode", "apply b2ckeys.plan.json --env"},
    "github/drift.yml": {"drift --env --format markdown --expiry-window 30"},
    "azure-devops/azure-pipelines.yml": {"validate", "plan --env --format markdown", "plan --env --out",
                                         "apply b2ckeys.plan.json --env", "drift --env --format markdown"},
}
GITHUB = sorted((ROOT / "examples" / "github").glob("*.yml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_pipeline_does_its_stage_per_environment_and_signs_in_with_oidc_both_ways(name):
    path = ROOT / "examples" / name
    text = path.read_text()
    for environment in ENVIRONMENTS:
        lines = [" ".join(argv) for argv, _ in commands_of(path, environment)]
        for wanted in EXPECTED[name]:
            words = wanted.split()
            assert any(words[0] == line.split()[0] and all(w in line.split() for w in words[1:])
                       for line in lines), wanted
        for line in lines:  # validate alone checks every environment; the others name theirs
            assert line.startswith("validate") != (f"--env {environment}" in line), line
    assert "AZURE_FEDERATED_TOKEN_FILE" in text and "AZURE_CLIENT_SECRET" not in text
    doc = yaml.safe_load(text)
    if name.startswith("github/"):
        assert "audience=api://AzureADTokenExchange" in text
        for job in doc["jobs"].values():
            signs_in = "Ask GitHub for an OIDC token" in yaml.safe_dump(job)
            assert job["permissions"].get("id-token") == ("write" if signs_in else None)
            if signs_in:  # its own federated credential: the subject repo:OWNER/REPO:environment:NAME
                assert job["environment"] in (MATRIX_VALUE, MATRIX_VALUE + "-read")
                assert job["strategy"]["fail-fast"] is False
                assert job["env"] == {"AZURE_TENANT_ID": "${{ vars.AZURE_TENANT_ID }}",
                                      "AZURE_CLIENT_ID": "${{ vars.AZURE_CLIENT_ID }}"}  # the environment's
    if name.endswith("pull-request.yml"):  # the other sign-in: azure/login, then the Azure CLI's token
        assert "uses: azure/login@a457da9ea143d694b1b9c7c869ebb04ebe844ef5  # v2.3.0" in text
        assert "allow-no-subscriptions: true" in text and "B2CKEYS_AUTH: azure-cli" in text
        [step] = action_steps(doc["jobs"]["plan"])
        assert step["with"]["comment-marker"] == "plan:" + MATRIX_VALUE  # one comment per environment
    if name.endswith("apply.yml"):
        apply, plan = doc["jobs"]["apply"], doc["jobs"]["plan"]
        assert apply["environment"] == MATRIX_VALUE  # the approval gate, per environment
        assert plan["environment"] == MATRIX_VALUE + "-read"  # no reviewers, a read-only app
        assert apply["strategy"]["matrix"]["environment"] == "${{ fromJSON(needs.changed.outputs.environments) }}"
        assert "b2ckeys-plan-" + MATRIX_VALUE in yaml.safe_dump(plan) + yaml.safe_dump(apply)
    if name.endswith("drift.yml"):
        assert doc[True]["schedule"]  # YAML 1.1 reads the key `on` as True
        assert "gh issue create" in text and "gh issue edit" in text
        assert "CODE & 8" in text and "CODE & 4" in text and "CODE & 2" in text  # keyed to the exit bits
        assert 'label="b2ckeys-drift-$ENVIRONMENT"' in text  # one issue per environment
    if name.startswith("azure-devops/"):
        assert doc["schedules"] and doc["schedules"][0]["always"] == "true"  # a string, as the schema wants
        stages = {stage["stage"]: stage for stage in doc["stages"]}
        for environment in ENVIRONMENTS:  # a stage per environment, its own connection and environment
            stage = stages[f"apply_{environment}"]
            deployment = stage["jobs"][1]
            assert deployment["environment"] == environment and stage["lockBehavior"] == "sequential"
            assert variable(stage, "ENVIRONMENT") == environment
            assert {"group": f"b2ckeys-{environment}"} in stage["variables"]
        assert doc["lockBehavior"] == "sequential"
        assert "Exclusive Lock" in text and "B2CKEYS_AUTH=azure-cli" in text
        assert 'marker="<!-- b2ckeys:plan:$ENVIRONMENT -->"' in text and "-X PATCH" in text  # one comment each
        tasks = [(job, env, s) for job, [env] in jobs_of(doc) for s in steps_of(job) if s.get("task") == "AzureCLI@2"]
        assert len(tasks) == 4 * len(ENVIRONMENTS)
        for job, environment, task in tasks:
            assert task["inputs"]["azureSubscription"] == f"b2ckeys-{environment}"
            assert task["inputs"]["addSpnToEnvironment"] is True and '"$idToken"' in task["inputs"]["inlineScript"]
        jobs = [j for stage in doc["stages"] for j in stage["jobs"]]
        assert all(j["timeoutInMinutes"].isdigit() for j in jobs)


@pytest.mark.parametrize("path", GITHUB, ids=[p.name for p in GITHUB])
def test_github_workflows_are_hardened(path):
    """Pinned actions, no persisted credentials, a timeout and least permissions on every job,
    the comment through the action's marker, one run per environment at a time."""
    text = path.read_text()
    doc = yaml.safe_load(text)
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", text, flags=re.M)
    assert uses
    for ref, comment in uses:
        name, _, commit = ref.partition("@")
        assert PIN.match(commit), f"{name} is not pinned by commit"
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", comment), f"{name}: the version in a comment"
    assert doc["permissions"] == {}
    for job in doc["jobs"].values():
        assert 0 < job["timeout-minutes"] <= 60 and job["permissions"]
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
        if "matrix" in job.get("strategy", {}):
            assert MATRIX_VALUE in job["concurrency"]["group"]
    assert "gh pr comment" not in text
    if path.name == "apply.yml":
        assert doc["jobs"]["apply"]["concurrency"]["cancel-in-progress"] is False
    if path.name == "drift.yml":
        assert doc["jobs"]["drift"]["concurrency"]["cancel-in-progress"] is False


def pins() -> set[str]:
    found = set()
    for path in GITHUB:
        found |= set(re.findall(r"uses: b2ckeys/b2ckeys@(\S+)", path.read_text()))
    ado = yaml.safe_load((ROOT / "examples" / "azure-devops" / "azure-pipelines.yml").read_text())
    found |= {v["value"] for v in ado["variables"] if v.get("name") == "b2ckeysCommit"}
    return found


def test_every_example_uses_one_pin_of_the_action():
    [pin] = pins()
    assert PIN.match(pin)


def test_the_pinned_commit_has_the_action():
    [pin] = pins()
    git = ["git", "-C", str(ROOT)]
    known = subprocess.run([*git, "cat-file", "-e", f"{pin}^{{commit}}"], capture_output=True)
    if known.returncode:
        shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
        pytest.skip(f"commit {pin} is not in the local history (shallow clone: {shallow.stdout.strip() or 'no git'})")
    for path in ("action.yml", "action/install.sh", "action/run.py", "action/comment.py", "requirements.lock.txt"):
        assert subprocess.run([*git, "cat-file", "-e", f"{pin}:{path}"]).returncode == 0, path
    ancestor = subprocess.run([*git, "merge-base", "--is-ancestor", pin, "HEAD"])
    assert ancestor.returncode == 0, "the pinned commit is not in this branch's history"


def test_pre_commit_hook_runs_validate():
    [hook] = yaml.safe_load(HOOKS.read_text())
    assert hook["entry"] == "b2ckeys validate" and hook["language"] == "python"


ENVIRONMENTS_FILE = """\
version: 1
environments:
  dev:
    tenant: {tenant}
  prod:
    tenant: {tenant}
"""


@pytest.mark.parametrize("platform", ["github", "azure-devops"])
def test_the_three_stages_run_by_hand_against_the_emulator(platform, emu, env, tmp_path, monkeypatch, capsys):
    """Pull request, then main (plan, apply the saved plan), then the nightly drift: each
    b2ckeys line of the examples, in order, environment by environment, each in its own checkout
    of a repository with manifests/ and b2ckeys.yaml, as separate runners do. Both environments
    are the emulator's tenant here: dev applies, and prod then finds nothing to do, so its apply
    job does not run (the changed job / the deployment's condition)."""
    del env["AZURE_CLIENT_SECRET"]  # the examples sign in with a federated (OIDC) token only
    (tmp_path / ".oidc-token").write_text(emu.federated_token())
    (tmp_path / ".oidc-token").chmod(0o600)  # as the examples write it (umask 077)
    env["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / ".oidc-token")
    files = (["pull-request.yml", "apply.yml", "drift.yml"] if platform == "github" else ["azure-pipelines.yml"])
    ran = []
    for environment in ENVIRONMENTS:
        checkout = tmp_path / environment
        shutil.copytree(ROOT / "manifests", checkout / "manifests")
        (checkout / "b2ckeys.yaml").write_text(ENVIRONMENTS_FILE.format(tenant=emu.tenant_domain))
        monkeypatch.chdir(checkout)
        changes = False
        for name in files:
            for argv, redirect in commands_of(ROOT / "examples" / platform / name, environment):
                if argv[0] == "apply" and not changes:
                    continue  # no plan with changes was saved: no apply job for this environment
                code = main(argv, environ=env)
                captured = capsys.readouterr()
                for op, stream in ((">", captured.out), ("2>", captured.err)):
                    if op in redirect:
                        Path(redirect[op]).write_text(stream)
                detailed = "--detailed-exitcode" in argv
                assert code in ((0, 2) if detailed else (0,)), (argv, captured.err)
                if "--out" in argv:
                    changes = code == 2
                ran.append((environment, argv[0]))
                text = "".join(p.read_text() for p in checkout.iterdir() if p.is_file())
                assert CANARY not in text + captured.out + captured.err
        comment = (checkout / "plan.md").read_text()  # the comment names its environment
        assert comment.startswith(f"**Environment:** `{environment}`\n\n### b2ckeys plan"), comment[:200]
        assert "No drift" in (checkout / "drift.md").read_text()
        assert os.path.exists(checkout / "b2ckeys.plan.json")
    assert [e for e, command in ran if command == "apply"] == ["dev"]
    assert {e for e, command in ran if command == "drift"} == set(ENVIRONMENTS)
    assert keys_in(emu) == {"B2C_1A_TokenSigningKeyContainer": 1, "B2C_1A_TokenEncryptionKeyContainer": 1,
                            "B2C_1A_FacebookSecret": 1}
