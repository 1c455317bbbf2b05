"""The libyaml-backed loader must be indistinguishable from the pure-Python one.

`_FastLoader` takes only events from libyaml's C parser; composing, the limits, the
resolver and the constructor stay ours. Whenever it fails, `_load_text` loads again
with `ManifestLoader`, so errors are pyyaml's. What is left to check: whenever the
fast loader succeeds, the pure-Python loader succeeds too with the same data,
locations and diagnostics.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifest import yamlload
from reconciler.manifest.yamlload import ManifestLoader, _FastLoader, _load_with
from reconciler.manifest.yamltree import Document, _Failed

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(_FastLoader is None, reason="pyyaml built without libyaml")

FILES = sorted(p for d in ("examples", "manifests", "tests/fixtures") for p in (ROOT / d).rglob("*.y*ml"))
TRICKY = [
    "a: 1\n", "a: [1, 2, {b: c}]\n", "a: &x {b: 1}\nc: *x\n", "a: &x {b: 1}\nc: {<<: *x, d: 2}\n",
    "a: no\nb: 0755\nc: 1:30\nd: 0x1F\ne: 1_000\nf: 2024-01-01\non: 1\n", "a: 'no'\nb: \"x\\ty\"\n",
    "a: |\n  x\n  y\nb: >-\n  z\n", "a: !!str 1\nb: !!binary aGk=\n", "a: 1\na: 2\n",
    "\ufeffa: b\n", "a: é\u00a0ü\n", "a:\n- - - 1\n", "? a\n: b\n", "a: ~\nb: null\nc: .inf\nd: -.NaN\n",
    "--- \na: 1\n...\n", "a: b # c\n# d\n", "a: 'x''y'\n", "a: \"\\u00e9\\x41\"\n", "a: {b: [c, d], e: f}\n",
]


def outcome(loader_class, text: str):
    doc = Document("m.yaml")
    try:
        doc, diagnostics = _load_with(loader_class, doc, text)
    except (yaml.YAMLError, _Failed) as e:
        return ("error", type(e).__name__)
    data = repr(doc.data).replace("nan", "NaN")  # nan != nan
    return (data, doc.values, doc.keys, [(d.message, d.location) for d in diagnostics])


def same_when_fast_succeeds(text: str) -> None:
    if "\t" in text:  # _load_text never uses the fast loader for these
        return
    fast = outcome(_FastLoader, text)
    if fast[0] != "error":
        assert outcome(ManifestLoader, text) == fast


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_result_on_every_shipped_and_fixture_file(path):
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8 (refused before parsing)")
    same_when_fast_succeeds(text)


@pytest.mark.parametrize("text", TRICKY)
def test_same_result_on_tricky_yaml(text):
    fast = outcome(_FastLoader, text)
    assert fast == outcome(ManifestLoader, text)


SEED = (ROOT / "examples" / "starter-pack.yaml").read_text(encoding="utf-8")
PIECES = st.sampled_from(list(" \t\n:-?,[]{}&*!|>'\"#%@`<=.0aZ\u00e9") + ["\r\n", "<<: *", "&a ", "*a", "!!str "])


@settings(max_examples=max(1, int(300 * float(os.environ.get("B2CKEYS_FUZZ_SCALE", "1")))), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEED)), st.integers(0, 3), st.lists(PIECES, max_size=4).map("".join)), max_size=6))
def test_same_result_on_mutated_manifests(edits):
    text = SEED
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    same_when_fast_succeeds(text)


def test_load_text_uses_the_fast_loader_and_falls_back_on_errors(monkeypatch):
    used = []
    real = yamlload._load_with
    monkeypatch.setattr(yamlload, "_load_with", lambda cls, doc, text: used.append(cls) or real(cls, doc, text))
    yamlload._load_text(Document("m.yaml"), "a: 1\n")
    assert used == [_FastLoader]
    used.clear()
    _, diagnostics = real(ManifestLoader, Document("m.yaml"), "a: 1\n")
    with pytest.raises(yaml.YAMLError):
        yamlload._load_text(Document("m.yaml"), "a: b: c\n")
    assert used == [_FastLoader, ManifestLoader]
    assert diagnostics == []
