"""`{file: PATH}` secrets stay inside the repository, and loose file
permissions are flagged (item 3). Refusals happen at validate time, located, with the reason,
and never show what the file holds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.core.diagnostics import Location
from reconciler.core.errors import SecretError
from reconciler.core.model import SecretRef
from reconciler.manifest.confine import escape, repository_root
from reconciler.manifest.secrets import problem, resolve

CANARY = "CANARY-outside-file-41d0"
SECRET = "CANARY-inside-file-7a2b"
WHERE = Location("m.yaml", 7, 16)


@pytest.fixture
def world(tmp_path):
    """A git work tree `repo/` (manifests/, secrets/) and, outside it, a file holding a canary."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "manifests").mkdir()
    (repo / "secrets").mkdir()
    secret = repo / "secrets" / "s.txt"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    outside = tmp_path / "outside.txt"
    outside.write_text(CANARY + "\n")
    return repo


def manifest(repo: Path, reference: str, name: str = "m.yaml") -> Path:
    path = repo / "manifests" / name
    path.write_text("version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n"
                    f"        value: {{file: '{reference}'}}\n")
    return path


def validate(capsys, path: Path, environ: dict | None = None) -> tuple[int, str]:
    code = main(["validate", str(path)], environ=environ or {})
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err and SECRET not in captured.out + captured.err
    assert "Traceback" not in captured.err
    return code, captured.err


def test_a_file_inside_the_repository_is_accepted(world, capsys):
    code, err = validate(capsys, manifest(world, "../secrets/s.txt"))
    assert code == 0 and err == ""


@pytest.mark.parametrize("reference, reason", [
    ("../../outside.txt", "it leads out of {root} through '..'"),
    ("../../../../../../../../etc/passwd", "it leads out of {root} through '..'"),
    ("{tmp}/outside.txt", "it is an absolute path outside {root}"),
    ("/etc/passwd", "it is an absolute path outside {root}"),
])
def test_paths_out_of_the_repository_are_refused_at_validate_time(world, capsys, reference, reason):
    path = manifest(world, reference.format(tmp=world.parent))
    code, err = validate(capsys, path)
    assert code == 1
    assert err == (f"{path}:7:16: secret file {reference.format(tmp=world.parent)} is refused: "
                   f"{reason.format(root=world)}; a secret file must be inside the repository, "
                   "or inside B2CKEYS_SECRETS_ROOT when that is set\n")
    assert "root:" not in err  # nothing of /etc/passwd


def test_a_symlink_out_of_the_repository_is_refused(world, capsys):
    (world / "secrets" / "link.txt").symlink_to(world.parent / "outside.txt")
    path = manifest(world, "../secrets/link.txt")
    code, err = validate(capsys, path)
    assert code == 1
    assert f"{path}:7:16: secret file ../secrets/link.txt is refused: a symbolic link on the way leads out of {world}" in err


def test_a_symlinked_folder_out_of_the_repository_is_refused(world, capsys):
    (world / "secrets" / "elsewhere").symlink_to(world.parent)
    code, err = validate(capsys, manifest(world, "../secrets/elsewhere/outside.txt"))
    assert code == 1 and "a symbolic link on the way leads out of" in err


def test_a_symlink_that_stays_inside_is_fine(world, capsys):
    (world / "secrets" / "alias.txt").symlink_to(world / "secrets" / "s.txt")
    code, err = validate(capsys, manifest(world, "../secrets/alias.txt"))
    assert code == 0, err


def test_without_git_the_root_is_the_manifest_folder(world, capsys):
    (world / ".git").rmdir()
    code, err = validate(capsys, manifest(world, "../secrets/s.txt"))
    assert code == 1 and f"it leads out of {world / 'manifests'} through '..'" in err
    code, err = validate(capsys, manifest(world, "s.txt"))  # next to the manifest: inside
    assert code == 0  # (missing: only a warning in validate)


def test_a_git_worktree_file_marks_the_root_too(world):
    (world / ".git").rmdir()
    (world / ".git").write_text("gitdir: /somewhere/else\n")
    assert repository_root(str(world / "manifests")) == str(world.resolve())


def test_secrets_root_setting_moves_the_root(world, capsys, tmp_path):
    elsewhere = tmp_path / "vault"
    elsewhere.mkdir()
    (elsewhere / "v.txt").write_text("x\n")
    path = manifest(world, str(elsewhere / "v.txt"))
    assert validate(capsys, path)[0] == 1
    assert validate(capsys, path, {"B2CKEYS_SECRETS_ROOT": str(elsewhere)})[0] == 0
    # the configured root replaces the repository: files of the repository are now outside
    code, err = validate(capsys, manifest(world, "../secrets/s.txt"), {"B2CKEYS_SECRETS_ROOT": str(elsewhere)})
    assert code == 1 and f"it leads out of {elsewhere} through '..'" in err


