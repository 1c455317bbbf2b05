"""A key or key set as Graph writes it in JSON, read into `LiveKey` / `LiveKeySet`.

What is tolerated: kty in any case, nbf/exp as integers or as strings of an integer (the
uploadSecret example sends strings), `status`, `x5t` and `kid` absent (getActiveKey's
documented example has no kid). Anything else (no kty, a date that is not epoch seconds, a
field of the wrong type) is a `GraphAnswerUnreadable` saying what is wrong; the caller adds
the request it came from (`reconciler.graph.answers`). A value from the answer is never
quoted in a message, since it could echo a secret; only key set ids are.
"""

from __future__ import annotations

import re

from ..core.diagnostics import printable
from ..core.errors import GraphAnswerUnreadable
from ..core.model import KeyType, KeyUse, LiveKey, LiveKeySet

_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d{1,19}\s*")  # an Int64 written as a string


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
    """The id of a key set's JSON, shown printable; unreadable without one."""
    if not isinstance(data, dict):
        raise GraphAnswerUnreadable(f"a key set is {kind_of(data)}, not a JSON object")
    found = data.get("id")
    if not isinstance(found, str) or not found.strip():
        raise GraphAnswerUnreadable("a key set has no id")
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
    """NumericDate: an integer, or a string of one; absent, null or "" is no date."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    what = "a string that is not a whole number" if isinstance(value, str) else kind_of(value)
    raise GraphAnswerUnreadable(f"a key's {name} is {what}, not epoch seconds")


def kind_of(value) -> str:
    """What a JSON value is, in words, without quoting it."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a fractional number" if not value.is_integer() else "a number with a decimal point"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else "of an unknown kind"


def _text(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise GraphAnswerUnreadable(f"a key's {name} is {kind_of(value)}, not a string")
