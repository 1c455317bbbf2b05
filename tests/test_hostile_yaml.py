"""Hostile manifests: each is a located error or read as intended; never a
traceback, never a hang, never code run. Through `b2ckeys validate`, as CI runs it on pull requests."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.manifest.yamlload import MAX_BYTES, MAX_DEPTH, load_document
from reconciler.manifest.yamltree import MAX_NODES

KEY = "version: 1\nkeySets:\n  - name: Foo\n    keys:\n      - kind: generate\n        kty: RSA\n"


def validate(tmp_path: Path, capsys, content: str | bytes, name: str = "m.yaml") -> tuple[int, str, float]:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.monotonic()
    code = main(["validate", str(path)], environ={})
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    return code, captured.err, seconds


def only_error(err: str, path: Path) -> tuple[str, str]:
    """(line:column, message) of the single error line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    match = re.fullmatch(re.escape(str(path)) + r":(\d+:\d+): (.*)", lines[0])
    assert match, lines[0]
    return match.group(1), match.group(2)


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """Nested merge keys: pyyaml's own flatten_mapping would build 10 * 9**8 entries."""
    inner = "&a0 {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9, q: 0}"
    for i in range(1, 9):
        inner = f"&a{i} {{<<: [{inner}, " + ", ".join(f"*a{i - 1}" for _ in range(8)) + "]}"
    return "version: 1\nkeySets: []\nx: {<<: [" + inner + "]}\n"


def wide_merge() -> str:
    """One big mapping merged many times: the merge work itself is counted."""
    big = "{" + ", ".join(f"k{i}: {i}" for i in range(2000)) + "}"
    return f"version: 1\nkeySets: []\nbig: &big {big}\nx: {{<<: [" + ", ".join(["*big"] * 200) + "]}\n"


def test_alias_bomb_is_refused_quickly(tmp_path, capsys):
    code, err, seconds = validate(tmp_path, capsys, billion_laughs())
    where, message = only_error(err, tmp_path / "m.yaml")
    assert code == 1 and seconds < 10
    assert message == f"the document is too large (more than {MAX_NODES} values; aliases?)"


@pytest.mark.parametrize("content", [merge_bomb(), wide_merge()], ids=["nested", "wide"])
def test_merge_key_bombs_do_not_hang(tmp_path, capsys, content):
    code, err, seconds = validate(tmp_path, capsys, content)
    assert code == 1 and seconds < 10
    assert f"{tmp_path / 'm.yaml'}:" in err


def test_merge_keys_still_work_with_yaml_precedence(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n  y: 3\n")
    doc, problems = load_document(str(path))
    assert problems == []
    assert doc.data["c"] == {"x": 1, "y": 3, "z": 2}  # explicit keys win, then the earlier mapping


@pytest.mark.parametrize("content, fragment", [
    ("a: &a {<<: *a}\n", "refers to its own mapping"),
    ("a: {<<: [1, 2]}\n", "a merge key (<<) takes a mapping or a list of mappings"),
])
def test_bad_merge_keys_are_located(tmp_path, content, fragment):
    path = tmp_path / "m.yaml"
    path.write_text(content)
    _, problems = load_document(str(path))
    assert len(problems) == 1 and fragment in problems[0].message and problems[0].location.line == 1


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path, capsys):
    # valid YAML all the way (a long comment), so only the size can be the reason
    content = KEY + "        use: sig\n" + "#" + "x" * MAX_BYTES + "\n"
    code, err, seconds = validate(tmp_path, capsys, content)
    assert code == 1 and seconds < 5
    assert err.strip() == (f"{tmp_path / 'm.yaml'}: the file is larger than 1024 KiB; "
                           "a manifest must be a regular file of at most 1024 KiB")


def test_a_file_just_under_the_limit_is_parsed_in_reasonable_time(tmp_path, capsys):
    filler = "#" + "y" * 200 + "\n"
    content = KEY + "        use: sig\n" + filler * ((MAX_BYTES - 200) // len(filler))
    code, err, seconds = validate(tmp_path, capsys, content)
    assert code == 0, err
    assert seconds < 20


@pytest.mark.parametrize("content", [
    "version: 1\nkeySets: " + "[" * 5000 + "]" * 5000 + "\n",
    "version: 1\nkeySets: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "version: 1\nx:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)) + "  " * 60 + "v\n",
], ids=["flow-lists", "flow-maps", "block-maps"])
def test_deep_nesting_is_a_located_error(tmp_path, capsys, content):
    code, err, seconds = validate(tmp_path, capsys, content)
    where, message = only_error(err, tmp_path / "m.yaml")
    assert code == 1 and seconds < 5
    assert message == f"the document nests too deeply (more than {MAX_DEPTH} levels)"


