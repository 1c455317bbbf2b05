"""This repository's own workflows hold to what the linters do not all check: every job has a
timeout, every action is pinned by a full commit SHA with its version beside it, checkouts keep
no credentials, permissions are read-only but where trusted publishing needs an OIDC token, and
the release builds with the lock and publishes without a token."""

import re

import pytest
import yaml

from helpers.cli import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")


def load(path):
    return yaml.safe_load(path.read_text())


def steps(workflow):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_there_are_a_ci_and_a_release_workflow():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout_and_every_action_is_pinned(path):
    for name, job in load(path)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), name
    for line in path.read_text().splitlines():
        if re.match(r"^\s*(- )?uses:", line):
            assert PINNED.match(line), line


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials_and_permissions_are_least(path):
    workflow = load(path)
    assert workflow["permissions"] in ({}, {"contents": "read"})
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        if name == "publish" and path.name == "release.yml":
            assert granted == {"id-token": "write"}
        else:
            assert set(granted.values()) <= {"read"}, name


def test_the_release_builds_with_the_lock_then_publishes_from_the_pypi_environment_without_a_token():
    workflow = load(ROOT / ".github" / "workflows" / "release.yml")
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as true
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    scripts = "\n".join(step.get("run", "") for step in build["steps"])
    assert "--require-hashes --no-deps -r requirements.lock.txt" in scripts
    assert "bash .ci/build dist" in scripts and re.search(r"/b2ckeys\"? demo", scripts)
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in build["steps"])
    assert publish["needs"] == "build" and publish["environment"]["name"] == "pypi"
    [upload] = [step for step in publish["steps"] if step.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert "password" not in upload.get("with", {})


def test_ci_runs_the_ci_script():
    workflow = load(ROOT / ".github" / "workflows" / "ci.yml")
    assert set(workflow[True]) == {"push", "pull_request"}
    assert [step["run"] for step in steps(workflow) if "run" in step] == ["bash .ci/run"]
