"""`export` of keys that hold a certificate (x5t): written as `kind: pkcs12` with a `file:`
placeholder and a password reference, never as `kind: generate` (which would make random keys
in another tenant); validate fails at the placeholder until it is filled in; filled in with the
real file, the plan shows no change. Also: `--out` makes its folders, and the modeline names
the published schema's URL (or `--schema-ref`)."""

import base64
import time

import pytest

from helpers.certkit import DAY, PFX_PASSWORD, certificate, write, x5t
from helpers.cli import run, writes
from helpers.graph import Graph
from reconciler.core.model import KeyType, KeyUse, LiveKey, LiveKeySet, LiveState
from reconciler.core.shipped import SCHEMA_URL
from reconciler.manifest.export import export_manifest

NOW = int(time.time())


@pytest.fixture(scope="module")
def cert():
    return certificate("saml signing", nbf=NOW - DAY, days=400)


def test_a_certificate_key_is_exported_as_pkcs12_with_placeholders():
    live = LiveState((
        LiveKeySet("B2C_1A_SamlCert", (LiveKey("c1", KeyType.RSA, KeyUse.SIG, 1767225600, 1798761600, x5t="AbC-_x5t"),
                                       LiveKey("g1", KeyType.RSA, KeyUse.SIG))),
        LiveKeySet("B2C_1A_EncCert", (LiveKey("e1", KeyType.RSA, KeyUse.ENC, x5t="EnCx5t"),)),
    ))
    result = export_manifest(live)
    text = result.text
    assert "      # certificate x5t AbC-_x5t, valid 2026-01-01T00:00:00Z to 2027-01-01T00:00:00Z.\n" in text
    assert ("      - kind: pkcs12   # kid c1\n        file: REPLACE-ME/SamlCert-AbC-_x5t.pfx\n"
            "        password: {env: SAML_CERT_PFX_PASSWORD}\n") in text
    assert "      - kind: generate   # kid g1\n" in text and text.count("kind: generate") == 1
    assert "write kind: certificate and drop `password:`" in text  # the way out when only the public certificate is held
    assert "placeholder: validate fails until" in text
    assert "# B2C_1A_EncCert: not exported: key e1 holds a certificate with use enc" in text
    assert result.keys == 2 and len(result.skipped) == 1


def test_a_hostile_thumbprint_never_reaches_the_path_or_breaks_the_yaml():
    live = LiveState((LiveKeySet("B2C_1A_X", (LiveKey("k", KeyType.RSA, KeyUse.SIG, x5t="../../e\n: x"),)),))
    text = export_manifest(live).text
    assert "file: REPLACE-ME/X-.._.._e___x.pfx" in text and "\n: x" not in text


def upload_pfx(graph, name, cert):
    graph("POST", "", {"id": name})
    pfx = write_tmp_pfx(cert)
    return graph("POST", f"/B2C_1A_{name}/uploadPkcs12", {"key": base64.b64encode(pfx).decode(),
                                                          "password": PFX_PASSWORD})


def write_tmp_pfx(cert):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from helpers.certkit import rsa_key
    return pkcs12.serialize_key_and_certificates(
        b"b2ckeys", rsa_key(), cert, None, serialization.BestAvailableEncryption(PFX_PASSWORD.encode()))


def test_export_fill_in_the_placeholder_plan_shows_no_change(emu, env, capsys, tmp_path, cert):
    graph = Graph(emu)
    upload_pfx(graph, "SamlSigning", cert)
    graph("POST", "", {"id": "SamlPublic"})
    graph("POST", "/B2C_1A_SamlPublic/uploadCertificate",
          {"key": base64.b64encode(write(tmp_path / "public.cer", cert, "der").read_bytes()).decode()})
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    out = repo / "new" / "dir" / "tenant.yaml"  # its folders do not exist yet
    before = len(writes(emu))

    code, _, err = run(capsys, ["export", "--out", str(out)], env)
    assert code == 0, err
    text = out.read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert "kind: generate" not in text and text.count("kind: pkcs12") == 2 and f"x5t {x5t(cert)}" in text

    code, _, err = run(capsys, ["validate", str(out)], env)  # the placeholders fail validate
    assert code == 1
    placeholders = [line for line in err.splitlines() if "placeholder from export" in line]
    assert len(placeholders) == 2 and all(f"{out}:" in line for line in placeholders), err
    assert "put the certificate's file at" in placeholders[0]

    # fill them in: the .pfx of the signing key; the public certificate alone for the other
    write(repo / "certs" / "saml.pfx", cert, "pfx").chmod(0o600)
    write(repo / "certs" / "saml.cer", cert, "der")
    lines = out.read_text().splitlines()
    for i, line in enumerate(lines):
        if "file: REPLACE-ME/SamlSigning-" in line:
            lines[i] = "        file: ../../certs/saml.pfx"
        if "file: REPLACE-ME/SamlPublic-" in line:
            lines[i - 1] = lines[i - 1].replace("kind: pkcs12", "kind: certificate")
            lines[i], lines[i + 1] = "        file: ../../certs/saml.cer", ""
    out.write_text("\n".join(lines) + "\n")
    env["SAML_SIGNING_PFX_PASSWORD"] = PFX_PASSWORD

    code, _, err = run(capsys, ["validate", str(out)], env)
    assert code == 0, err
    code, stdout, err = run(capsys, ["plan", "--detailed-exitcode", str(out)], env)
    assert code == 0, stdout + err
    assert "No changes." in stdout and PFX_PASSWORD not in stdout + err
    assert len(writes(emu)) == before  # export, validate and plan write nothing


def test_schema_ref_names_another_schema(emu, env, capsys):
    code, stdout, _ = run(capsys, ["export", "--schema-ref", "https://example.test/keysets.json"], env)
    assert code == 0 and stdout.splitlines()[0] == "# yaml-language-server: $schema=https://example.test/keysets.json"
