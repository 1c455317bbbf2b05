"""A file a manifest names that is not there is said to be missing, with its path and the
manifest's location, for every kind that reads a file: certificate, PKCS#12 (with or without
its password), a secret file and a password file; never "cannot be read without the password"."""

import time

import pytest

from helpers.certkit import DAY, PFX_PASSWORD, certificate, write
from helpers.cli import run

NOW = int(time.time())


@pytest.fixture(scope="module")
def cert():
    return certificate("missing-files", nbf=NOW - DAY)


def manifest(root, key: str, name: str = "Idp"):
    (root / ".git").mkdir(exist_ok=True)
    path = root / "keys.yaml"
    path.write_text(f"version: 1\nkeySets:\n  - name: {name}\n    keys:\n      - {key}\n")
    return path


@pytest.mark.parametrize("password_set", [False, True])
def test_a_missing_pfx_is_named_missing_in_validate(tmp_path, capsys, password_set):
    path = manifest(tmp_path, "{kind: pkcs12, file: certs/idp.pfx, password: {env: B2CKEYS_TEST_PFX_PW}}")
    env = {"B2CKEYS_TEST_PFX_PW": PFX_PASSWORD} if password_set else {}
    code, out, err = run(capsys, ["validate", str(path)], env)
    assert code == 0, err  # validate runs without secrets: a warning
    pfx = tmp_path / "certs" / "idp.pfx"
    assert f"{path}:5:30: warning: PKCS#12 file certs/idp.pfx: file {pfx} does not exist" in err
    assert "without the password" not in err and PFX_PASSWORD not in out + err


def test_a_missing_pfx_is_named_missing_in_plan(emu, env, tmp_path, capsys):
    path = manifest(tmp_path, "{kind: pkcs12, file: certs/idp.pfx, password: {env: B2CKEYS_TEST_PFX_PW}}")
    code, _, err = run(capsys, ["plan", str(path)], env)
    assert code == 1
    assert f"{path}:5:30: PKCS#12 file certs/idp.pfx: file {tmp_path / 'certs' / 'idp.pfx'} does not exist" in err
    assert "without the password" not in err


def test_a_missing_certificate_file_is_named_missing(tmp_path, capsys):
    path = manifest(tmp_path, "{kind: certificate, file: certs/saml.cer}")
    code, _, err = run(capsys, ["validate", str(path)], {})
    assert code == 1
    assert f"{path}:5:35: certificate certs/saml.cer: file {tmp_path / 'certs' / 'saml.cer'} does not exist" in err


def test_a_missing_password_file_is_named_a_password_file(tmp_path, capsys, cert):
    write(tmp_path / "certs" / "idp.pfx", cert, "pfx").chmod(0o600)
    path = manifest(tmp_path, "{kind: pkcs12, file: certs/idp.pfx, password: {file: certs/pw.txt}}")
    code, _, err = run(capsys, ["validate", str(path)], {})
    assert code == 0, err
    assert f"warning: password file {tmp_path / 'certs' / 'pw.txt'} does not exist; plan and apply need it" in err


def test_a_missing_secret_file_is_named_missing(tmp_path, capsys):
    path = manifest(tmp_path, "{kind: secret, use: sig, value: {file: s.txt}}")
    code, _, err = run(capsys, ["validate", str(path)], {})
    assert code == 0, err
    assert f"{path}:5:41: warning: secret file {tmp_path / 's.txt'} does not exist; apply needs it" in err


def test_a_pfx_declared_as_a_certificate_says_to_declare_it_pkcs12(tmp_path, capsys, cert):
    write(tmp_path / "certs" / "idp.pfx", cert, "pfx").chmod(0o600)
    path = manifest(tmp_path, "{kind: certificate, file: certs/idp.pfx}")
    code, _, err = run(capsys, ["validate", str(path)], {})
    assert code == 1 and "declare it as kind: pkcs12 with its password" in err
