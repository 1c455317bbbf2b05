"""Environments: one set of manifests, several tenants (b2ckeys.yaml, --env, B2CKEYS_ENV),
through the real command line against two emulated tenants (dev: the session emulator,
contoso.onmicrosoft.com; prod: a second emulator, fabrikam.onmicrosoft.com)."""

import json

import pytest

from helpers.cli import CANARY, graph_calls, keys_in, run, writes
from reconciler.emulator import Emulator

PROD_CANARY = "CANARY-prod-fb-secret-5e21a9"

ENVIRONMENTS = """\
version: 1
environments:
  dev:
    tenant: {dev}
    variables: {{suffix: DEV}}
  prod:
    tenant: {prod}
    variables: {{suffix: PROD}}
"""

MANIFEST = """\
version: 1
keySets:
  - name: FacebookSecret
    keys:
      - kind: secret
        use: sig
        value: {env: "FACEBOOK_${suffix}"}
  - name: DevOnly
    environments: [dev]
    keys:
      - {kind: generate, kty: RSA, use: sig}
"""


@pytest.fixture(scope="module")
def prod_emulator():
    with Emulator(tenant_domain="fabrikam.onmicrosoft.com") as running:
        yield running


@pytest.fixture
def prod(prod_emulator):
    prod_emulator.reset()
    return prod_emulator


@pytest.fixture
def repo(tmp_path, monkeypatch, emu, prod):
    """A repository with the environments file at its root and one manifest, as the
    current folder; dev is the session emulator's tenant (by domain), prod the second's (by id)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "b2ckeys.yaml").write_text(ENVIRONMENTS.format(dev=emu.tenant_domain, prod=prod.tenant_id))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "keys.yaml").write_text(MANIFEST)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def signed_in(emulator, env):
    """`env` (which holds the secrets) signed in to `emulator`'s tenant."""
    environ = {k: v for k, v in env.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    environ.update(emulator.env, FACEBOOK_DEV=CANARY, FACEBOOK_PROD=PROD_CANARY)
    return environ


def test_validate_checks_every_environment(repo, capsys, env):
    code, out, err = run(capsys, ["validate"], env)
    assert code == 0, err
    assert "Valid for environment dev (tenant contoso.onmicrosoft.com): 1 manifest, 2 key sets, 2 keys." in out
    assert "Valid for environment prod (tenant " in out and "1 manifest, 1 key set, 1 key." in out
    # the warnings say which environment's variable is not set
    assert "FACEBOOK_DEV" in err and "[environment dev]" in err
    assert "FACEBOOK_PROD" in err and "[environment prod]" in err


def test_validate_env_checks_one_environment(repo, capsys, env):
    code, out, err = run(capsys, ["validate", "--env", "prod"], env)
    assert code == 0, err
    assert "Valid for environment prod" in out and "environment dev" not in out
    code, out, _ = run(capsys, ["validate"], {**env, "B2CKEYS_ENV": "dev"})
    assert code == 0 and "Valid for environment dev" in out and "prod" not in out


def test_each_error_says_which_environment(repo, capsys, env):
    (repo / "b2ckeys.yaml").write_text(ENVIRONMENTS.format(dev="a.onmicrosoft.com", prod="b.onmicrosoft.com")
                                       .replace("{suffix: PROD}", "{other: PROD}"))
    (repo / "manifests" / "keys.yaml").write_text(MANIFEST + """\
  - name: Broken
    keys:
      - {kind: generate, kty: RSA, use: sig, nbf: 2027-01-01T00:00:00Z, exp: 2026-01-01T00:00:00Z}
""")
    code, out, err = run(capsys, ["validate"], env)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert "manifests/keys.yaml:7:22: unknown variable '${suffix}': environment 'prod' (b2ckeys.yaml:6:3) " \
           "defines other; add suffix under its variables [environment prod]" in lines
    assert any(line.startswith("manifests/keys.yaml:14:") and "'nbf' must be before 'exp'" in line
               and line.endswith("[every environment]") for line in lines), err


@pytest.mark.parametrize("where, text, column", [
    ("name", "  - name: Facebook${suffix}\n    keys:\n      - {kind: generate, kty: RSA, use: sig}\n", 11),
    ("nbf", "  - name: Dated\n    keys:\n      - {kind: generate, kty: RSA, use: sig, nbf: '${start}'}\n", 51),
])
def test_a_variable_outside_references_is_a_located_error_saying_why(repo, capsys, env, where, text, column):
    (repo / "manifests" / "keys.yaml").write_text(MANIFEST + text)
    code, _, err = run(capsys, ["validate", "--env", "dev"], env)
    assert code == 1
    line = 12 if where == "name" else 14
    assert f"manifests/keys.yaml:{line}:{column}: " in err
    assert f"in '{where}': variables are allowed only inside references and in tenant: policies reference key " \
           "sets by fixed names" in err


def test_dollar_dollar_is_a_literal_dollar_brace(repo, capsys, env):
    (repo / "manifests" / "keys.yaml").write_text(MANIFEST.replace('"FACEBOOK_${suffix}"', '"$${suffix}"'))
    code, _, err = run(capsys, ["validate", "--env", "dev"], env)
    assert code == 1  # `${suffix}` is the name now, literally, which no environment variable can have
    assert "manifests/keys.yaml:7:22: a literal ${ (written $${) cannot be part of an environment variable name" in err


def test_environments_of_a_key_set_must_be_defined(repo, capsys, env):
    (repo / "manifests" / "keys.yaml").write_text(MANIFEST.replace("[dev]", "[dev, staging]"))
    code, _, err = run(capsys, ["validate"], env)
    assert code == 1
    assert "manifests/keys.yaml:9:19: no environment 'staging' in b2ckeys.yaml; it defines: dev, prod " \
           "[every environment]" in err


def test_without_an_environments_file_nothing_changes_but_variables_say_why(tmp_path, monkeypatch, capsys, env):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.yaml").write_text(MANIFEST.replace('"FACEBOOK_${suffix}"', "FACEBOOK_APP_SECRET")
                                         .replace("    environments: [dev]\n", ""))
    code, out, err = run(capsys, ["validate", "plain.yaml"], env)
    assert (code, out.strip()) == (0, "Valid: 1 manifest, 2 key sets, 2 keys."), err
    (tmp_path / "vars.yaml").write_text(MANIFEST)
    code, _, err = run(capsys, ["validate", "vars.yaml"], env)
    assert code == 1
    assert "vars.yaml:7:22: '${suffix}' is a variable, but there is no environments file (b2ckeys.yaml)" in err
    assert "vars.yaml:9:19: 'environments' limits a key set to some environments" in err
    code, _, err = run(capsys, ["validate", "plain.yaml", "--env", "dev"], env)
    assert code == 1 and "environment 'dev' was selected (--env or B2CKEYS_ENV), but there is no b2ckeys.yaml" in err


