"""Graph's answers, read once: a key set or key as `LiveKeySet` / `LiveKey` (the shapes
tolerated are `reconciler.graph.keyshape`'s), a list page, an error answer as our own
`GraphError` type carrying Graph's code, message and request-id (one printable line each,
scrubbed, cut short), the id a create answer names, and what a failed getActiveKey says.

A 2xx answer b2ckeys cannot read (empty, not JSON, a key without kty, a date that is not
epoch seconds, a key set other than the one asked for, ids in a list that differ only in
case) is a `GraphAnswerUnreadable` naming the request and what is wrong; after a write it is
ambiguous (`reconciler.graph.retry`): the write may have taken effect.
"""

from __future__ import annotations

from urllib.parse import unquote

import requests

from ..core import errors
from ..core.diagnostics import printable
from ..core.model import LiveKey, LiveKeySet
from . import redact
from .keyshape import carries_keys, keyset_id, kind_of, parse_key, parse_keyset, unicode_text
from .retry import BUSY_CODES, is_transient, parse_retry_after

MAX_ERROR_MESSAGE = 300

# B2C codes with a meaning the client acts on (reconciler/emulator/ASSUMPTIONS.md lists them with sources)
NOT_FOUND_CODES = {"AADB2C90073", "AADB2C95052"}
CONFLICT_CODES = {"AADB2C95028"}
THROTTLE_CODES = {"AADB2C95043"}
NO_ACTIVE_KEY_CODES = {"AADB2C90019"}


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


def read_created_id(response: requests.Response, asked: str) -> str:
    """The id a create answer names (its body's `id`, else its `Location` header), which must
    be `asked` in some case: keys are added next to the id it names, and a key set other than
    the one asked for (B2C_1A_TokenSigningKeyContainer, say) must never receive them."""
    path = "/trustFramework/keySets"
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    created = body.get("id") if isinstance(body, dict) else None
    if created is not None and not isinstance(created, str):
        raise unreadable(response, "POST", path, f"the create answer's id is {kind_of(created)}, not a string")
    if not (created or "").strip():
        location = response.headers.get("Location", "")
        # "/trustFramework/keySets('B2C_1A_keyset1')" or ".../keySets/B2C_1A_keyset1"
        created = location.rstrip("/").rsplit("/", 1)[-1]
        if "('" in created:
            created = unquote(created.split("('", 1)[1].rstrip("')"))
    if not created:
        raise unreadable(response, "POST", path, "the create answer names no key set id")
    try:
        unicode_text(created, "the create answer's id")
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "POST", path, e.graph_message) from None
    if created.upper() != asked.upper():
        raise unreadable(response, "POST", path, f"the create answer names key set '{printable(created)[:200]}', "
                                                 f"not {asked} as asked")
    return created


def read_key(response: requests.Response, method: str, path: str) -> LiveKey:
    """The key a write answers with; it must carry its kid."""
    try:
        key = parse_key(_json(response))
        if not key.kid:
            raise errors.GraphAnswerUnreadable("the key has no kid")
        return key
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, method, path, e.graph_message) from None


def read_active_key(response: requests.Response, path: str) -> LiveKey | None:
    """getActiveKey's key (its kid may be "": the documented example has none), or None for
    204 No Content: OData's answer when a function returning an entity returns null."""
    if response.status_code == 204:
        return None
    try:
        return parse_key(_json(response))
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "GET", path, e.graph_message) from None


def read_key_status(response: requests.Response, path: str) -> str | None:
    """`status` of a keys_v2 answer (the documented example wraps the key in "value")."""
    data = read_json(response, "GET", path)
    if isinstance(data, dict) and isinstance(data.get("value"), dict):
        data = data["value"]
    if not isinstance(data, dict):
        raise unreadable(response, "GET", path, f"it is {kind_of(data)}, not a JSON object")
    status = data.get("status")
    if status is not None and not isinstance(status, str):
        raise unreadable(response, "GET", path, f"the key's status is {kind_of(status)}, not a string")
    if not status:
        return None
    try:
        return unicode_text(status, "the key's status")
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "GET", path, e.graph_message) from None


