"""Certificate and PKCS#12 files, and PKCS#12 `password: {file: …}` references, stay inside the
repository (or B2CKEYS_SECRETS_ROOT) as `{file: PATH}` secrets do:
refused at validate time, located, with the reason; checked again just before the file is read at
apply; regular files only; a private file others can read is a warning; and a saved plan's file
references keep the same root."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from helpers.certkit import DAY, PFX_PASSWORD, certificate, write
from helpers.cli import run, writes
from reconciler.cli.main import main
from reconciler.core.errors import ManifestError
from reconciler.manifest.certificates import upload_payload
from reconciler.manifest.secrets import resolve
from reconciler.manifest.state import load_state

NOW = int(time.time())
CANARY = "CANARY-outside-cert-file-0c9e"
KEYS = {  # kind of reference -> (the key, as a manifest writes it, with REF for the reference; what it is called)
    "certificate": ("{kind: certificate, file: 'REF'}", "certificate file"),
    "pkcs12": ("{kind: pkcs12, file: 'REF', password: {env: PFX_PASSWORD}}", "PKCS#12 file"),
    "password": ("{kind: pkcs12, file: ../certs/idp.pfx, password: {file: 'REF'}}", "password file"),
}


@pytest.fixture(scope="module")
def cert():
    return certificate("saml", nbf=NOW - DAY)


@pytest.fixture
def repo(tmp_path, cert):
    """A git work tree with manifests/, certs/ (a certificate, a .pfx and its password file) and,
    outside it, files holding a canary."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "manifests").mkdir()
    write(root / "certs" / "saml.pem", cert)
    write(root / "certs" / "idp.pfx", cert, "pfx").chmod(0o600)
    (root / "certs" / "pfx-password.txt").write_text(PFX_PASSWORD + "\n")
    (root / "certs" / "pfx-password.txt").chmod(0o600)
    for name in ("outside.pem", "outside.pfx", "outside.txt"):
        (tmp_path / name).write_text(CANARY + "\n")
    return root


def manifest(repo: Path, kind: str, reference: str) -> Path:
    path = repo / "manifests" / "m.yaml"
    path.write_text(f"version: 1\nkeySets:\n  - name: K\n    keys:\n      - {KEYS[kind][0].replace('REF', reference)}\n")
    return path


def validate(capsys, path: Path, environ: dict | None = None) -> tuple[int, str]:
    code = main(["validate", str(path)], environ={"PFX_PASSWORD": PFX_PASSWORD, **(environ or {})})
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err and PFX_PASSWORD not in captured.out + captured.err
    assert "Traceback" not in captured.err
    return code, captured.err


@pytest.mark.parametrize("kind, reference", [("certificate", "../certs/saml.pem"), ("pkcs12", "../certs/idp.pfx"),
                                             ("password", "../certs/pfx-password.txt")])
def test_files_inside_the_repository_are_accepted(repo, capsys, kind, reference):
    code, err = validate(capsys, manifest(repo, kind, reference))
    assert code == 0 and err == ""


@pytest.mark.parametrize("kind", KEYS)
@pytest.mark.parametrize("reference, reason", [
    ("../../outside.EXT", "it leads out of {root} through '..'"),
    ("{tmp}/outside.EXT", "it is an absolute path outside {root}"),
    ("/etc/passwd", "it is an absolute path outside {root}"),
    ("../certs/link.EXT", "a symbolic link on the way leads out of {root}"),
])
def test_files_out_of_the_repository_are_refused_at_validate_time(repo, capsys, kind, reference, reason):
    ext = {"certificate": "pem", "pkcs12": "pfx", "password": "txt"}[kind]
    (repo / "certs" / f"link.{ext}").symlink_to(repo.parent / f"outside.{ext}")
    written = reference.format(tmp=repo.parent).replace("EXT", ext)
    path = manifest(repo, kind, written)
    code, err = validate(capsys, path)
    assert code == 1
    what = KEYS[kind][1]
    line = path.read_text().splitlines()[4]
    column = line.index("{file:" if kind == "password" else "'") + 1  # where the reference's value starts
    assert err == (f"{path}:5:{column}: {what} {written} is refused: {reason.format(root=repo)}; a {what} "
                   "must be inside the repository, or inside B2CKEYS_SECRETS_ROOT when that is set\n")


