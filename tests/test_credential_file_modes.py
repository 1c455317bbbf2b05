"""A credential file others on the machine can read (a certificate with its private key, a
federated token) is a warning naming the file and the fix, in every command that signs
in; not an error, and never for a file that holds only a certificate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from helpers.cli import STARTER, run
from reconciler.core.diagnostics import Severity
from reconciler.core.errors import ConfigError
from reconciler.emulator.credentials_kit import make_client_certificate
from reconciler.signin import credentials
from reconciler.signin.credentials import credential_file_warnings

pytestmark = pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")
PASSWORD = "CANARY-cert-password-7d21"


def certificate_file(path: Path, form: str, mode: int, password: str | None = None) -> str:
    key, cert = make_client_certificate()
    protect = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    if form == "pfx":
        data = pkcs12.serialize_key_and_certificates(b"app", key, cert, None, protect)
    elif form == "certificate-only":
        data = cert.public_bytes(serialization.Encoding.PEM)
    else:
        data = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protect)
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


def token_file(path: Path, mode: int, token: str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln") -> str:
    path.write_text(token)
    path.chmod(mode)
    return str(path)


def expected(variable: str, path: str, who: str, mode: int) -> str:
    return (f"{variable}={path} is readable by {who} (mode {mode:04o}), and "
            + ("holds a private key" if variable.endswith("PATH") else "whoever reads its token can sign in as the app")
            + f"; make it private: chmod 600 {path}")


# -- which files, which modes -------------------------------------------------------------------


@pytest.mark.parametrize("form", ["pem", "pem-encrypted", "pfx"])
@pytest.mark.parametrize("mode, who", [(0o644, "group and others"), (0o640, "group"), (0o604, "others")])
def test_a_private_key_others_can_read_is_a_warning(tmp_path, form, mode, who):
    password = PASSWORD if form != "pem" else None
    path = certificate_file(tmp_path / ("app.pfx" if form == "pfx" else "app.pem"), form, mode, password)
    env = {"AZURE_CLIENT_CERTIFICATE_PATH": path, **({"AZURE_CLIENT_CERTIFICATE_PASSWORD": password} if password else {})}
    [warning] = credential_file_warnings(env)
    assert warning.severity is Severity.WARNING and warning.location is None
    assert warning.message == expected("AZURE_CLIENT_CERTIFICATE_PATH", path, who, mode)
    assert PASSWORD not in str(warning)
    credentials.from_environment(env)  # not an error: signing in goes on


@pytest.mark.parametrize("mode, who", [(0o644, "group and others"), (0o660, "group"), (0o444, "group and others")])
def test_a_federated_token_others_can_read_is_a_warning(tmp_path, mode, who):
    path = token_file(tmp_path / "oidc-token", mode)
    [warning] = credential_file_warnings({"AZURE_FEDERATED_TOKEN_FILE": path})
    assert warning.message == expected("AZURE_FEDERATED_TOKEN_FILE", path, who, mode)
    assert "eyJ" not in str(warning)


def test_private_files_and_other_credentials_give_no_warning(tmp_path):
    for mode in (0o600, 0o400, 0o700):
        pem = certificate_file(tmp_path / f"app-{mode:o}.pem", "pem", mode)
        assert credential_file_warnings({"AZURE_CLIENT_CERTIFICATE_PATH": pem}) == []
        token = token_file(tmp_path / f"token-{mode:o}", mode)
        assert credential_file_warnings({"AZURE_FEDERATED_TOKEN_FILE": token}) == []
    loose = token_file(tmp_path / "loose-token", 0o644)
    assert credential_file_warnings({"AZURE_CLIENT_SECRET": "CANARY", "AZURE_FEDERATED_TOKEN_FILE": loose}) == []
    assert credential_file_warnings({"B2CKEYS_AUTH": "managed-identity"}) == []
    assert credential_file_warnings({}) == []  # no credential: that error is said elsewhere
    assert credential_file_warnings({"AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "missing")}) == []


def test_a_pem_holding_only_a_certificate_is_public(tmp_path):
    path = certificate_file(tmp_path / "cert.pem", "certificate-only", 0o644)
    assert credential_file_warnings({"AZURE_CLIENT_CERTIFICATE_PATH": path}) == []
    with pytest.raises(ConfigError, match="holds no private key"):  # the error it always was
        credentials.from_environment({"AZURE_CLIENT_CERTIFICATE_PATH": path})


def test_a_link_to_a_loose_token_warns_about_the_path_given(tmp_path):
    """AKS projects the token as a link into a `..data` folder; the mode is the target's."""
    (tmp_path / "..data").mkdir()
    token_file(tmp_path / "..data" / "azure-identity-token", 0o644)
    link = tmp_path / "azure-identity-token"
    link.symlink_to(tmp_path / "..data" / "azure-identity-token")
    [warning] = credential_file_warnings({"AZURE_FEDERATED_TOKEN_FILE": str(link)})
    assert warning.message.startswith(f"AZURE_FEDERATED_TOKEN_FILE={link} is readable by group and others")


def test_a_fifo_is_not_opened(tmp_path):
    fifo = tmp_path / "app.pem"
    os.mkfifo(fifo, 0o644)
    assert credential_file_warnings({"AZURE_CLIENT_CERTIFICATE_PATH": str(fifo)}) == []


# -- every command that signs in says it ---------------------------------------------------------


COMMANDS = {
    "doctor": ["doctor"],
    "plan": ["plan", STARTER],
    "apply": ["apply", "--auto-approve", STARTER],
    "drift": ["drift", STARTER],
    "export": ["export"],
}


@pytest.mark.parametrize("kind", ["federated", "pem"])
@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_warns_once_and_otherwise_runs_as_before(emu, tmp_path, capsys, command, kind):
    env = {k: v for k, v in emu.env.items() if k != "AZURE_CLIENT_SECRET"}
    env["FACEBOOK_APP_SECRET"] = "CANARY-fb-secret-m0d3"
    if kind == "federated":
        variable, path = "AZURE_FEDERATED_TOKEN_FILE", token_file(tmp_path / "oidc-token", 0o600, emu.federated_token())
    else:
        variable, path = "AZURE_CLIENT_CERTIFICATE_PATH", str(tmp_path / "app.pem")
        emu.write_client_certificate(path)  # mode 0600
    env[variable] = path
    private = run(capsys, COMMANDS[command], env)
    emu.reset()
    if kind == "pem":
        os.remove(path)
        emu.write_client_certificate(path)  # the reset forgot the registered certificate
    os.chmod(path, 0o644)
    loose = run(capsys, COMMANDS[command], env)
    warning = f"warning: {expected(variable, path, 'group and others', 0o644)}\n"
    assert loose[0] == private[0]
    assert loose[2].count(warning) == 1, loose[2]
    assert loose[2].replace(warning, "") == private[2]
