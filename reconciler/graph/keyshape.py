"""A key or key set as Graph writes it in JSON, read into `LiveKey` / `LiveKeySet`.

What is tolerated: kty in any case, nbf/exp as integers or as strings of an integer (the
uploadSecret example sends strings), `status`, `x5t` and `kid` absent (getActiveKey's
documented example has no kid). Anything else (no kty, a date that is not epoch seconds or
is outside what b2ckeys takes, `EPOCH_MIN` to `EPOCH_MAX`, a field of the wrong type, text
with a lone surrogate, which no request path or output could carry) is a
`GraphAnswerUnreadable` saying what is wrong; the caller adds the request it came from
(`reconciler.graph.answers`). A value from the answer is never quoted in a message, since
it could echo a secret; only key set ids are.
"""

from __future__ import annotations

import re

from ..core.diagnostics import printable
from ..core.errors import GraphAnswerUnreadable
from ..core.model import EPOCH_MAX, EPOCH_MIN, KeyType, KeyUse, LiveKey, LiveKeySet

_WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")  # an Int64 written as a string
_RANGE = f"outside {EPOCH_MIN} to {EPOCH_MAX} epoch seconds (1970 to the year 9999)"


def parse_key(data) -> LiveKey:
    """A JWK from Graph → LiveKey. Secret fields are never kept, whatever Graph sends."""
    if not isinstance(data, dict):
        raise GraphAnswerUnreadable(f"a key is {kind_of(data)}, not a JSON object")
    kty_text = _text(data, "kty")
    if not kty_text:
        raise GraphAnswerUnreadable("a key has no kty")
    try:
        kty = KeyType.parse(kty_text)
    except ValueError:
        raise GraphAnswerUnreadable("a key's kty is neither RSA nor oct") from None
    use_text = (_text(data, "use") or "").lower()
    return LiveKey(
        kid=_text(data, "kid") or "",
        kty=kty,
        use=KeyUse(use_text) if use_text in ("sig", "enc") else use_text,
        nbf=epoch(data.get("nbf"), "nbf"),
        exp=epoch(data.get("exp"), "exp"),
        status=_text(data, "status") or None,
        x5t=_text(data, "x5t") or None,
    )


def carries_keys(data: dict) -> bool:
    """Whether a key set's JSON says what its keys are: `keys` absent or null says nothing
    (a list may leave keys out), an empty list says the set is empty."""
    return data.get("keys") is not None


def keyset_id(data) -> str:
    """The id of a key set's JSON; unreadable without one, or with one no request path
    could name (text that is not Unicode, `.` or `..`, which a URL would resolve away)."""
    if not isinstance(data, dict):
        raise GraphAnswerUnreadable(f"a key set is {kind_of(data)}, not a JSON object")
    found = data.get("id")
    if found is None:
        raise GraphAnswerUnreadable("a key set has no id")
    if not isinstance(found, str):
        raise GraphAnswerUnreadable(f"a key set's id is {kind_of(found)}, not a string")
    if not found.strip():
        raise GraphAnswerUnreadable("a key set's id is blank")
    unicode_text(found, "a key set's id")
    if found in (".", ".."):
        raise GraphAnswerUnreadable(f"a key set's id is '{found}', a path segment, not a key set id")
    return found


def parse_keyset(data) -> LiveKeySet:
    """A key set's JSON, which must carry its keys, → LiveKeySet."""
    found = keyset_id(data)
    keys = data.get("keys")
    shown = printable(found)[:200]
    if not isinstance(keys, list):
        what = "no keys" if keys is None else f"keys that are {kind_of(keys)}, not a list"
        raise GraphAnswerUnreadable(f"key set '{shown}' comes with {what}")
    parsed = []
    for number, key in enumerate(keys, 1):
        try:
            parsed.append(parse_key(key))
        except GraphAnswerUnreadable as e:
            raise GraphAnswerUnreadable(f"key set '{shown}', key {number}: {e.graph_message}") from None
    return LiveKeySet(id=found, keys=tuple(parsed))


def epoch(value, name: str) -> int | None:
    """NumericDate: an integer, or a string of one, from `EPOCH_MIN` to `EPOCH_MAX` (B2C's
    Edm.Int64 dates start at 0; RFC 3339, in which dates are shown, ends with the year 9999);
    absent, null or "" is no date."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        found = value
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        found = int(value)
    else:
        what = "a string that is not a whole number" if isinstance(value, str) else kind_of(value)
        raise GraphAnswerUnreadable(f"a key's {name} is {what}, not epoch seconds")
    if not EPOCH_MIN <= found <= EPOCH_MAX:
        raise GraphAnswerUnreadable(f"a key's {name} is {_RANGE}")
    return found


def unicode_text(value: str, what: str) -> str:
    """`value`, unless it holds a lone surrogate (JSON's "\\ud800"): such text cannot be
    encoded, so it could neither name a request's path nor be printed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise GraphAnswerUnreadable(f"{what} is not valid Unicode text") from None
    return value


def kind_of(value) -> str:
    """What a JSON value is, in words, without quoting it."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "a number that is not finite"
        return "a fractional number" if not value.is_integer() else "a number with a decimal point or an exponent"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else "of an unknown kind"


def _text(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return value
    if isinstance(value, str):
        return unicode_text(value, f"a key's {name}")
    raise GraphAnswerUnreadable(f"a key's {name} is {kind_of(value)}, not a string")