def read_keyset(response: requests.Response, path: str, asked: str) -> LiveKeySet:
    """One key set (GET of `asked`), which must carry its keys and be the one asked for."""
    try:
        found = parse_keyset(_json(response))
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "GET", path, e.graph_message) from None
    if found.id.upper() != asked.upper():
        raise unreadable(response, "GET", path, f"it is key set '{printable(found.id)[:200]}', not {printable(asked)[:200]}")
    return found


def read_page(response: requests.Response, path: str) -> tuple[list, str | None]:
    """A list page: (its items, its `@odata.nextLink` or None). A page without `value` is
    unreadable, not empty: taken as empty, it would have the plan add keys a second time."""
    try:
        page = _json(response)
        if not isinstance(page, dict):
            raise errors.GraphAnswerUnreadable(f"the page is {kind_of(page)}, not a JSON object")
        items, link = page.get("value"), page.get("@odata.nextLink") or None
        if not isinstance(items, list):
            raise errors.GraphAnswerUnreadable(f"the page's value is {kind_of(items)}, not a list")
        if link is not None and not isinstance(link, str):
            raise errors.GraphAnswerUnreadable(f"the page's @odata.nextLink is {kind_of(link)}, not a URL")
        return items, link
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "GET", path, e.graph_message) from None


def read_listed(item, response: requests.Response, path: str) -> LiveKeySet | str:
    """A list item as a LiveKeySet, or only its id when the item does not carry its keys."""
    try:
        found = keyset_id(item)
        return parse_keyset(item) if carries_keys(item) else found
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, "GET", path, e.graph_message) from None


class ListedKeySets:
    """The key sets of a list, in order. One listed twice alike (pages that overlap) is kept
    once. Ids that differ only in case are unreadable, not one of them dropped: Graph's ids
    are case-insensitive, so a tenant cannot hold both, and which one a request by id reaches
    (to add a key, to disable one, to delete) is unknown. So is a key set listed twice with
    different keys."""

    def __init__(self, path: str):
        self.path, self.keysets, self._seen = path, [], {}

    def add(self, keyset: LiveKeySet, response: requests.Response) -> None:
        earlier = self._seen.setdefault(keyset.id.upper(), keyset)
        if earlier is keyset:
            self.keysets.append(keyset)
            return
        first, second = printable(earlier.id)[:200], printable(keyset.id)[:200]
        if earlier.id != keyset.id:
            raise unreadable(response, "GET", self.path, f"key sets '{first}' and '{second}' differ only in case, "
                             "which Graph's ids cannot: which of them a request names is unknown")
        if earlier != keyset:
            raise unreadable(response, "GET", self.path, f"key set '{first}' is listed twice, with different keys "
                             "(was it changed while the list was read? run the command again)")


def read_json(response: requests.Response, method: str, path: str):
    """The JSON of a 2xx answer, whatever it holds."""
    try:
        return _json(response)
    except errors.GraphAnswerUnreadable as e:
        raise unreadable(response, method, path, e.graph_message) from None


def active_key_verdict(error: errors.GraphError) -> str:
    """What a failed getActiveKey says: "none" (the key set has no active key), "missing"
    (the key set is not there), "ask" (a 404 that does not say which: read the key set),
    or "raise" (a failure to report: auth, throttling, no answer, 5xx, anything else)."""
    if isinstance(error, (errors.RetriesExhausted, errors.GraphAuthError, errors.GraphThrottled,
                          errors.GraphAnswerUnreadable)) or is_transient(error):
        return "raise"
    if error.code in NO_ACTIVE_KEY_CODES:
        return "none"
    if error.code in NOT_FOUND_CODES:
        return "missing"
    if error.status == 404:
        return "ask"
    if error.status is not None and 400 <= error.status < 500:
        return "none"  # B2C says "no active key" with some 4xx; AADB2C90019 is the one known
    return "raise"


def unreadable(response: requests.Response, method: str, path: str, reason: str) -> errors.GraphAnswerUnreadable:
    return errors.GraphAnswerUnreadable(
        f"b2ckeys cannot read the answer: {reason}", status=response.status_code,
        request_id=response.headers.get("request-id"), method=method, path=path)


def _json(response: requests.Response):
    if not response.content.strip():
        raise errors.GraphAnswerUnreadable("it is empty")
    try:
        return response.json()
    except (ValueError, RecursionError):  # requests' JSONDecodeError is a ValueError
        raise errors.GraphAnswerUnreadable("it is not JSON") from None