def test_environments_file_problems_are_located(repo, capsys, env):
    (repo / "b2ckeys.yaml").write_text("version: 1\nenvironments:\n  dev:\n    tenant: x.onmicrosoft.com\n"
                                       "    vars: {a: b}\n  bad name:\n    tenant: y.onmicrosoft.com\n")
    code, _, err = run(capsys, ["validate"], env)
    assert code == 1
    assert "b2ckeys.yaml:5:5: unknown property 'vars' (allowed: tenant, variables)" in err
    assert "b2ckeys.yaml:6:3: 'bad name' is not a name an environment may have" in err


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["drift"], ["export"]])
def test_commands_refuse_without_an_environment(repo, capsys, env, emu, command):
    code, out, err = run(capsys, command, env)
    assert code == 1 and out == ""
    assert err.strip() == (f"error: b2ckeys.yaml defines the environments dev, prod: say which one 'b2ckeys "
                           f"{command[0]}' is for with --env NAME (or B2CKEYS_ENV=NAME); nothing was read or changed")
    assert graph_calls(emu) == []
    code, _, err = run(capsys, command + ["--env", "test"], env)
    assert code == 1 and "no environment 'test' in b2ckeys.yaml (--env or B2CKEYS_ENV); it defines: dev, prod" in err


def test_environment_switch_applies_each_environment_to_its_tenant(repo, capsys, env, emu, prod):
    code, out, err = run(capsys, ["apply", "--env", "dev", "--auto-approve"], signed_in(emu, env))
    assert code == 0, err
    assert out.startswith("Environment: dev (tenant contoso.onmicrosoft.com)")
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 1, "B2C_1A_DevOnly": 1}
    environ = {**signed_in(prod, env), "B2CKEYS_ENV": "prod"}
    code, out, err = run(capsys, ["plan", "--format", "json"], environ)
    assert code == 0, err
    planned = json.loads(out)
    assert planned["environment"] == "prod"
    assert [c["keySet"] for c in planned["changes"]] == ["B2C_1A_FacebookSecret", "B2C_1A_FacebookSecret"]
    code, _, err = run(capsys, ["apply", "--auto-approve"], environ)
    assert code == 0, err
    assert keys_in(prod) == {"B2C_1A_FacebookSecret": 1}  # DevOnly is dev's only
    uploaded = [r for r in writes(prod) if r["path"].endswith("/uploadSecret")]
    assert len(uploaded) == 1
    for where in (out, err, json.dumps(emu.requests()), json.dumps(prod.requests())):
        assert CANARY not in where and PROD_CANARY not in where
    assert emu.state() != prod.state()