def test_a_key_written_twice_is_an_error(tmp_path, capsys):
    code, err, _ = validate(tmp_path, capsys, KEY + "        use: sig\n        use: enc\n")
    assert code == 1
    assert only_error(err, tmp_path / "m.yaml") == ("8:9", "duplicate key 'use' (first at line 7): a key may appear "
                                                         "once in a mapping; remove one")


@pytest.mark.parametrize("content, where, fragment", [
    (b"version: 1\nkeySets: [\xff]\n", "2:11", "the file is not valid UTF-8 (byte 0xff)"),
    ("version: 1\nkeySets: []\n".encode("utf-16"), "1:1", "the file is not valid UTF-8 (byte 0xff)"),
    (b"version: 1\nkeySets: [\x00]\n", "2:11", "special characters are not allowed"),
])
def test_bytes_that_are_not_utf8_text_are_located(tmp_path, capsys, content, where, fragment):
    code, err, _ = validate(tmp_path, capsys, content)
    assert code == 1
    got_where, message = only_error(err, tmp_path / "m.yaml")
    assert got_where == where and fragment in message


def test_tabs_for_indentation_say_so(tmp_path, capsys):
    code, err, _ = validate(tmp_path, capsys, "version: 1\nkeySets:\n\t- name: Foo\n")
    assert code == 1
    assert only_error(err, tmp_path / "m.yaml") == (
        "3:1", "invalid YAML: a tab character here: YAML indents with spaces only; replace the tab with spaces")


# YAML 1.1 reads these unquoted values as something else than their text
@pytest.mark.parametrize("line, where, message", [
    ("        use: no\n", "7:14", "unquoted no is read as the boolean false by YAML 1.1; quote it ('no') if you mean the text"),
    ("        use: yes\n", "7:14", "unquoted yes is read as the boolean true by YAML 1.1; quote it ('yes') if you mean the text"),
    ("        use: On\n", "7:14", "unquoted On is read as the boolean true by YAML 1.1; quote it ('On') if you mean the text"),
    ("        use: OFF\n", "7:14", "unquoted OFF is read as the boolean false by YAML 1.1; quote it ('OFF') if you mean the text"),
    ("        use: sig\n        exp: 1:30\n", "8:14",
     "unquoted 1:30 is read as the number 90 (base 60) by YAML 1.1; quote it ('1:30') if you mean the text"),
    ("        use: sig\n        nbf: 0755\n", "8:14",
     "unquoted 0755 is read as the number 493 (octal) by YAML 1.1; quote it ('0755') if you mean the text"),
    ("        use: sig\n        nbf: 0x1F\n", "8:14",
     "unquoted 0x1F is read as the number 31 (hexadecimal) by YAML 1.1; quote it ('0x1F') if you mean the text"),
    ("        use: sig\n        nbf: 0b11\n", "8:14",
     "unquoted 0b11 is read as the number 3 (binary) by YAML 1.1; quote it ('0b11') if you mean the text"),
    ("        use: sig\n        nbf: 1_767_225_600\n", "8:14",
     "unquoted 1_767_225_600 is read as the number 1767225600 (digit separators) by YAML 1.1; "
     "quote it ('1_767_225_600') if you mean the text"),
    ("        use: sig\n        exp: 1:30.5\n", "8:14",
     "unquoted 1:30.5 is read as the number 90.5 (base 60) by YAML 1.1; quote it ('1:30.5') if you mean the text"),
    # unquoted dates stay text: the manifest's own date rules say what is wrong
    ("        use: sig\n        nbf: 2026-01-01\n", "8:14",
     "'nbf' must be an RFC 3339 date-time with a timezone and whole seconds"),
    # a key is its text: `on` is not turned into True
    ("        use: sig\n        on: 1\n", "8:9", "unknown property 'on' (allowed: kind, kty, use, nbf, exp, rotate)"),
])
def test_yaml_1_1_surprises_are_located_and_explained(tmp_path, capsys, line, where, message):
    code, err, _ = validate(tmp_path, capsys, KEY + line)
    assert code == 1
    got_where, got = only_error(err, tmp_path / "m.yaml")
    assert (got_where, got[: len(message)]) == (where, message)


