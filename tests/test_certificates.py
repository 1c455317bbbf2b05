"""Kinds `certificate` and `pkcs12`: reading certificate files (PEM, DER, base64, PFX),
the manifest rules, the emulator's uploads, and each kind end to end: plan, apply, a
changed certificate planned as a new key, a lost answer found by its thumbprint, and
the PKCS#12 password never shown or saved anywhere."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from helpers.certkit import DAY, PFX_PASSWORD, certificate, ec_certificate, write, x5t
from helpers.cli import graph_calls, run
from helpers.graph import Graph
from reconciler.core.diagnostics import Severity
from reconciler.core.errors import ManifestError
from reconciler.core.model import KeyKind
from reconciler.manifest.certificates import (
    CertificateProblem,
    parse_certificate,
    parse_pkcs12,
    upload_payload,
    with_certificate_facts,
)
from reconciler.manifest.reader import load_manifests

NOW = int(time.time())


@pytest.fixture(scope="module")
def cert():
    return certificate("saml", nbf=NOW - DAY)


def manifest(tmp_path, *keys, name="Saml", extra=""):
    path = tmp_path / "m.yaml"
    body = "".join(f"      - {k}\n" for k in keys)
    path.write_text(f"version: 1\n{extra}keySets:\n  - name: {name}\n    keys:\n{body}")
    return path


@pytest.mark.parametrize("form", ["pem", "der", "base64"])
def test_certificate_files_in_every_form_give_the_same_facts(tmp_path, cert, form):
    data = write(tmp_path / f"c.{form}", cert, form, with_key=form == "pem").read_bytes()
    facts = parse_certificate(data)
    assert facts.x5t == x5t(cert) and len(facts.x5t) == 27 and "=" not in facts.x5t
    assert facts.nbf == NOW - DAY and facts.exp == NOW - DAY + 365 * DAY


def test_pkcs12_needs_its_password(tmp_path, cert):
    data = write(tmp_path / "c.pfx", cert, "pfx").read_bytes()
    assert parse_pkcs12(data, PFX_PASSWORD).x5t == x5t(cert)
    with pytest.raises(CertificateProblem, match="wrong password"):
        parse_pkcs12(data, "not-it")


@pytest.mark.parametrize("data, message", [
    (b"hello, not a certificate", "does not hold a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not hold a certificate"),
])
def test_what_is_not_a_certificate_is_said(data, message):
    with pytest.raises(CertificateProblem, match=message):
        parse_certificate(data)


def test_only_rsa_certificates(tmp_path):
    with pytest.raises(CertificateProblem, match="not RSA"):
        parse_certificate(write(tmp_path / "ec.pem", ec_certificate(NOW)).read_bytes())


def test_facts_are_read_into_the_desired_state(tmp_path, cert):
    write(tmp_path / "certs/saml.cer", cert, "der")
    write(tmp_path / "certs/idp.pfx", cert, "pfx")
    path = manifest(tmp_path, "{kind: certificate, file: certs/saml.cer}")
    (tmp_path / "p.yaml").write_text("version: 1\nkeySets:\n  - name: Idp\n    keys:\n"
                                     "      - {kind: pkcs12, file: certs/idp.pfx, password: {env: PFX}}\n")
    state = load_manifests([str(path), str(tmp_path / "p.yaml")]).state
    assert [k.x5t for ks in state.keysets for k in ks.keys] == [None, None]  # not read by the loader

    filled, found = with_certificate_facts(state, {"PFX": PFX_PASSWORD})
    assert found == []
    assert [(k.kind, k.x5t, k.nbf) for ks in filled.keysets for k in ks.keys] == [
        (KeyKind.CERTIFICATE, x5t(cert), NOW - DAY), (KeyKind.PKCS12, x5t(cert), NOW - DAY)]

    # the password is not there: validate warns (and says why), plan and apply refuse
    _, lenient = with_certificate_facts(state, {}, strict=False)
    assert [d.severity for d in lenient] == [Severity.WARNING] and "thumbprint cannot be read" in lenient[0].message
    _, strict = with_certificate_facts(state, {})
    assert [d.severity for d in strict] == [Severity.ERROR] and "PFX is not set" in strict[0].message
    assert strict[0].location.path == str(tmp_path / "p.yaml")

    (tmp_path / "certs/idp.pfx").unlink()
    _, lenient = with_certificate_facts(state, {"PFX": PFX_PASSWORD}, strict=False)
    assert [d.severity for d in lenient] == [Severity.WARNING] and "thumbprint is unknown" in lenient[0].message


def test_the_manifest_rules_of_certificate_kinds(tmp_path):
    path = manifest(tmp_path, "{kind: certificate, file: a.cer, nbf: 2026-01-01T00:00:00Z}",
                    "{kind: certificate, file: a.cer, use: enc}",
                    "{kind: pkcs12, file: a.pfx, password: hunter2-literal}",
                    "{kind: pkcs12, file: a.pfx}",
                    "{kind: certificate, file: a.cer, password: {env: X}}",
                    "{kind: secret, use: sig, value: {env: X}, rotate: {lifetime: 10d, renewBefore: 2d}}")
    with pytest.raises(ManifestError) as e:
        load_manifests([str(path)])
    text = str(e.value)
    assert "'nbf' is not allowed for kind certificate (the certificate's own validity is used)" in text
    assert "'use' must be sig (got 'enc') (B2C uploads certificates as signing keys)" in text
    assert "a password must not be written in the manifest" in text and "hunter2-literal" not in text
    assert "missing required property 'password'" in text
    assert "'password' is not allowed for kind certificate (a .pfx file with a password is kind pkcs12)" in text
    assert "'rotate' is not allowed for kind secret" in text


def test_the_same_certificate_twice_in_a_key_set_is_an_error(tmp_path, cert):
    write(tmp_path / "a.pem", cert)
    write(tmp_path / "b.cer", cert, "der")
    state = load_manifests([str(manifest(tmp_path, "{kind: certificate, file: a.pem}",
                                         "{kind: certificate, file: b.cer}"))]).state
    _, found = with_certificate_facts(state, {})
    assert len(found) == 1 and "the same certificate" in found[0].message and found[0].location.line == 6


def test_the_upload_reads_the_file_again_and_refuses_a_changed_one(tmp_path, cert):
    write(tmp_path / "a.pem", cert, with_key=True)
    state, _ = with_certificate_facts(load_manifests([str(manifest(tmp_path, "{kind: certificate, file: a.pem}"))]).state)
    key = state.keysets[0].keys[0]
    body = upload_payload(key, resolve=None)
    assert set(body) == {"key"}
    assert base64.b64decode(body["key"]) == cert.public_bytes(Encoding.DER)  # the certificate only: no private key
    write(tmp_path / "a.pem", certificate("other", nbf=NOW))
    with pytest.raises(ManifestError, match="changed since the plan was made"):
        upload_payload(key, resolve=None)


# -- the emulator ------------------------------------------------------------------------------------------------


def test_emulator_uploads_certificates_and_never_returns_private_material(emu, tmp_path, cert):
    graph = Graph(emu)
    graph("POST", "", {"id": "Saml"})
    der = base64.b64encode(write(tmp_path / "c.cer", cert, "der").read_bytes()).decode()
    answer = graph("POST", "/B2C_1A_Saml/uploadCertificate", {"key": der})
    assert answer["kty"] == "RSA" and answer["use"] == "sig" and "x5t" not in answer  # ASSUMPTIONS.md 36
    assert (answer["nbf"], answer["exp"]) == (NOW - DAY, NOW - DAY + 365 * DAY)
    pfx = base64.b64encode(write(tmp_path / "c.pfx", cert, "pfx").read_bytes()).decode()
    graph("POST", "/B2C_1A_Saml/uploadPkcs12", {"key": pfx, "password": PFX_PASSWORD})
    (read,) = graph("GET", "")["value"]
    assert [k["x5t"] for k in read["keys"]] == [x5t(cert)] * 2
    assert all(set(k) == {"kid", "use", "kty", "nbf", "exp", "e", "n", "x5t", "x5c"} for k in read["keys"])

    with pytest.raises(Exception) as wrong:
        graph("POST", "/B2C_1A_Saml/uploadPkcs12", {"key": pfx, "password": "not-it"})
    assert wrong.value.response.status_code == 400 and "AADB2C95025" in wrong.value.response.text
    graph("POST", "", {"id": "Enc"})
    graph("POST", "/B2C_1A_Enc/generateKey", {"use": "enc", "kty": "RSA"})
    with pytest.raises(Exception) as mixed:
        graph("POST", "/B2C_1A_Enc/uploadCertificate", {"key": der})
    assert "AADB2C95042" in mixed.value.response.text
    expired = base64.b64encode(write(tmp_path / "old.cer", certificate(nbf=NOW - 400 * DAY), "der").read_bytes())
    with pytest.raises(Exception) as old:
        graph("POST", "/B2C_1A_Saml/uploadCertificate", {"key": expired.decode()})
    assert "expired" in old.value.response.text


# -- end to end --------------------------------------------------------------------------------------------------


@pytest.fixture
def pfx_env(env):
    env["SAML_PFX_PASSWORD"] = PFX_PASSWORD
    return env


@pytest.mark.parametrize("form", ["pem", "der", "base64", "pfx"])
def test_each_kind_end_to_end(emu, pfx_env, capsys, tmp_path, cert, form):
    write(tmp_path / f"certs/saml.{form}", cert, form, with_key=form == "pem")
    key = (f"{{kind: pkcs12, file: certs/saml.{form}, password: {{env: SAML_PFX_PASSWORD}}}}" if form == "pfx"
           else f"{{kind: certificate, file: certs/saml.{form}}}")
    path = str(manifest(tmp_path, key))
    code, out, err = run(capsys, ["validate", path], pfx_env)
    assert code == 0, err
    code, out, err = run(capsys, ["apply", "--auto-approve", path], pfx_env)
    assert code == 0, err
    action = "upload PKCS#12" if form == "pfx" else "upload certificate"
    assert f"+ key in B2C_1A_Saml: {action} file:certs/saml.{form}" in out and f"(x5t {x5t(cert)})" in out
    (saml,) = emu.state()["keySets"]
    assert [(k["x5t"], k["kty"], k["use"]) for k in saml["keys"]] == [(x5t(cert), "RSA", "sig")]
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", path], pfx_env)
    assert code == 0 and "No changes." in out
    assert PFX_PASSWORD not in out + err
    assert all(PFX_PASSWORD not in json.dumps(r) for r in emu.requests())


def test_a_changed_certificate_is_planned_as_a_new_key(emu, env, capsys, tmp_path, cert):
    write(tmp_path / "saml.pem", cert)
    path = str(manifest(tmp_path, "{kind: certificate, file: saml.pem}"))
    assert run(capsys, ["apply", "--auto-approve", path], env)[0] == 0
    renewed = certificate("saml", nbf=NOW, days=730)
    write(tmp_path / "saml.pem", renewed)
    code, out, _ = run(capsys, ["plan", "--detailed-exitcode", path], env)
    assert code == 2
    assert f"+ key in B2C_1A_Saml: upload certificate file:saml.pem (x5t {x5t(renewed)})" in out
    assert "after apply a key this plan adds" in out  # the renewed one has the later nbf: it takes over
    assert "? key " in out and "in B2C_1A_Saml: RSA sig" in out  # the old one stays, unmanaged
    assert run(capsys, ["apply", "--auto-approve", path], env)[0] == 0
    assert sorted(k["x5t"] for k in emu.state()["keySets"][0]["keys"]) == sorted([x5t(cert), x5t(renewed)])


@pytest.mark.parametrize("kind", ["certificate", "pkcs12"])
def test_a_lost_upload_answer_is_found_by_its_thumbprint(emu, pfx_env, capsys, tmp_path, cert, kind):
    write(tmp_path / "c.bin", cert, "pfx" if kind == "pkcs12" else "der")
    password = ", password: {env: SAML_PFX_PASSWORD}" if kind == "pkcs12" else ""
    path = str(manifest(tmp_path, f"{{kind: {kind}, file: c.bin{password}}}"))
    pfx_env["B2CKEYS_TIME_SCALE"] = "60"
    action = "uploadPkcs12" if kind == "pkcs12" else "uploadCertificate"
    emu.faults.add({"method": "POST", "path": f"*/B2C_1A_Saml/{action}", "commit_then_drop": True, "times": 1})
    code, out, err = run(capsys, ["apply", "--auto-approve", path], pfx_env)
    assert code == 0, err
    assert "added; its answer was lost" in out
    assert [k["x5t"] for k in emu.state()["keySets"][0]["keys"]] == [x5t(cert)]  # once, not twice
    assert PFX_PASSWORD not in out + err


def test_pkcs12_password_missing_or_wrong_stops_plan_before_graph(emu, env, capsys, tmp_path, cert):
    write(tmp_path / "c.pfx", cert, "pfx")
    path = str(manifest(tmp_path, "{kind: pkcs12, file: c.pfx, password: {env: SAML_PFX_PASSWORD}}"))
    code, out, err = run(capsys, ["validate", path], env)
    assert code == 0 and "warning:" in err and "SAML_PFX_PASSWORD is not set" in err
    code, _, err = run(capsys, ["plan", path], env)
    assert code == 1 and "SAML_PFX_PASSWORD is not set" in err
    env["SAML_PFX_PASSWORD"] = "CANARY-wrong-password"
    code, _, err = run(capsys, ["apply", "--auto-approve", path], env)
    assert code == 1 and "wrong password" in err and "CANARY-wrong-password" not in err
    assert graph_calls(emu) == []


def test_saved_plan_of_certificates_holds_no_password_and_round_trips(emu, pfx_env, capsys, tmp_path, cert):
    write(tmp_path / "c.pfx", cert, "pfx")
    path = str(manifest(tmp_path, "{kind: pkcs12, file: c.pfx, password: {env: SAML_PFX_PASSWORD}}"))
    saved = tmp_path / "plan.json"
    assert run(capsys, ["plan", path, "--out", str(saved)], pfx_env)[0] == 0
    text = saved.read_text()
    assert PFX_PASSWORD not in text
    change = json.loads(text)["plan"]["changes"][1]
    assert change["key"] | {"nbf": None, "exp": None} == {
        "kind": "pkcs12", "kty": "RSA", "use": "sig", "nbf": None, "exp": None, "x5t": x5t(cert),
        "file": "c.pfx", "password": {"env": "SAML_PFX_PASSWORD"}}
    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], pfx_env)
    assert code == 0, err
    assert [k["x5t"] for k in emu.state()["keySets"][0]["keys"]] == [x5t(cert)]


def test_a_password_graph_echoes_back_is_scrubbed(emu, pfx_env, capsys, tmp_path, cert):
    write(tmp_path / "c.pfx", cert, "pfx")
    path = str(manifest(tmp_path, "{kind: pkcs12, file: c.pfx, password: {env: SAML_PFX_PASSWORD}}"))
    emu.faults.add({"method": "POST", "path": "*/uploadPkcs12", "status": 400, "code": "AADB2C95025",
                    "message": f"The password '{PFX_PASSWORD}' is wrong.", "times": 1})
    code, out, err = run(capsys, ["apply", "--auto-approve", path], pfx_env)
    assert code == 1 and "AADB2C95025" in err and "[redacted]" in err
    assert PFX_PASSWORD not in out + err