def test_secrets_root_moves_the_root_for_certificate_files_too(repo, capsys, tmp_path, cert):
    vault = tmp_path / "vault"
    write(vault / "saml.pem", cert)
    path = manifest(repo, "certificate", str(vault / "saml.pem"))
    code, err = validate(capsys, path)
    assert code == 1 and "is an absolute path outside" in err
    code, err = validate(capsys, path, {"B2CKEYS_SECRETS_ROOT": str(vault)})
    assert code == 0, err
    code, err = validate(capsys, manifest(repo, "certificate", "../certs/saml.pem"), {"B2CKEYS_SECRETS_ROOT": str(vault)})
    assert code == 1 and "is refused: it leads out of" in err  # the root moved: the repository is outside it now


@pytest.mark.parametrize("kind", ["certificate", "pkcs12"])
def test_the_upload_checks_again_just_before_reading(repo, tmp_path, cert, kind):
    """validate and plan saw a file inside; by apply it is a link to a file outside holding the very
    same certificate: the upload refuses it rather than read it."""
    reference = "../certs/saml.pem" if kind == "certificate" else "../certs/idp.pfx"
    environ = {"PFX_PASSWORD": PFX_PASSWORD}
    state, _ = load_state([str(manifest(repo, kind, reference))], environ)
    (key,) = state.keysets[0].keys
    assert key.x5t is not None
    inside = repo / "certs" / reference.rsplit("/", 1)[1]
    outside = tmp_path / f"swapped-{inside.name}"
    outside.write_bytes(inside.read_bytes())
    inside.unlink()
    inside.symlink_to(outside)
    with pytest.raises(ManifestError) as raised:
        upload_payload(key, lambda ref: resolve(ref, environ))
    assert "is refused: a symbolic link on the way leads out of" in str(raised.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("kind", ["certificate", "pkcs12"])
def test_a_fifo_as_a_certificate_file_does_not_hang(repo, capsys, kind):
    os.mkfifo(repo / "certs" / "pipe")
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        out=validate(capsys, manifest(repo, kind, "../certs/pipe"))), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "validate blocked on a FIFO"
    code, err = result["out"]
    assert code == 1 and "certs/pipe is not a file" in err


def test_private_files_others_can_read_are_warned_about_public_certificates_not(repo, capsys):
    (repo / "certs" / "idp.pfx").chmod(0o644)
    (repo / "certs" / "pfx-password.txt").chmod(0o640)
    (repo / "certs" / "saml.pem").chmod(0o644)
    path = repo / "manifests" / "m.yaml"
    path.write_text("version: 1\nkeySets:\n"
                    "  - name: Idp\n    keys:\n      - {kind: pkcs12, file: ../certs/idp.pfx, "
                    "password: {file: ../certs/pfx-password.txt}}\n"
                    "  - name: Saml\n    keys:\n      - {kind: certificate, file: ../certs/saml.pem}\n")
    code, err = validate(capsys, path)
    assert code == 0
    line, folder = path.read_text().splitlines()[4], path.parent
    assert err.splitlines() == [
        f"{path}:5:{line.index('{file:') + 1}: warning: secret file {folder}/../certs/pfx-password.txt is readable "
        f"by group (mode 0640); make it private: chmod 600 {folder}/../certs/pfx-password.txt",
        f"{path}:5:{line.index('../certs/idp') + 1}: warning: PKCS#12 file {folder}/../certs/idp.pfx is readable "
        f"by group and others (mode 0644); make it private: chmod 600 {folder}/../certs/idp.pfx",
    ]  # nothing about saml.pem: a certificate is public


def test_a_saved_plan_keeps_the_secrets_root(emu, env, capsys, repo, tmp_path, cert):
    """apply PLANFILE confines the plan file's references to B2CKEYS_SECRETS_ROOT, as plan did."""
    vault = tmp_path / "vault"
    write(vault / "idp.pfx", cert, "pfx").chmod(0o600)
    (vault / "password.txt").write_text(PFX_PASSWORD)
    (vault / "password.txt").chmod(0o600)
    path = repo / "manifests" / "m.yaml"
    path.write_text(f"version: 1\nkeySets:\n  - name: Idp\n    keys:\n      - {{kind: pkcs12, file: {vault}/idp.pfx, "
                    f"password: {{file: {vault}/password.txt}}}}\n")
    env["B2CKEYS_SECRETS_ROOT"] = str(vault)
    saved = tmp_path / "saved.plan"
    code, out, err = run(capsys, ["plan", str(path), "--out", str(saved)], env)
    assert code == 0, err
    code, out, err = run(capsys, ["apply", "--auto-approve", str(saved)], env)
    assert code == 0, err
    assert [w["path"].rsplit("/", 1)[1] for w in writes(emu)] == ["keySets", "uploadPkcs12"]
    assert PFX_PASSWORD not in out + err + saved.read_text()