def test_the_tenant_guard_checks_the_environments_tenant(repo, capsys, env, emu, prod):
    code, out, err = run(capsys, ["plan", "--env", "prod"], signed_in(emu, env))  # dev's credentials
    assert code == 1 and out == ""
    assert (f"error: wrong tenant: environment prod is for tenant {prod.tenant_id}, but b2ckeys is signed in to "
            f"tenant {emu.tenant_id}") in err
    assert "check AZURE_TENANT_ID or environment prod's tenant in the environments file" in err
    assert [r for r in graph_calls(emu) if "keySets" in r["path"]] == []
    (repo / "b2ckeys.yaml").write_text(ENVIRONMENTS.format(dev=emu.tenant_domain, prod=prod.tenant_domain))
    code, out, err = run(capsys, ["plan", "--env", "prod"], signed_in(emu, env))  # a domain dev's login host does not know
    assert code == 1
    assert "error: wrong tenant: environment prod is for tenant fabrikam.onmicrosoft.com, which https://" in err
    assert "check environment prod's tenant in the environments file and AZURE_TENANT_ID" in err
    assert [r for r in graph_calls(emu) if "keySets" in r["path"]] == []


def test_a_manifest_tenant_must_be_the_environments(repo, capsys, env, emu):
    (repo / "manifests" / "keys.yaml").write_text("tenant: other.onmicrosoft.com\n" + MANIFEST)
    code, _, err = run(capsys, ["validate", "--env", "dev"], env)
    assert code == 1
    assert "manifests/keys.yaml:1:9: tenant 'other.onmicrosoft.com' is not the tenant of environment 'dev' " \
           "(contoso.onmicrosoft.com, b2ckeys.yaml:3:3)" in err
    (repo / "manifests" / "keys.yaml").write_text("tenant: ${tenant}\n" + MANIFEST)
    (repo / "b2ckeys.yaml").write_text(ENVIRONMENTS.format(dev=emu.tenant_domain, prod="b.onmicrosoft.com")
                                       .replace("{suffix: DEV}", f"{{suffix: DEV, tenant: {emu.tenant_domain}}}"))
    code, out, err = run(capsys, ["plan", "--env", "dev"], signed_in(emu, env))
    assert code == 0, err


def test_a_saved_plan_records_its_environment_and_refuses_another(repo, capsys, env, emu, prod):
    environ = signed_in(emu, env)
    code, out, err = run(capsys, ["plan", "--env", "dev", "--out", "dev.plan"], environ)
    assert code == 0, err
    saved = json.loads((repo / "dev.plan").read_text())
    assert saved["environment"] == "dev"
    code, out, err = run(capsys, ["show", "dev.plan"], {})
    assert code == 0 and out.startswith("Environment: dev\n")
    code, out, _ = run(capsys, ["show", "dev.plan", "--format", "markdown"], {})
    assert out.startswith("**Environment:** `dev`")
    for other in (["--env", "prod"], []):
        environ_other = {**environ, "B2CKEYS_ENV": "prod"} if not other else environ
        code, out, err = run(capsys, ["apply", "dev.plan", *other], environ_other)
        assert code == 1
        assert err.startswith("error: the saved plan dev.plan was made for environment dev, not for environment "
                              "prod (--env or B2CKEYS_ENV); nothing was changed")
    assert writes(emu) == [] and keys_in(emu) == {}
    code, out, err = run(capsys, ["apply", "dev.plan"], environ)  # its own environment, from the plan
    assert code == 0, err
    assert keys_in(emu) == {"B2C_1A_FacebookSecret": 1, "B2C_1A_DevOnly": 1}
    assert CANARY not in (repo / "dev.plan").read_text()


