"""The pipeline examples are valid: every YAML file parses, every `b2ckeys ...` line they
run is a command with flags that exist, they sign in with OIDC federation, and the three
stages run by hand against the emulator exactly as the examples run them."""

import os
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.cli import CANARY, keys_in
from reconciler.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = sorted((ROOT / "examples").rglob("*.yml")) + sorted((ROOT / "examples").rglob("*.yaml"))
HOOKS = ROOT / ".pre-commit-hooks.yaml"
FILES = [p for p in PIPELINES if p.parent != ROOT / "examples"] + [HOOKS]  # examples/*.yaml are manifests
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


def commands_of(path: Path):
    return [c for script in scripts(yaml.safe_load(path.read_text())) for c in commands(script)]


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
    "github/pull-request.yml": {"validate", "plan --format markdown"},
    "github/apply.yml": {"plan --out", "apply --auto-approve b2ckeys.plan.json"},
    "github/drift.yml": {"drift --format markdown --expiry-window 30"},
    "azure-devops/azure-pipelines.yml": {"validate", "plan --format markdown", "plan --out",
                                         "apply --auto-approve b2ckeys.plan.json", "drift --format markdown"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_pipeline_does_its_stage_and_signs_in_with_oidc(name):
    path = ROOT / "examples" / name
    text = path.read_text()
    lines = [" ".join(argv) for argv, _ in commands_of(path)]
    for wanted in EXPECTED[name]:
        words = wanted.split()
        assert any(words[0] == line.split()[0] and all(w in line.split() for w in words[1:]) for line in lines), wanted
    assert "AZURE_FEDERATED_TOKEN_FILE" in text and "AZURE_CLIENT_SECRET" not in text
    assert "azure/login" not in text
    doc = yaml.safe_load(text)
    if name.startswith("github/"):
        assert doc["permissions"]["id-token"] == "write"
        assert "audience=api://AzureADTokenExchange" in text
    if name.endswith("apply.yml"):
        assert doc["jobs"]["apply"]["environment"] == "production"
    if name.endswith("drift.yml"):
        assert doc[True]["schedule"]  # YAML 1.1 reads the key `on` as True
        assert "gh issue create" in text and "gh issue edit" in text
    if name.startswith("azure-devops/"):
        assert "serviceConnectionId" in text and doc["schedules"]
        deployment = doc["stages"][1]["jobs"][1]
        assert deployment["environment"] == "production"


def test_pre_commit_hook_runs_validate():
    [hook] = yaml.safe_load(HOOKS.read_text())
    assert hook["entry"] == "b2ckeys validate" and hook["language"] == "python"


@pytest.mark.parametrize("platform", ["github", "azure-devops"])
def test_the_three_stages_run_by_hand_against_the_emulator(platform, emu, env, tmp_path, monkeypatch, capsys):
    """Pull request, then main (plan, apply the saved plan), then the nightly drift: each
    b2ckeys line of the examples, in order, from a repository with manifests/."""
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    monkeypatch.chdir(tmp_path)
    del env["AZURE_CLIENT_SECRET"]  # the examples sign in with a federated (OIDC) token only
    (tmp_path / ".oidc-token").write_text(emu.federated_token())
    (tmp_path / ".oidc-token").chmod(0o600)  # as the examples write it (umask 077)
    env["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / ".oidc-token")
    files = (["pull-request.yml", "apply.yml", "drift.yml"] if platform == "github" else ["azure-pipelines.yml"])
    ran = []
    for name in files:
        for argv, redirect in commands_of(ROOT / "examples" / platform / name):
            code = main(argv, environ=env)
            captured = capsys.readouterr()
            for op, stream in ((">", captured.out), ("2>", captured.err)):
                if op in redirect:
                    Path(redirect[op]).write_text(stream)
            detailed = "--detailed-exitcode" in argv
            assert code in ((0, 2) if detailed else (0,)), (argv, captured.err)
            ran.append(argv[0])
            text = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
            assert CANARY not in text + captured.out + captured.err
    assert ran.count("apply") == 1 and "drift" in ran
    assert keys_in(emu) == {"B2C_1A_TokenSigningKeyContainer": 1, "B2C_1A_TokenEncryptionKeyContainer": 1,
                            "B2C_1A_FacebookSecret": 1}
    assert (tmp_path / "plan.md").read_text().startswith("### b2ckeys plan")
    assert "No drift" in (tmp_path / "drift.md").read_text()
    assert os.path.exists(tmp_path / "b2ckeys.plan.json")
