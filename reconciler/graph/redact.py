"""Keeping secrets and tokens out of messages and log lines.

`in_play(*values)` names the secret values one call is sending (a key's `k`,
the bearer token), for the duration of that call and in that thread only: the
values are forgotten when the call returns. `scrub(text)` removes them from a
text (as sent, JSON-escaped, each line of a multi-line value, and any run of 16 or
more base64 characters taken from a long value, as a cut-short echo of a base64
.pfx would show it), and removes a Key Vault answer's `"value"` string and
anything shaped like a bearer token, a JWT or a credential field, whether or
not it is in play. The Graph client scrubs every error
it raises; the `--debug` log scrubs every line (`reconciler.cli.debuglog`).
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from ..core.errors import GraphError, RetriesExhausted

E = TypeVar("E", bound=GraphError)

REDACTED = "[redacted]"
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_FIELDS = re.compile(
    r"(?i)\b(client_secret|client_assertion|assertion|access_token|refresh_token|id_token|password|k)"
    r"(\"?\s*[=:]\s*\"?)([^&\s\",}]+)"
)
# base64 and base64url runs: a run of MIN_FRAGMENT or more characters found inside a long
# value in play is a piece of it
MIN_FRAGMENT = 16
# Key Vault's answer to Get Secret holds the value as a JSON string field: never shown
_VAULT_VALUE = re.compile(r'("value"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_RUN = re.compile(r"[A-Za-z0-9+/_=-]{%d,}" % MIN_FRAGMENT)
_local = threading.local()


def _values() -> list[str]:
    if not hasattr(_local, "values"):
        _local.values = []
    return _local.values


@contextmanager
def in_play(*values: str | None) -> Iterator[None]:
    """Within the block, `scrub` in this thread also removes `values`."""
    held = _values()
    added = [v for v in values if v]
    held.extend(added)
    try:
        yield
    finally:
        del held[len(held) - len(added):]


def scrub(text: str, values: Iterable[str] = ()) -> str:
    """`text` without the secrets in play, `values`, tokens and credential fields."""
    forms: set[str] = set()
    for value in {v for v in (*_values(), *values) if v}:
        # as sent, JSON-escaped as an echo shows it, and each line of a multi-line secret
        forms |= {value, json.dumps(value)[1:-1]} | {line for line in value.splitlines() if len(line) >= 4}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    long_values = [form for form in forms if len(form) >= MIN_FRAGMENT]
    if long_values:  # a part of a long value (a .pfx in base64), as an answer cut short would echo it
        text = _RUN.sub(lambda m: REDACTED if any(m.group(0) in v for v in long_values) else m.group(0), text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _VAULT_VALUE.sub(rf"\1{REDACTED}\3", text)
    return _FIELDS.sub(rf"\1\2{REDACTED}", text)


def scrub_error(error: E, values: Iterable[str] = ()) -> E:
    """The same Graph error without the secrets in play, `values`, or anything token-shaped
    in Graph's message and code (the rest of it comes from b2ckeys, not from the answer)."""
    values = tuple(values)
    if isinstance(error, RetriesExhausted):  # its message is its last answer's
        last = scrub_error(error.last, values)
        return error if last is error.last else type(error)(last, error.tries, error.seconds)
    message = scrub(error.graph_message, values)
    code = scrub(error.code, values) if error.code else error.code
    if (message, code) == (error.graph_message, error.code):
        return error
    return type(error)(message, status=error.status, code=code, request_id=error.request_id,
                       method=error.method, path=error.path, retry_after=error.retry_after)