def test_a_secrets_root_that_does_not_exist_is_an_error(world, capsys):
    code, err = validate(capsys, manifest(world, "../secrets/s.txt"), {"B2CKEYS_SECRETS_ROOT": "/no/such/dir"})
    assert code == 1 and err == "error: B2CKEYS_SECRETS_ROOT=/no/such/dir: no such folder\n"


def test_a_nul_character_in_the_path_is_refused(world, capsys):
    path = world / "manifests" / "m.yaml"
    path.write_text('version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n'
                    '        value: {file: "s\\0.txt"}\n')
    code, err = validate(capsys, path)
    assert code == 1 and "the path contains a NUL character" in err


def test_resolve_checks_again_just_before_reading(world):
    """A reference that passed validation is checked again at apply time (the file may have
    become a symlink since)."""
    target = world / "secrets" / "later.txt"
    target.write_text("fine\n")
    ref = SecretRef("file", "later.txt", WHERE, str(world / "secrets"), str(world))
    assert resolve(ref) == "fine"
    target.unlink()
    target.symlink_to(world.parent / "outside.txt")
    assert "a symbolic link on the way leads out of" in problem(ref)
    with pytest.raises(SecretError) as caught:
        resolve(ref)
    assert CANARY not in str(caught.value) and str(caught.value).startswith("m.yaml:7:16: secret file later.txt is refused")


def test_escape_reasons():
    root = os.path.realpath("/")
    assert escape("a/b.txt", "/", root) is None
    assert escape("../x", "/srv/repo", "/srv/repo") == "it leads out of /srv/repo through '..'"
    assert escape("/etc/x", "/srv/repo", "/srv/repo") == "it is an absolute path outside /srv/repo"
    assert escape("x", "/srv/other", "/srv/repo") == "it is outside /srv/repo"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_secret_fifo_is_not_read(world):
    os.mkfifo(world / "secrets" / "pipe")
    ref = SecretRef("file", "pipe", WHERE, str(world / "secrets"), str(world))
    assert problem(ref) == f"secret file {world / 'secrets' / 'pipe'} is not a regular file"


# -- manifests found in a folder --------------------------------------------------------------

def test_a_symlinked_manifest_leading_out_of_the_repository_is_refused(world, capsys):
    outside = world.parent / "outside.yaml"
    outside.write_text(f"version: 1\nkeySets:\n  - name: {CANARY}\n    keys: [{{kind: generate, kty: RSA, use: sig}}]\n")
    (world / "manifests" / "evil.yaml").symlink_to(outside)
    code, err = validate(capsys, world / "manifests")
    assert code == 1
    assert err == (f"{world / 'manifests' / 'evil.yaml'}: refused: a symbolic link on the way leads out of "
                   f"{world} (manifests found in a folder must be inside its repository)\n")
    # named on the command line, it is the pipeline's own choice and is read
    assert main(["validate", str(world / "manifests" / "evil.yaml")], environ={}) == 0


# -- permissions ------------------------------------------------------------------------------

@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mode, who", [(0o644, "group and others"), (0o640, "group"), (0o604, "others"), (0o600, None)])
def test_a_secret_file_readable_by_others_is_a_located_warning(world, capsys, mode, who):
    (world / "secrets" / "s.txt").chmod(mode)
    path = manifest(world, "../secrets/s.txt")
    code, err = validate(capsys, path)
    assert code == 0
    if who is None:
        assert err == ""
    else:
        shown = f"{path.parent}/../secrets/s.txt"
        assert err == (f"{path}:7:16: warning: secret file {shown} is readable by {who} (mode {mode:04o}); "
                       f"make it private: chmod 600 {shown}\n")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_apply_warns_about_a_loose_secret_file_too(world, capsys, emu):
    (world / "secrets" / "s.txt").chmod(0o644)
    path = manifest(world, "../secrets/s.txt")
    code = main(["apply", "--auto-approve", str(path)], environ=dict(emu.env))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"{path}:7:16: warning: secret file" in captured.err and "readable by group and others" in captured.err
    assert SECRET not in captured.out + captured.err
    assert stat.S_IMODE(os.stat(world / "secrets" / "s.txt").st_mode) == 0o644  # reported, not changed
