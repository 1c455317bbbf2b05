"""Runs a composite action's `runs.steps` as GitHub's runner does, for tests: the inputs with
their defaults, each `run:` in its `shell:` (bash as `bash --noprofile --norc -eo pipefail {0}`),
the files GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY, and the few expressions
the action uses: `inputs.*`, `github.action_path`, `github.token`, `steps.<id>.outputs.*`,
`env.*`. Any other expression, `if:` or `uses:` is refused, so a test cannot pass on something
this runner only pretends to do."""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"], "sh": ["sh", "-e"]}
STEP_KEYS = {"name", "id", "shell", "env", "run", "working-directory"}


@dataclass
class Result:
    code: int
    outputs: dict[str, str]
    log: str
    summary: str
    path: list[str]
    env: dict[str, str] = field(default_factory=dict)


def read_file_commands(path: Path) -> dict[str, str]:
    """KEY=VALUE and KEY<<DELIMITER ... DELIMITER lines, as GitHub reads GITHUB_OUTPUT and GITHUB_ENV."""
    values, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[key] = "\n".join(lines[i + 1:end])
            i = end + 1
        else:
            if line:
                key, value = line.split("=", 1)
                values[key] = value
            i += 1
    return values


class Runner:
    def __init__(self, action_dir: Path, github_token: str = "gh-token-for-tests"):
        self.action_dir = Path(action_dir)
        self.action = yaml.safe_load((self.action_dir / "action.yml").read_text())
        assert self.action["runs"]["using"] == "composite"
        self.github_token = github_token

    def evaluate(self, text, context) -> str:
        def one(match):
            expression = match.group(1)
            head, _, rest = expression.partition(".")
            if head == "inputs" and re.fullmatch(r"[A-Za-z0-9_-]+", rest):
                return context["inputs"][rest]
            if expression == "github.action_path":
                return str(self.action_dir)
            if expression == "github.token":
                return self.github_token
            step = re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", expression)
            if step:
                return context["steps"].get(step.group(1), {}).get(step.group(2), "")
            if head == "env" and re.fullmatch(r"[A-Za-z0-9_]+", rest):
                return context["env"].get(rest, "")
            raise AssertionError(f"this test runner does not evaluate ${{{{ {expression} }}}}")

        return EXPRESSION.sub(one, str(text))

    def inputs(self, given: dict[str, str]) -> dict[str, str]:
        declared = self.action.get("inputs", {})
        unknown = set(given) - set(declared)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        values = {}
        for name, spec in declared.items():
            default = self.evaluate(spec.get("default", ""), {"inputs": {}, "steps": {}, "env": {}})
            values[name] = str(given.get(name, default))
        return values

    def run(self, inputs: dict[str, str], *, workspace: Path, env: dict[str, str], runner_temp: Path,
            files: Path, event: Path | None = None) -> Result:
        """Runs every step in `workspace`; the runner's files go to `files` (fresh per run)."""
        files.mkdir(parents=True, exist_ok=True)
        summary, env_file, path_file = files / "summary.md", files / "env", files / "path"
        for f in (summary, env_file, path_file):
            f.write_text("")
        base = dict(env, RUNNER_TEMP=str(runner_temp), GITHUB_WORKSPACE=str(workspace),
                    GITHUB_ACTION_PATH=str(self.action_dir), GITHUB_STEP_SUMMARY=str(summary),
                    GITHUB_ENV=str(env_file), GITHUB_PATH=str(path_file), GITHUB_ACTIONS="true", CI="true")
        if event is not None:
            base["GITHUB_EVENT_PATH"] = str(event)
        context = {"inputs": self.inputs(inputs), "steps": {}, "env": base}
        log, code = [], 0
        for n, step in enumerate(self.action["runs"]["steps"]):
            unknown = set(step) - STEP_KEYS
            assert not unknown, f"this test runner does not support {unknown} in a step"
            output_file = files / f"output-{n}"
            output_file.write_text("")
            added = [line for line in path_file.read_text().splitlines() if line]
            step_env = dict(base, **read_file_commands(env_file), GITHUB_OUTPUT=str(output_file))
            step_env["PATH"] = os.pathsep.join([*reversed(added), step_env.get("PATH", "")])
            context["env"] = step_env
            for key, value in (step.get("env") or {}).items():
                step_env[key] = self.evaluate(value, context)
            script = files / f"step-{n}.sh"
            script.write_text(self.evaluate(step["run"], context))
            cwd = workspace / self.evaluate(step.get("working-directory", "."), context)
            done = subprocess.run([*SHELLS[step["shell"]], str(script)], cwd=cwd, env=step_env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)  # one log
            log.append(f"## {step.get('name', n)}\n{done.stdout}")
            if "id" in step:
                context["steps"][step["id"]] = read_file_commands(output_file)
            if done.returncode:
                code = done.returncode
                break
        outputs = {name: self.evaluate(spec["value"], context) for name, spec in self.action.get("outputs", {}).items()}
        return Result(code, outputs, "\n".join(log), summary.read_text(),
                      [line for line in path_file.read_text().splitlines() if line], read_file_commands(env_file))
