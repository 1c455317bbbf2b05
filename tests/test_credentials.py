"""Offline: which credential the environment selects, certificate files told apart by
content, and the hosts and token scope of each cloud."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from reconciler.core.errors import ConfigError
from reconciler.emulator.credentials_kit import make_client_certificate
from reconciler.graph.settings import from_environment
from reconciler.signin import credentials
from reconciler.signin.credentials import Kind, kind_from_environment

APP = {"AZURE_TENANT_ID": "contoso.onmicrosoft.com", "AZURE_CLIENT_ID": "11111111-2222-4333-8444-555555555555"}
PASSWORD = "CANARY-pw-0f3e"


# -- the order ---------------------------------------------------------------------------------


@pytest.mark.parametrize("present, kind", [
    (("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"), Kind.SECRET),
    (("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE"), Kind.CERTIFICATE),
    (("AZURE_FEDERATED_TOKEN_FILE",), Kind.FEDERATED),
])
def test_first_credential_in_the_documented_order_wins(present, kind):
    assert kind_from_environment({name: "x" for name in present}) is kind


def test_managed_identity_only_when_asked_and_alone():
    assert kind_from_environment({"B2CKEYS_AUTH": "Managed-Identity"}) is Kind.MANAGED_IDENTITY
    with pytest.raises(ConfigError, match="B2CKEYS_AUTH=managed-identity and AZURE_CLIENT_SECRET are both set"):
        kind_from_environment({"B2CKEYS_AUTH": "managed-identity", "AZURE_CLIENT_SECRET": "CANARY"})
    with pytest.raises(ConfigError, match="B2CKEYS_AUTH='kerberos' is not known"):
        kind_from_environment({"B2CKEYS_AUTH": "kerberos"})


def test_no_credential_names_every_choice():
    with pytest.raises(ConfigError) as caught:
        kind_from_environment(APP)
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
                 "B2CKEYS_AUTH=managed-identity"):
        assert name in str(caught.value)


def test_managed_identity_is_user_assigned_when_a_client_id_is_set():
    system = credentials.from_environment({"B2CKEYS_AUTH": "managed-identity"})
    assert system.user_assigned_id is None and "system-assigned" in system.description
    user = credentials.from_environment({"B2CKEYS_AUTH": "managed-identity", **APP})
    assert user.user_assigned_id == APP["AZURE_CLIENT_ID"] and "user-assigned" in user.description
    assert from_environment({"B2CKEYS_AUTH": "managed-identity"}, app_required=False).tenant_id == ""
    with pytest.raises(ConfigError, match="AZURE_TENANT_ID and AZURE_CLIENT_ID are not set"):
        from_environment({})


# -- certificate files -------------------------------------------------------------------------


def write(path, form, password=None):
    key, cert = make_client_certificate()
    protect = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    if form == "pfx":
        data = pkcs12.serialize_key_and_certificates(b"app", key, cert, None, protect)
    else:
        data = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, protect)
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("form, name", [("pem", "app.pfx"), ("pfx", "app.pem"), ("pem", "app.crt"), ("pfx", "app")])
def test_certificate_files_are_told_apart_by_content_not_name(tmp_path, form, name):
    path = write(tmp_path / name, form, PASSWORD)
    credential = credentials.from_environment({"AZURE_CLIENT_CERTIFICATE_PATH": path,
                                               "AZURE_CLIENT_CERTIFICATE_PASSWORD": PASSWORD})
    assert credential.kind is Kind.CERTIFICATE
    assert credential.description.startswith(f"certificate ({form.upper()} {path}, SHA-1 thumbprint ")
    if form == "pem":  # msal: PEM key + SHA-1 thumbprint -> RS256 with x5t
        assert set(credential.msal_credential) == {"private_key", "thumbprint", "passphrase"}
        assert credential.thumbprint.lower() == credential.msal_credential["thumbprint"]
    else:  # msal >= 1.29: the PFX path -> PS256 with x5t#S256
        assert credential.msal_credential == {"private_key_pfx_path": path, "passphrase": PASSWORD}
    assert PASSWORD not in credential.description


@pytest.mark.parametrize("form, password, given, expected", [
    ("pfx", PASSWORD, "CANARY-wrong", "wrong AZURE_CLIENT_CERTIFICATE_PASSWORD"),
    ("pfx", PASSWORD, None, "AZURE_CLIENT_CERTIFICATE_PASSWORD is not set"),
    ("pem", PASSWORD, None, "set AZURE_CLIENT_CERTIFICATE_PASSWORD"),
    ("pem", PASSWORD, "CANARY-wrong", "check AZURE_CLIENT_CERTIFICATE_PASSWORD"),
])
def test_certificate_password_problems_are_named_without_the_password(tmp_path, form, password, given, expected):
    env = {"AZURE_CLIENT_CERTIFICATE_PATH": write(tmp_path / "c", form, password)}
    if given:
        env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = given
    with pytest.raises(ConfigError, match=expected) as caught:
        credentials.from_environment(env)
    assert "CANARY" not in str(caught.value)


def test_pem_without_key_or_with_a_foreign_certificate_is_refused(tmp_path):
    key, cert = make_client_certificate()
    _, other = make_client_certificate()
    only_cert = tmp_path / "cert.pem"
    only_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ConfigError, match="holds no private key"):
        credentials.from_environment({"AZURE_CLIENT_CERTIFICATE_PATH": str(only_cert)})
    mismatched = tmp_path / "mismatch.pem"
    mismatched.write_bytes(other.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ConfigError, match="no certificate in the file matches its private key"):
        credentials.from_environment({"AZURE_CLIENT_CERTIFICATE_PATH": str(mismatched)})


def test_federated_token_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="AZURE_FEDERATED_TOKEN_FILE=.*: no such file"):
        credentials.from_environment({"AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "missing")})


# -- clouds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud, login, graph", [
    ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
    ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
    ("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
])
def test_each_cloud_picks_login_host_graph_host_and_scope(cloud, login, graph):
    settings = from_environment({**APP, "B2CKEYS_CLOUD": cloud.upper()})
    assert settings.cloud.name == cloud
    assert settings.authority_host == login
    assert settings.authority == f"{login}/contoso.onmicrosoft.com"
    assert settings.graph_url == graph  # also the managed identity's resource
    assert settings.graph_scope == f"{graph}/.default"


def test_cloud_hosts_can_be_overridden():
    settings = from_environment({**APP, "B2CKEYS_CLOUD": "china", "AZURE_AUTHORITY_HOST": "https://login.example.cn/",
                                 "B2CKEYS_GRAPH_URL": "https://graph.example.cn/"})
    assert (settings.authority_host, settings.graph_url) == ("https://login.example.cn", "https://graph.example.cn")
    assert settings.graph_scope == "https://graph.example.cn/.default"


def test_global_is_the_default_and_unknown_clouds_are_refused():
    assert from_environment(APP).graph_scope == "https://graph.microsoft.com/.default"
    with pytest.raises(ConfigError, match="use one of: global, usgov, dod, china"):
        from_environment({**APP, "B2CKEYS_CLOUD": "moon"})