def test_an_edited_environment_in_a_saved_plan_is_refused(repo, capsys, env, emu):
    code, _, err = run(capsys, ["plan", "--env", "dev", "--out", "dev.plan"], signed_in(emu, env))
    assert code == 0, err
    data = json.loads((repo / "dev.plan").read_text())
    (repo / "dev.plan").write_text(json.dumps({**data, "environment": "prod"}))
    code, _, err = run(capsys, ["show", "dev.plan"], {})
    assert code == 1 and "the plan file was changed after b2ckeys wrote it" in err


def test_the_environments_file_is_not_read_as_a_manifest(repo, capsys, env):
    code, out, err = run(capsys, ["validate", "--env", "dev", "."], env)
    assert code == 0, err
    assert "1 manifest," in out


def test_environments_lists_them_for_a_ci_matrix(repo, capsys, emu):
    code, out, err = run(capsys, ["environments", "--format", "json"], {})
    assert (code, json.loads(out)) == (0, ["dev", "prod"]), err
    code, out, _ = run(capsys, ["environments"], {})
    assert out.splitlines()[0] == f"dev   {emu.tenant_domain}"
    (repo / "sub").mkdir()
    (repo / "b2ckeys.yaml").rename(repo / "sub" / "moved.yaml")
    code, out, err = run(capsys, ["environments"], {})
    assert code == 1 and "error: no b2ckeys.yaml in this folder nor at the root of its git work tree" in err


def test_the_environments_file_is_found_at_the_root_of_the_work_tree(repo, capsys, monkeypatch, env):
    (repo / "manifests" / "deep").mkdir()
    monkeypatch.chdir(repo / "manifests" / "deep")
    code, out, err = run(capsys, ["validate", "--env", "prod", ".."], env)
    assert code == 0, err
    assert "Valid for environment prod" in out


def test_the_environments_schema_is_shipped(capsys, tmp_path):
    code, out, _ = run(capsys, ["schema", "--environments"], {})
    schema = json.loads(out)
    assert code == 0 and schema["$id"].endswith("/schemas/environments.schema.json")
    from jsonschema import Draft202012Validator

    example = {"version": 1, "environments": {"dev": {"tenant": "contoso-dev.onmicrosoft.com",
                                                      "variables": {"vault": "kv-b2c-dev"}}}}
    assert list(Draft202012Validator(schema).iter_errors(example)) == []
    assert list(Draft202012Validator(schema).iter_errors({**example, "environments": {}}))


def test_variables_in_a_file_reference_and_a_literal_dollar_brace(repo, capsys, env):
    (repo / "manifests" / "keys.yaml").write_text(MANIFEST.replace('{env: "FACEBOOK_${suffix}"}',
                                                                   '{file: "secrets/${suffix}-$${x}.txt"}'))
    (repo / "manifests" / "secrets").mkdir()
    (repo / "manifests" / "secrets" / "DEV-${x}.txt").write_text("not a real secret")
    (repo / "manifests" / "secrets" / "DEV-${x}.txt").chmod(0o600)
    code, out, err = run(capsys, ["validate"], env)
    assert code == 0, err
    assert err.strip() == ("manifests/keys.yaml:7:16: warning: secret file manifests/secrets/PROD-${x}.txt does "
                           "not exist; apply needs it [environment prod]")


def test_drift_and_export_work_in_the_selected_environment_only(repo, capsys, env, emu, prod):
    environ = signed_in(emu, env)
    code, _, err = run(capsys, ["apply", "--env", "dev", "--auto-approve"], environ)
    assert code == 0, err
    code, out, err = run(capsys, ["drift", "--env", "dev", "--format", "json"], environ)
    assert code == 0, (out, err)
    assert json.loads(out)["environment"] == "dev"
    code, out, err = run(capsys, ["drift", "--env", "dev"], environ)
    assert code == 0 and out.startswith("Environment: dev\n\nDrift at "), (out, err)
    code, out, err = run(capsys, ["drift", "--env", "dev", "--format", "markdown"], environ)
    assert code == 0 and out.startswith("**Environment:** `dev`\n\n"), (out, err)
    code, out, err = run(capsys, ["export", "--env", "dev"], environ)
    assert code == 0, err
    assert "name: FacebookSecret" in out and "name: DevOnly" in out
    assert f"# tenant: {emu.tenant_domain}" in out
    for command in (["drift"], ["export"]):
        code, out, err = run(capsys, command + ["--env", "prod"], environ)  # dev's credentials
        assert code == 1 and f"error: wrong tenant: environment prod is for tenant {prod.tenant_id}" in err