def test_quoted_and_decimal_values_are_read_as_written(tmp_path, capsys):
    code, err, _ = validate(tmp_path, capsys, KEY + '        use: "sig"\n        nbf: 1767225600\n'
                                                    '        exp: "2027-01-01T00:00:00Z"\n')
    assert code == 0, err


def test_a_surprise_under_value_is_not_echoed(tmp_path, capsys):
    content = ("version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n"
               "        value: {env: 0x5EC12E7}\n")
    code, err, _ = validate(tmp_path, capsys, content)
    assert code == 1 and "5EC12E7" not in err
    assert "7:22: this unquoted value is not read as text by YAML 1.1; quote it" in err


def test_python_tags_are_refused_and_never_run(tmp_path, capsys):
    marker = tmp_path / "ran"
    content = f"version: !!python/object/apply:os.system ['touch {marker}']\nkeySets: []\n"
    code, err, _ = validate(tmp_path, capsys, content)
    assert code == 1 and not marker.exists()
    assert only_error(err, tmp_path / "m.yaml") == (
        "1:10", "the tag !!python/object/apply:os.system is not allowed in a manifest "
                "(only plain values, lists and mappings)")


@pytest.mark.parametrize("value, tag", [
    ("!!binary aGVsbG8=", "!!binary"),
    ("!!set {a, b}", "!!set"),
    ("!!omap [a: 1]", "!!omap"),
    ("!!timestamp 2026-01-01", "!!timestamp"),
    ("!Ref Foo", "!Ref"),
    ("!!python/name:os.system", "!!python/name:os.system"),
])
def test_only_json_like_tags_are_allowed(tmp_path, capsys, value, tag):
    code, err, _ = validate(tmp_path, capsys, f"version: 1\nkeySets: {value}\n")
    assert code == 1
    assert only_error(err, tmp_path / "m.yaml")[1].startswith(f"the tag {tag} is not allowed in a manifest")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_manifest_does_not_hang(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.yaml")
    started = time.monotonic()
    code = main(["validate", str(tmp_path)], environ={})
    err = capsys.readouterr().err
    assert code == 1 and time.monotonic() - started < 5
    assert f"{tmp_path / 'pipe.yaml'}: the file is not a regular file" in err


def test_echoed_text_cannot_break_lines_or_drive_the_terminal(tmp_path, capsys):
    """A name or key holding a line break or an escape sequence is quoted escaped: every message
    stays one line, and CI logs or a terminal see no control character."""
    content = ('version: 1\nkeySets:\n  - name: "Evil\\r\\n\\e[2J\\u202e"\n    keys: [{kind: generate, kty: RSA, use: sig}]\n'
               '    "x\\e]8;;http://evil\\a": 1\n')
    code, err, _ = validate(tmp_path, capsys, content)
    assert code == 1
    lines = err.strip().split("\n")
    assert len(lines) == 2 and all(line.startswith(f"{tmp_path / 'm.yaml'}:") for line in lines)
    assert not any(ch in err.rstrip("\n") for ch in "\r\x1b\x07\u202e")
    assert "key set name 'Evil\\r\\n\\x1b[2J\\u202e' may contain only" in err
    assert "unknown property 'x\\x1b]8;;http://evil\\x07'" in err


def test_a_file_reference_with_control_characters_is_shown_escaped_in_plans(tmp_path):
    from reconciler.core.model import LiveState
    from reconciler.manifest.reader import load_manifests
    from reconciler.plan.planner import plan
    from reconciler.render.text import render_plan_text

    path = tmp_path / "m.yaml"
    path.write_text('version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n'
                    '        value: {file: "s\\e[31m.txt"}\n')
    text = render_plan_text(plan(load_manifests([str(path)]).state, LiveState(), now=0))
    assert "upload secret from file:s\\x1b[31m.txt (sig)" in text and "\x1b" not in text


@pytest.mark.parametrize("reference, message", [
    ("{file: " + "a" * 2000 + "}", "'file' must be at most 1024 characters long"),
    ("{env: " + "A" * 300 + "}", "'env' must be at most 256 characters long"),
])
def test_a_huge_reference_is_refused_without_being_echoed(tmp_path, capsys, reference, message):
    content = ("version: 1\nkeySets:\n  - name: S\n    keys:\n      - kind: secret\n        use: sig\n"
               f"        value: {reference}\n")
    code, err, _ = validate(tmp_path, capsys, content)
    assert code == 1 and only_error(err, tmp_path / "m.yaml")[1] == message
