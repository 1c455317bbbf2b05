"""The compiled yes-or-no schema check must answer exactly as jsonschema does.

`schema.validate` trusts a "yes" from `schemacheck` without asking jsonschema, so a
"yes" where jsonschema finds a problem would let a bad manifest through. Checked on
every shipped and fixture manifest, on documents generated near the schema's edges
(the names, constants and types it tests), and keyword by keyword.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.manifest import schema
from reconciler.manifest.schemacheck import TYPES, compile_check
from reconciler.manifest.yamlload import load_document

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for d in ("examples", "manifests", "tests/fixtures/manifests") for p in (ROOT / d).rglob("*.y*ml"))
SCHEMA = schema._inline_refs(schema.load_schema())
JSONSCHEMA = Draft202012Validator(SCHEMA)
FAST = compile_check(SCHEMA)


def same_answer(data) -> None:
    expected = not any(True for _ in JSONSCHEMA.iter_errors(data))
    assert FAST(data) is expected, data


def test_the_shipped_schema_compiles():
    assert FAST is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_answer_on_every_shipped_and_fixture_manifest(path):
    doc, _ = load_document(str(path))
    same_answer(doc.data)


# -- generated documents: the schema's own names and constants, in every type ------------

def _words(node, names: set, texts: set) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("properties", "$defs"):
                names.update(value)
            if key in ("const", "enum"):
                texts.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
            _words(value, names, texts)
    elif isinstance(node, list):
        for item in node:
            _words(item, names, texts)


NAMES, TEXTS = set(), set()
_words(SCHEMA, NAMES, TEXTS)
NAMES, TEXTS = sorted(NAMES), sorted(TEXTS)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from([1.0, 1.5, 0.0, float("nan"), 1767225600]),
    st.sampled_from(TEXTS), st.text(max_size=4),
    st.sampled_from(["B2C_1A_", "B2C_1A_Ab", "a b", "contoso.onmicrosoft.com", "90d", "1h", "P30D", "x.y", ""]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(NAMES) | st.text(max_size=2), inner, max_size=5),
    max_leaves=25,
)


def _key(draw_kind, fields):
    return {"kind": draw_kind, **fields}


keys = st.builds(
    _key, st.sampled_from(["generate", "secret", "certificate", "pkcs12", "other", 1]),
    st.dictionaries(st.sampled_from(NAMES), scalars | st.fixed_dictionaries(
        {}, optional={"env": st.sampled_from(["A", "", 1]), "file": st.sampled_from(["a.pem", ""])}), max_size=4),
)
secret_ref = st.sampled_from([{"env": "A"}, {"file": "s.txt"}, {"env": ""}, {"env": "A", "file": "b"}])
dates = st.sampled_from([1767225600, "2026-01-01T00:00:00Z", -1, 1.5, "soon", 253402300799, 253402300800, 1e20, -0.5,
                         "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01",
                         "2026-13-01T00:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01t00:00:00+24:00"])
valid_keys = st.one_of(
    st.fixed_dictionaries({"kind": st.just("generate"), "kty": st.sampled_from(["RSA", "oct", "rsa"]),
                           "use": st.sampled_from(["sig", "enc"])},
                          optional={"nbf": dates, "exp": dates, "rotate": st.fixed_dictionaries(
                              {"lifetime": st.sampled_from(["90d", "2h", "x"])},
                              optional={"renewBefore": st.sampled_from(["30d", 5])})}),
    st.fixed_dictionaries({"kind": st.just("secret"), "use": st.sampled_from(["sig", "enc"]), "value": secret_ref},
                          optional={"nbf": dates, "exp": dates, "kty": st.just("oct")}),
    st.fixed_dictionaries({"kind": st.just("certificate"), "file": st.sampled_from(["c.pem", ""])},
                          optional={"use": st.sampled_from(["sig", "enc"]), "nbf": dates}),
    st.fixed_dictionaries({"kind": st.just("pkcs12"), "file": st.just("c.pfx"), "password": secret_ref},
                          optional={"use": st.just("sig"), "value": secret_ref}),
)
near_valid = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 1, 1.0, True, "1", 2]),  # repeated: mostly right
     "keySets": st.lists(st.fixed_dictionaries(
         {"name": st.sampled_from(["Signing", "B2C_1A_X", "Other", "Fb-1", "a b", 3, "My.Key", "A" * 193, "A" * 194,
                                   "b2c_1a_" + "A" * 193, "B2C_1A_" + "A" * 194]),
          "keys": st.lists(valid_keys | valid_keys | valid_keys | keys, max_size=3)},
         optional={ "protect": st.booleans() | st.none(),
                   "disableUnmanagedKeys": st.sampled_from([True, 0])}), max_size=3)},
    optional={"tenant": st.sampled_from(["contoso.onmicrosoft.com", "x", 5]), "prune": st.sampled_from([False, 0]),
              "protect": st.lists(st.sampled_from(["A", "a b", 1]), max_size=2)},
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_same_answer_on_generated_documents(data):
    same_answer(data)


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(near_valid)
def test_same_answer_on_documents_near_the_schema(data):
    same_answer(data)


def test_generated_documents_reach_both_answers():
    """The strategy must produce valid documents too, or the tests above prove little."""
    quick = settings(database=None, derandomize=True, max_examples=400)
    valid = find(near_valid, lambda d: FAST(d) and d["keySets"] and d["keySets"][0]["keys"], settings=quick)
    assert not any(True for _ in JSONSCHEMA.iter_errors(valid))
    invalid = find(near_valid, lambda d: not FAST(d), settings=quick)
    assert any(True for _ in JSONSCHEMA.iter_errors(invalid))
    assert FAST({**valid, "version": True}) is False  # true is not 1, for jsonschema either
    same_answer({**valid, "version": 1.0})  # 1.0 is 1


# -- keyword by keyword ------------------------------------------------------------------

VALUES = [None, True, False, 0, 1, -1, 1.0, 1.5, float("nan"), "", "a", "1", [], [1], {}, {"a": 1}]


@pytest.mark.parametrize("name", sorted(TYPES))
def test_types_are_jsonschemas(name):
    for value in VALUES:
        assert TYPES[name](value) is Draft202012Validator.TYPE_CHECKER.is_type(value, name), (name, value)


@pytest.mark.parametrize("keyword_schema", [
    {"const": 1}, {"const": "a"}, {"enum": ["a", "1"]}, {"enum": [1, "a"]}, {"minimum": 0}, {"maximum": 0},
    {"minLength": 1}, {"maxLength": 0}, {"minItems": 1}, {"minProperties": 1}, {"maxProperties": 0},
    {"pattern": "^a"}, {"pattern": "1"}, {"required": ["a"]}, {"properties": {"a": {"type": "string"}}},
    {"additionalProperties": False, "properties": {"a": True}}, {"additionalProperties": {"type": "integer"}},
    {"items": {"type": "integer"}}, {"not": {"type": "string"}}, {"allOf": [{"type": "number"}, {"minimum": 1}]},
    {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"type": "integer"}}, {"type": ["null", "array"]},
])
def test_each_keyword_answers_as_jsonschema(keyword_schema):
    check = compile_check(keyword_schema)
    reference = Draft202012Validator(keyword_schema)
    for value in VALUES:
        assert check(value) is reference.is_valid(value), (keyword_schema, value)


@pytest.mark.parametrize("unknown", [
    {"$ref": "#/$defs/a"}, {"anyOf": [True]}, {"format": "date-time"}, {"patternProperties": {"a": True}},
    {"properties": {"a": {"uniqueItems": True}}}, {"const": [1]}, {"type": "float"},
])
def test_a_keyword_it_does_not_know_leaves_everything_to_jsonschema(unknown):
    assert compile_check(unknown) is None
