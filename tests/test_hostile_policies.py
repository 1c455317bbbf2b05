"""Hostile policy files for `--policies`: a pull request may add
any *.xml file. Huge files, encodings other than UTF-8, FIFOs, links out of the repository, entity
bombs and regex-hostile text each end in a clear located message, fast, never a traceback or a hang,
and a file outside the repository is never read."""

from __future__ import annotations

import os
import threading
import time

import pytest

from helpers.cli import run
from reconciler.manifest.policies import MAX_POLICY_BYTES, scan_text

MANIFEST = "version: 1\nkeySets:\n  - {name: Known, keys: [{kind: generate, kty: RSA, use: sig}]}\n"
GOOD = '<TrustFrameworkPolicy><Key Id="k" StorageReferenceId="B2C_1A_Known"/></TrustFrameworkPolicy>\n'


@pytest.fixture
def repo(tmp_path):
    """A repository with a manifest and a policies folder holding one good policy."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "keys.yaml").write_text(MANIFEST)
    (root / "policies").mkdir()
    (root / "policies" / "Good.xml").write_text(GOOD)
    return root


def validate(capsys, repo, env) -> tuple[int, str, str]:
    started = time.monotonic()
    code, out, err = run(capsys, ["validate", str(repo / "keys.yaml"), "--policies", str(repo / "policies")], env)
    assert time.monotonic() - started < 10
    assert "Traceback" not in out + err
    return code, out, err


def test_a_huge_policy_file_is_refused_before_reading(repo, env, capsys):
    huge = repo / "policies" / "Huge.xml"
    with open(huge, "wb") as fh:  # sparse: its size says 16 MiB + 1, nothing is written
        fh.truncate(MAX_POLICY_BYTES + 1)
    code, _, err = validate(capsys, repo, env)
    assert code == 1
    assert f"{huge}: policy file is larger than 16 MiB; not read" in err


@pytest.mark.parametrize("name, data", [
    ("utf16.xml", GOOD.encode("utf-16")),  # a BOM and two bytes a character
    ("latin1.xml", '<Key StorageReferenceId="B2C_1A_Caf\u00e9"/>'.encode("latin-1")),
    ("nul.xml", b"\x00\xff\xfe" * 1000),
])
def test_policy_files_that_are_not_utf8_are_located_errors(repo, env, capsys, name, data):
    (repo / "policies" / name).write_bytes(data)
    code, _, err = validate(capsys, repo, env)
    assert code == 1 and f"{repo / 'policies' / name}: policy file is not UTF-8 text" in err


def test_a_bom_and_crlf_lines_are_fine(repo, env, capsys):
    (repo / "policies" / "Good.xml").write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    code, out, err = validate(capsys, repo, env)
    assert code == 0, err
    assert "1 policy reference checked" in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_named_like_a_policy_does_not_hang(repo, env, capsys):
    os.mkfifo(repo / "policies" / "Pipe.xml")
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=validate(capsys, repo, env)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "validate blocked on a FIFO"
    code, _, err = result["out"]
    assert code == 1 and "policy file is not a regular file; not read" in err


def test_a_policy_link_out_of_the_repository_is_refused_and_never_read(repo, env, capsys, tmp_path):
    outside = tmp_path / "outside.xml"
    outside.write_text('<Key StorageReferenceId="CANARY-outside-7f3a"/>')  # would be quoted in a warning
    (repo / "policies" / "Linked.xml").symlink_to(outside)
    code, _, err = validate(capsys, repo, env)
    assert code == 1
    assert f"{repo / 'policies' / 'Linked.xml'}: refused: a symbolic link on the way leads out of" in err
    assert "CANARY-outside" not in err


def test_a_link_inside_the_repository_is_read(repo, env, capsys):
    (repo / "policies" / "Again.xml").symlink_to(repo / "policies" / "Good.xml")
    code, out, err = validate(capsys, repo, env)
    assert code == 0, err
    assert "2 policy references checked" in out


def test_entities_are_never_expanded_and_a_bomb_costs_nothing(repo, env, capsys):
    levels = "".join(f'<!ENTITY e{i} "&e{i - 1};&e{i - 1};&e{i - 1};&e{i - 1};&e{i - 1};&e{i - 1};">'
                     for i in range(1, 30))
    (repo / "policies" / "Bomb.xml").write_text(
        f'<!DOCTYPE x [<!ENTITY e0 "StorageReferenceId=\'B2C_1A_Known\'">{levels}'
        '<!ENTITY ext SYSTEM "file:///etc/passwd">]>\n<Key>&e29;&ext;</Key>\n')
    code, out, err = validate(capsys, repo, env)
    assert code == 0, err
    # the reference is counted once, where it is written (a text scan), never 6**29 times
    assert "2 policy references checked" in out and "root:" not in out + err


@pytest.mark.parametrize("text", [
    "StorageReferenceId='" * 400_000,  # openers that never close
    "StorageReferenceId" + " " * 2_000_000 + "=",  # a long run before the '='
    'StorageReferenceId="' + "B" * 4_000_000,  # one value running to the end
    "<!--" * 1_000_000,  # comments that never close
    ("StorageReferenceId=\"B2C_1A_X\"\n" * 300_000),  # many references: each located
])
def test_regex_hostile_text_is_scanned_in_linear_time(text):
    started = time.monotonic()
    references, notes = scan_text("p.xml", text)
    assert time.monotonic() - started < 5
    assert len(references) in (0, 300_000)


def test_control_characters_in_a_reference_are_shown_escaped(repo, env, capsys):
    (repo / "policies" / "Esc.xml").write_text('<Key StorageReferenceId="\x1b[2J\rnot a key\u202e"/>')
    code, _, err = validate(capsys, repo, env)
    assert code == 0  # a value that is not a key set id is a warning
    assert "is not a key set id" in err and not any(ch in err for ch in "\x1b\r\u202e")
