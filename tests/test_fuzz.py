"""Fuzzing: hypothesis-generated manifests, valid and invalid, through
`validate` and `plan`. Whatever the input: exit 0 or 1, every message located (`path:line:col:`)
or in a known unlocated form, never a traceback, and `plan` never writes to Graph.

Derandomized (the same examples on every run, as CI needs) unless B2CKEYS_FUZZ_RANDOM is set;
B2CKEYS_FUZZ_SCALE multiplies the number of examples for a longer hunt.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [(ROOT / "examples" / "starter-pack.yaml").read_bytes()] + [
    (ROOT / "tests" / "fixtures" / "manifests" / name).read_bytes()
    for name in ("valid-starter.yaml", "valid-dates-files.yaml")
]
RANDOM = bool(os.environ.get("B2CKEYS_FUZZ_RANDOM"))
SCALE = float(os.environ.get("B2CKEYS_FUZZ_SCALE", "1"))
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def fuzz_settings(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=not RANDOM,
                    database=None if not RANDOM else settings.default.database,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# -- generators ---------------------------------------------------------------------------------

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
names = st.from_regex(r"(B2C_1A_)?[A-Za-z0-9_-]{1,16}", fullmatch=True) | st.text(max_size=16)
times = (st.none() | st.integers(-5, 2 ** 40) | st.floats(allow_nan=True)
         | st.sampled_from(["2026-01-01T00:00:00Z", "2027-06-01T12:00:00+02:00", "2026-02-30T00:00:00Z",
                            "2026-01-01", "1:30", "0755", "no"]) | st.text(max_size=12))
references = (st.fixed_dictionaries({"env": st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)})
              | st.fixed_dictionaries({"file": st.sampled_from(
                  ["s.txt", "secrets/x.txt", "../../etc/passwd", "/etc/passwd", "", "a\0b", "~/.ssh/id_rsa"])})
              | st.text(max_size=12) | junk)
keys = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["generate", "secret", "certificate", "", None]),
    "kty": st.sampled_from(["RSA", "oct", "rsa", "EC", 1, None]),
    "use": st.sampled_from(["sig", "enc", "SIG", "no", True, None]),
    "value": references, "nbf": times, "exp": times, "extra": junk,
})
keysets = st.fixed_dictionaries({}, optional={"name": names, "keys": st.lists(keys, max_size=4) | junk, "x": junk})
manifests = st.fixed_dictionaries({}, optional={
    "version": st.sampled_from([1, 2, "1", 1.0, None]),
    "tenant": st.sampled_from(["contoso.onmicrosoft.com", "00000000-0000-0000-0000-000000000000", "x"])
              | st.text(max_size=12),
    "keySets": st.lists(keysets, max_size=4) | junk,
    "extra": junk,
})


@st.composite
def valid_manifests(draw):
    """Manifests the schema and B2C's rules accept: one kty and one use per key set, distinct keys."""
    chosen = draw(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True), min_size=1,
                           max_size=4, unique_by=str.upper))
    out = []
    for name in chosen:
        use = draw(st.sampled_from(["sig", "enc"]))
        secret = draw(st.booleans())
        starts = draw(st.lists(st.integers(1_700_000_000, 1_900_000_000), min_size=1, max_size=3, unique=True))
        items = []
        for start in starts:
            item = {"kind": "secret", "use": use, "value": {"env": "FUZZ_SECRET"}} if secret else \
                {"kind": "generate", "kty": draw(st.sampled_from(["RSA", "oct"])) if not items else items[0]["kty"], "use": use}
            if draw(st.booleans()):
                item["nbf"] = start
                if draw(st.booleans()):
                    item["exp"] = start + draw(st.integers(1, 10 ** 8))
            items.append(item)
        unique = {(i.get("nbf"), i.get("exp")): i for i in items}
        out.append({"name": draw(st.sampled_from([name, "B2C_1A_" + name])), "keys": list(unique.values())})
    return {"version": 1, "keySets": out}


def dumped(data) -> st.SearchStrategy[bytes]:
    return st.builds(lambda flow, width: yaml.safe_dump(data, sort_keys=False, default_flow_style=flow,
                                                       allow_unicode=True, width=width).encode(),
                     st.sampled_from([False, None, True]), st.sampled_from([80, 20, 1000]))


YAML_BITS = [": ", "- ", "[", "]", "{", "}", "&a ", "*a", "<<: *a", "!!python/object:os.system ", "!!binary ",
             "\t", "\n", "  ", "'", '"', "#", "|", ">", "%YAML 1.1\n", "---\n", "...\n", "? ", ",", "on", "no",
             "1:30", "0755", "2026-01-01", "~", "\\x", "\x00", "\ufeff", "é", "\x85"]


@st.composite
def mutated(draw) -> bytes:
    """A valid manifest with a few random edits: YAML punctuation, lines duplicated or
    dropped, bytes that are not UTF-8."""
    text = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "byte", "dup-line", "drop-line"]))
        if op == "insert":
            text[at:at] = draw(st.sampled_from(YAML_BITS) | st.text(max_size=6)).encode()
        elif op == "delete":
            del text[at:at + draw(st.integers(1, 12))]
        elif op == "byte":
            text[at:at + 1] = bytes([draw(st.integers(0, 255))])
        else:
            lines = bytes(text).split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            lines[index:index + 1] = [lines[index]] * 2 if op == "dup-line" else []
            text = bytearray(b"\n".join(lines))
    return bytes(text)


# -- the checks ---------------------------------------------------------------------------------

def run(path: Path, argv: list[str], environ: dict) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv + [str(path)], environ=environ)
    return code, out.getvalue(), err.getvalue()


def check(path: Path, code: int, out: str, err: str) -> None:
    assert code in (0, 1), (code, err)
    assert "Traceback" not in out + err and "internal error" not in err, err
    located = re.compile(re.escape(str(path)) + r"(:\d+:\d+)?: ")
    for line in err.splitlines():
        assert located.match(line) or line.startswith("error: "), line
    if code == 1:
        assert err.strip(), "an error without a message"


def validate_bytes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_bytes(content)
        check(path, *run(path, ["validate"], {}))


@fuzz_settings(150)
@given(manifests.flatmap(dumped))
def test_generated_manifests_through_validate(content):
    validate_bytes(content)


@fuzz_settings(60)
@given(valid_manifests().flatmap(dumped))
def test_valid_generated_manifests_validate(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_bytes(content)
        code, out, err = run(path, ["validate"], {"FUZZ_SECRET": "x"})
        assert code == 0, err
        check(path, code, out, err)


@fuzz_settings(200)
@given(mutated())
def test_mutated_manifests_through_validate(content):
    validate_bytes(content)


@fuzz_settings(40)
@given(st.one_of(valid_manifests().flatmap(dumped), manifests.flatmap(dumped), mutated()))
def test_plan_never_writes_and_never_crashes(emulator, content):
    environ = dict(emulator.env)
    before = len(emulator.requests())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_bytes(content)
        check(path, *run(path, ["plan"], environ))
    made = emulator.requests()[before:]
    assert not [r for r in made if r["method"] in WRITES and r["path"].startswith("/beta/")]
