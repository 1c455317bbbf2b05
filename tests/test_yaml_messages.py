"""YAML syntax errors in plain words: each common mistake gets a located line (file:line:column)
that names it and its fix, never PyYAML's parser words alone (`expected <block end>, but found
'<block mapping start>'`)."""

import pytest

from helpers.cli import run

PARSER_WORDS = ("<block end>", "<block mapping start>", "cannot start any token", "while scanning",
                "while parsing", "mapping values are not allowed here", "could not find expected")

# broken manifest -> (line:column, fragments of the one message)
CASES = {
    "bad indentation, a key less deep than its siblings": (
        "version: 1\nkeySets:\n  - name: A\n    keys:\n      - kind: generate\n       kty: RSA\n",
        "6:8", ["wrong indentation", "starts at line 5, column 7", "by the same number of spaces"]),
    "bad indentation, a key at the level of the list's dash": (
        "version: 1\nkeySets:\n  - name: A\n  keys: []\n",
        "4:3", ["wrong indentation", "line up with the first key after its '- '"]),
    "bad indentation, a key deeper than its siblings": (
        "version: 1\nkeySets:\n  - name: A\n    keys:\n      - kind: generate\n          kty: RSA\n",
        "6:14", ["indented more than the key above it", "line up the keys of one mapping"]),
    "a tab used for indentation": (
        "version: 1\nkeySets:\n\t- name: A\n",
        "3:1", ["a tab character", "replace the tab with spaces"]),
    "an unclosed double quote": (
        'version: 1\nkeySets:\n  - name: "A\n    keys: []\n',
        "3:11", ["a quoted value is not closed", "close it"]),
    "an unclosed single quote": (
        "version: 1\nkeySets:\n  - name: 'A\n    keys: []\n",
        "3:11", ["a quoted value is not closed"]),
    "an unclosed brace": (
        "version: 1\nkeySets:\n  - name: A\n    keys:\n      - {kind: generate, kty: RSA\n  - name: B\n",
        "5:9", ["the '{' that opens here is not closed", "line 6, column 9"]),
    "an unclosed bracket": (
        "version: 1\nkeySets: [\n",
        "3:1", ["is never closed", "the file ends inside it"]),
    "a key without its colon": (
        "version: 1\nkeySets\n  - name: A\n",
        "2:1", ["a key without its ':'", "'key: value'"]),
    "a mapping value where none is allowed": (
        "version: 1\nkeySets:\n  - name: A: B\n",
        "3:12", ["a ':' where no key can start", "quote the value"]),
    "a key written twice": (
        "version: 1\nversion: 1\nkeySets: []\n",
        "2:1", ["duplicate key 'version' (first at line 1)", "remove one"]),
    "a document that is a list": (
        "- version: 1\n- keySets: []\n",
        "1:1", ["the top level must be a mapping (version: 1, keySets: ...), not a list"]),
    "a document that is a single value": (
        "version 1\n",
        "1:1", ["the top level must be a mapping", "not a single value"]),
}


@pytest.mark.parametrize("text, where, fragments", CASES.values(), ids=CASES.keys())
def test_each_common_yaml_mistake_is_said_in_plain_words(tmp_path, capsys, text, where, fragments):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    code, out, err = run(capsys, ["validate", str(path)], {})
    assert code == 1 and out == ""
    [line] = err.splitlines()  # one line, located, no traceback
    assert line.startswith(f"{path}:{where}: "), line
    assert all(fragment in line for fragment in fragments), line
    assert not any(words in line for words in PARSER_WORDS), line


def test_an_unrecognised_syntax_error_keeps_pyyaml_words_located(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nkeySets: *nowhere\n")
    code, _, err = run(capsys, ["validate", str(path)], {})
    assert code == 1 and err.startswith(f"{path}:2:10: invalid YAML: found undefined alias")
