"""Manifests at the edges of what B2C takes: dates at the ends of the calendar (RFC 3339 with
offsets, epoch seconds), key set names at Graph's length and character limits, and a
secret's trailing line break. `validate` refuses what `plan` could not use, with a located
error; what it accepts formats back as the date it was."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import certkit
from reconciler.cli.main import main
from reconciler.core.diagnostics import Location, Severity
from reconciler.core.errors import ManifestError
from reconciler.core.model import EPOCH_MAX, DesiredKeySet, DesiredState, KeyKind, KeyType, KeyUse, SecretRef
from reconciler.core.model import DesiredKey, format_time
from reconciler.manifest.reader import load_manifests
from reconciler.manifest.secrets import resolve, secret_warnings

RANGE = "must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z (epoch seconds 0 to 253402300799)"


def secret_manifest(nbf=None, exp=None, name="Fb") -> str:
    dates = "".join(f"\n        {field}: {value}" for field, value in (("nbf", nbf), ("exp", exp)) if value is not None)
    return f"version: 1\nkeySets:\n  - name: {name}\n    keys:\n      - kind: secret\n        use: sig\n" \
           f"        value: {{env: FB}}{dates}\n"


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    return [str(d) for d in caught.value.diagnostics]


# -- dates at the ends of the calendar ------------------------------------------------------

EDGES = [  # (value as written, the field, words of the message)
    ('"9999-12-31T23:59:59-01:00"', "exp", RANGE),
    ('"0001-01-01T00:00:00+00:01"', "nbf", RANGE),
    ('"1969-12-31T23:59:59Z"', "nbf", RANGE),
    ('"1970-01-01T00:59:59+01:00"', "nbf", RANGE),
    ("0000-01-01T00:00:00Z", "nbf", RANGE),
    ("-1", "nbf", RANGE),
    ("253402300800", "exp", RANGE),
    ("1.0e+20", "exp", RANGE),
    ("99999999999999999999999", "exp", RANGE),
    ("2026-06-30T23:59:60Z", "nbf", "a leap second"),
    ("2026-02-29T00:00:00Z", "nbf", "no such day"),
    ("2026-01-01T24:00:00Z", "nbf", "no such"),
    ("2026-01-01T00:00:00+24:00", "nbf", "no such"),
]


@pytest.mark.parametrize("command", [["validate"], ["plan"], ["plan", "--format", "markdown"], ["drift"]])
@pytest.mark.parametrize("value, field, words", EDGES, ids=[e[0] for e in EDGES])
def test_dates_b2c_cannot_take_are_located_errors_in_every_command(env, capsys, tmp_path, command, value, field,
                                                                  words):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest(**{field: value}))
    assert main(command + [str(path)], environ=env) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{path}:8:14: '{field}' ") and words in err[0], err


def test_the_ends_of_the_range_are_taken_and_shown_as_written(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest('"1970-01-01T01:00:00+01:00"', '"9999-12-31T22:59:59-01:00"'))
    (key,) = load_manifests([str(path)]).state.keysets[0].keys
    assert (key.nbf, key.exp) == (0, EPOCH_MAX)
    assert (format_time(key.nbf), format_time(key.exp)) == ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


# The whole grammar: RFC 3339 date-times (any digits in each field, T, t or a space, Z, z or
# any offset) and epoch seconds as YAML writes them, in and far out of range.
two = st.integers(0, 99).map("{:02d}".format)
rfc3339 = st.builds(
    "{}-{}-{}{}{}:{}:{}{}".format,
    st.one_of(st.integers(0, 9999), st.sampled_from([0, 1, 1969, 1970, 9999])).map("{:04d}".format),
    two, two, st.sampled_from("Tt "), two, two, two,
    st.one_of(st.sampled_from(["Z", "z", "+00:00", "-00:00", "+23:59", "-23:59"]),
              st.builds("{}{}:{}".format, st.sampled_from("+-"), two, two)),
)


def _local(edge: datetime, seconds: int, offset: int) -> str:
    """A wall-clock time `seconds` from `edge`, written with an offset of `offset` minutes."""
    sign, minutes = "+-"[offset < 0], abs(offset)
    return (edge + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


near_edges = st.one_of(  # wall-clock times within a day and a half of either end, with any offset
    st.builds(_local, st.just(datetime(1970, 1, 1)), st.integers(-129_600, 129_600), st.integers(-1439, 1439)),
    st.builds(_local, st.just(datetime(9999, 12, 31)), st.integers(-129_600, 86_399), st.integers(-1439, 1439)),
)
epochs = st.one_of(st.integers(-(2 ** 70), 2 ** 70), st.integers(-2, 2), st.integers(EPOCH_MAX - 2, EPOCH_MAX + 2))
written = st.one_of(rfc3339.map(lambda t: f'"{t}"'), rfc3339, near_edges.map(lambda t: f'"{t}"'), epochs.map(str),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda t: "e" in t or "." in t))


@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=written)
def test_any_date_in_the_grammar_is_a_located_error_or_formats_back(tmp_path, value):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest(nbf=value))
    try:
        (key,) = load_manifests([str(path)]).state.keysets[0].keys
    except ManifestError as e:
        (diagnostic,) = e.diagnostics
        assert diagnostic.location == Location(str(path), 8, 14) and diagnostic.message.startswith("'nbf' ")
        return
    assert 0 <= key.nbf <= EPOCH_MAX
    shown = format_time(key.nbf)
    assert int(datetime.fromisoformat(shown.replace("Z", "+00:00")).timestamp()) == key.nbf
    text = value.strip('"')
    if not re.match(r"\d{4}-", text):  # epoch seconds, as YAML reads them
        assert key.nbf == float(text)
    else:
        parsed = datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00"))
        assert parsed.astimezone(timezone.utc) == datetime.fromisoformat(shown.replace("Z", "+00:00"))


# -- key set names: Graph's characters and length ---------------------------------------------

@pytest.mark.parametrize("name, words", [
    ("A" * 194, "is 194 characters long after B2C_1A_; a key set id is at most 200 characters, B2C_1A_ included"),
    ("B2C_1A_" + "A" * 194, "is 194 characters long after B2C_1A_"),
    ("b2c_1a_" + "A" * 194, "is 194 characters long after B2C_1A_"),
    ("Foo Bar", "may contain only letters, digits, '_', '.' and '-'"),
    ("Fü", "may contain only letters, digits, '_', '.' and '-'"),
    ("Foo.bak", "is reserved: B2C keeps its backups of deleted key sets as <id>.bak"),
])
def test_a_key_set_name_graph_would_refuse_is_a_located_error(tmp_path, name, words):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest(name=name))
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:3:11: key set name '") and words in error, error


@pytest.mark.parametrize("name", ["A" * 193, "B2C_1A_" + "A" * 193, "b2c_1a_" + "A" * 193, "My.Key", "a-b_c.d", '"1.5"'])
def test_a_key_set_name_at_the_limits_is_accepted(tmp_path, name):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest(name=name))
    (keyset,) = load_manifests([str(path)]).state.keysets
    assert len(keyset.id) <= 200


def test_plan_of_a_name_too_long_fails_before_graph(env, emu, capsys, tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest(name="A" * 194))
    assert main(["plan", str(path)], environ=env) == 1
    assert "characters long after B2C_1A_" in capsys.readouterr().err
    assert [r for r in emu.requests() if "/beta/" in r["path"]] == []


# -- a secret's trailing line break: one rule for a variable and a file ------------------------

WHERE = Location("manifests/prod.yaml", 12, 16)


@pytest.mark.parametrize("value, expected", [("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"),
                                             ("s3cret\n\n", "s3cret\n"), ("s3cret", "s3cret")])
def test_a_variable_loses_one_trailing_line_break_as_a_file_does(tmp_path, value, expected):
    (tmp_path / "s.txt").write_text(value, newline="")
    assert resolve(SecretRef("env", "S", WHERE), {"S": value}) == expected
    assert resolve(SecretRef("file", "s.txt", WHERE, str(tmp_path)), {}) == expected


def test_a_variable_that_ends_with_a_line_break_is_warned_about_at_its_reference():
    key = DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, secret=SecretRef("env", "FB", WHERE))
    state = DesiredState((DesiredKeySet("Fb", (key,)),))
    (warning,) = secret_warnings(state, {"FB": "CANARY-nl\n"})
    assert warning.severity is Severity.WARNING and warning.location == WHERE
    assert warning.message == ("environment variable FB ends with a line break, which b2ckeys drops: one trailing "
                               "line break is never part of a secret, a variable's as a file's")
    assert "CANARY" not in str(warning)
    assert secret_warnings(state, {"FB": "CANARY"}) == []


def test_validate_and_apply_warn_about_it_and_upload_without_it(env, emu, capsys, tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(secret_manifest())
    env = dict(env, FB="CANARY-nl-42\n")
    assert main(["validate", str(path)], environ=env) == 0
    assert f"{path}:7:16: warning: environment variable FB ends with a line break" in capsys.readouterr().err
    assert main(["apply", "--auto-approve", str(path)], environ=env) == 0
    assert f"{path}:7:16: warning: environment variable FB ends with a line break" in capsys.readouterr().err
    (keyset,) = [ks for ks in emu.state()["keySets"] if ks["id"] == "B2C_1A_Fb"]
    assert keyset["keys"][0]["secretSha256"] == hashlib.sha256(b"CANARY-nl-42").hexdigest()



def test_a_certificate_valid_from_before_1970_is_a_located_error(capsys, tmp_path):
    """Its key would take the certificate's nbf, before 1970, and b2ckeys could not read it back."""
    certkit.write(tmp_path / "old.pem", certkit.certificate(nbf=-10 * 365 * certkit.DAY))
    path = tmp_path / "keys.yaml"
    path.write_text("version: 1\nkeySets:\n  - name: Saml\n    keys:\n      - kind: certificate\n"
                    "        file: old.pem\n")
    assert main(["validate", str(path)], environ={}) == 1
    assert capsys.readouterr().err.strip() == (f"{path}:6:15: certificate old.pem: holds a certificate valid from "
                                               "before 1970 (notBefore); B2C's dates start at 1970-01-01T00:00:00Z: "
                                               "issue one valid from 1970 or later")
