"""Graph's answers, read once: a key set or key as `LiveKeySet` / `LiveKey` (coping with
the variants the service is known or suspected to produce: kty in any case, nbf/exp as
strings, status absent), an error answer as our own `GraphError` type carrying Graph's
code, message and request-id (one printable line each, scrubbed, cut short), and the id
a create answer names.
"""

from __future__ import annotations

import requests

from ..core import errors
from ..core.diagnostics import printable
from ..core.model import KeyType, KeyUse, LiveKey, LiveKeySet
from . import redact
from .retry import BUSY_CODES, parse_retry_after

MAX_ERROR_MESSAGE = 300

# B2C codes with a meaning the client acts on (reconciler/emulator/ASSUMPTIONS.md lists them with sources)
NOT_FOUND_CODES = {"AADB2C90073", "AADB2C95052"}
CONFLICT_CODES = {"AADB2C95028"}
THROTTLE_CODES = {"AADB2C95043"}


def error_from_response(response: requests.Response, method: str, path: str) -> errors.GraphError:
    status = response.status_code
    code, message, request_id = _parse_error_body(response)
    request_id = request_id or response.headers.get("request-id")
    if 300 <= status < 400:
        message = f"unexpected redirect to {response.headers.get('Location', '?')}; not followed"
    kind = errors.GraphError
    if code in BUSY_CODES:
        kind = errors.GraphError  # another write to the key set is running: retried, not "exists"
    elif status == 404 or code in NOT_FOUND_CODES:
        kind = errors.GraphNotFound
    elif status == 409 or code in CONFLICT_CODES:
        kind = errors.GraphConflict
    elif status == 429 or code in THROTTLE_CODES:
        kind = errors.GraphThrottled
    elif status in (401, 403):
        kind = errors.GraphAuthError
        if status == 403:
            message += " (the app needs the Graph application permission TrustFrameworkKeySet.ReadWrite.All, or .Read.All to plan, with admin consent)"
    elif status >= 500:
        kind = errors.GraphServerError
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return kind(message, status=status, code=code, request_id=request_id, method=method, path=path,
                retry_after=retry_after)


def _parse_error_body(response: requests.Response) -> tuple[str | None, str, str | None]:
    """(code, message, request-id) as one printable line each, scrubbed of the secrets in
    play before being cut short."""
    def clean(text) -> str:
        return printable(redact.scrub(str(text)).strip().replace("\n", " "))[:MAX_ERROR_MESSAGE]

    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, (clean(response.text) or response.reason or "no message"), None
    if not isinstance(error, dict):
        return None, clean(error), None
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    code = error.get("code")
    return (None if code is None else clean(code)), clean(error.get("message") or response.reason or "no message"), request_id


def parse_keyset(data: dict) -> LiveKeySet:
    keyset_id = str(data.get("id") or "")
    try:
        return LiveKeySet(id=keyset_id, keys=tuple(parse_key(k) for k in data.get("keys") or ()))
    except (ValueError, TypeError, AttributeError) as e:
        raise errors.GraphError(f"Graph sent key set '{keyset_id}' in a shape b2ckeys does not understand: {e}") from None


def parse_key(data: dict) -> LiveKey:
    """A JWK from Graph → LiveKey. Secret fields are never kept, whatever Graph sends."""
    use_text = str(data.get("use") or "").lower()
    use: KeyUse | str = KeyUse(use_text) if use_text in ("sig", "enc") else use_text
    return LiveKey(
        kid=str(data.get("kid") or ""),
        kty=KeyType.parse(str(data.get("kty") or "")),
        use=use,
        nbf=_epoch(data.get("nbf")),
        exp=_epoch(data.get("exp")),
        status=data.get("status") or None,
        x5t=data.get("x5t") or None,
    )


def _epoch(value) -> int | None:
    """Graph sends NumericDate as a number or, in some answers, a string."""
    if value is None or value == "":
        return None
    return int(value)


def _created_id(response: requests.Response) -> str:
    try:
        created = response.json().get("id")
    except ValueError:
        created = None
    if created:
        return str(created)
    location = response.headers.get("Location", "")
    # "/trustFramework/keySets('B2C_1A_keyset1')" or ".../keySets/B2C_1A_keyset1"
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    if "('" in tail:
        tail = tail.split("('", 1)[1].rstrip("')")
    if not tail:
        raise errors.GraphError("the create answer named no key set id", status=response.status_code,
                                method="POST", path="/trustFramework/keySets")
    return tail
