"""The Graph conversation for `/beta/trustFramework/keySets`.

One `requests.Session`, a timeout on every call, the bearer token only ever sent
to the Graph host (no redirect followed, no next page from another host), and
Graph's errors turned into our own `GraphError` types carrying Graph's code,
message and request-id, scrubbed of the token and of any secret the request
carried (`reconciler.graph.redact`), should Graph echo them. Answers are read once
(`reconciler.graph.answers`) into `LiveKeySet` / `LiveKey`, coping with the variants the
service is known or suspected to produce; one it cannot read is a `GraphAnswerUnreadable`.
"""

from __future__ import annotations

import json
import random
import time
from typing import Callable, Iterator
from urllib.parse import quote, urljoin, urlsplit

import requests

from ..core import errors
from ..core.model import KEYSET_PREFIX, KeyType, KeyUse, LiveKey, LiveKeySet, LiveState, strip_prefix
from . import redact
from .answers import (MAX_ERROR_MESSAGE, ListedKeySets, active_key_verdict, error_from_response, read_active_key,
                      read_created_id, read_key, read_keyset, read_listed, read_page, unreadable)
from .deadline import Deadline
from .lifecycle import LifecycleVerbs
from .pacing import Pacer, Unpaced
from .redact import scrub_error
from .retry import RetryPolicy, is_ambiguous, is_rejected
from .settings import DEFAULT_SETTLE_SECONDS, Settings, check_url, origin
from .transport import DEFAULT_TIMEOUT, MAX_ANSWER_BYTES, AnswerTooLarge, RequestDeadline, Session, size_text

SECRET_FIELDS = ("k", "d", "p", "q", "dp", "dq", "qi")
# what a request body carries that no error may echo: a JWK's private fields, uploadPkcs12's
# password and .pfx, uploadCertificate's certificate (`key`)
IN_PLAY_FIELDS = SECRET_FIELDS + ("password", "key")
SETTLE_INTERVAL = 1.0  # seconds between two reads while a write may still be settling
# Pages of one list b2ckeys reads at most. B2C tenants hold tens to thousands of key sets; even at
# one key set a page (Graph does not document its page size for keySets), 10,000 pages hold more than
# any tenant does, while a server that makes up next links for ever is stopped.
MAX_PAGES = 10_000


def connect_graph(settings: Settings, token: Callable[[], str], *, workers: int = 1) -> "GraphClient":
    """The client the commands use: paced to B2CKEYS_MAX_RPM requests a minute across all
    `workers` (0: unpaced), waits scaled by B2CKEYS_TIME_SCALE, a connection per worker,
    no request after the run's deadline (B2CKEYS_DEADLINE)."""
    return GraphClient(
        settings.graph_url,
        token,
        verify=settings.verify,
        pacer=Pacer(settings.max_rpm, 60.0 / settings.time_scale) if settings.max_rpm else Unpaced(),
        policy=RetryPolicy(scale=settings.time_scale),
        pool_size=max(10, workers),
        settle_seconds=settings.settle_seconds,
        deadline=settings.deadline,
    )


class GraphClient(LifecycleVerbs):
    """Thin verbs over Graph; `token` is a callable that returns a bearer token.

    Every request waits for the shared `pacer` first. Reads are retried on any
    transient failure; writes only when Graph rejected them outright (throttled,
    busy), since a write whose answer was lost may have taken effect: deciding
    that is `reconciler.graph.ensure`'s job. Safe to share between threads.

    `settle_seconds` (B2CKEYS_SETTLE_SECONDS, in unscaled seconds) is how long a write may
    stay invisible to reads; `self.settle_seconds` and `self.settle_interval` (the pause
    between two reads while waiting) are divided by the policy's time scale.

    `deadline` is the run's (no request after it: `reconciler.graph.deadline`); each answer
    is read up to `max_answer_bytes`, each list up to `max_pages` pages.
    """

    def __init__(
        self,
        graph_url: str,
        token: Callable[[], str],
        *,
        verify: str | bool = True,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        pacer: Pacer | Unpaced | None = None,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 10,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        deadline: Deadline | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        max_pages: int = MAX_PAGES,
    ):
        check_url(graph_url, "B2CKEYS_GRAPH_URL")
        self.root = graph_url.rstrip("/") + "/beta"
        self._origin = origin(self.root)
        self._token = token
        self.deadline = deadline or Deadline()
        self.max_pages = max_pages
        self.session = Session(verify=verify, timeout=timeout, pool_size=pool_size, deadline=self.deadline,
                               max_answer_bytes=max_answer_bytes)
        self.pacer = pacer or Unpaced()
        self.policy = policy
        self.sleep = sleep
        self.rng = random.Random()
        self.request_count = 0
        self.retry_count = 0
        self.settle_seconds = settle_seconds / policy.scale
        self.settle_interval = SETTLE_INTERVAL / policy.scale

    # -- verbs ---------------------------------------------------------------

    def list_keysets(self) -> LiveState:
        """Every key set, page after page: one request per page, none per key set while the
        list carries each set's keys. A listed set without `keys` (absent or null; an empty
        list is an empty set) is read with a GET of its own, so that no set looks empty: a
        list that never carries keys costs one more request per key set."""
        # All pages first, then the parsing: the next page is asked for as soon as one
        # is read, so each page costs one round trip and little more.
        path = "/trustFramework/keySets"
        pages = list(self._paged(path))
        listing = ListedKeySets(path)  # ids that differ only in case are an error, not one dropped
        for response, items in pages:
            for item in items:
                listed = read_listed(item, response, path)
                if isinstance(listed, str):  # no keys in the list: ask the key set itself
                    listed = self.get_keyset(listed)
                if listed is not None:  # None: deleted since the list was read
                    listing.add(listed, response)
        return LiveState(tuple(listing.keysets))

    def get_keyset(self, keyset_id: str) -> LiveKeySet | None:
        path = _keyset_path(keyset_id)
        try:
            return read_keyset(self._call("GET", path), path, keyset_id)
        except errors.GraphNotFound:
            return None

    def create_keyset(self, name: str) -> str:
        """Creates key set `name` (prefix stripped first) and returns the id the service chose."""
        response = self._call("POST", "/trustFramework/keySets", body={"id": strip_prefix(name)})
        return read_created_id(response, KEYSET_PREFIX + strip_prefix(name))

    def delete_keyset(self, keyset_id: str) -> None:
        self._call("DELETE", _keyset_path(keyset_id))

    def generate_key(self, keyset_id: str, *, kty: KeyType, use: KeyUse,
                     nbf: int | None = None, exp: int | None = None) -> LiveKey:
        body = _dated({"use": use.value, "kty": kty.value}, nbf, exp)
        path = _keyset_path(keyset_id) + "/generateKey"
        return read_key(self._call("POST", path, body=body), "POST", path)

    def upload_secret(self, keyset_id: str, *, value: str, use: KeyUse,
                      nbf: int | None = None, exp: int | None = None) -> LiveKey:
        body = _dated({"use": use.value, "k": value}, nbf, exp)
        path = _keyset_path(keyset_id) + "/uploadSecret"
        return read_key(self._call("POST", path, body=body), "POST", path)

    def get_active_key(self, keyset_id: str) -> LiveKey | None:
        """The key B2C names active (its kid is "" when the answer carries none), or None
        when B2C says the key set has none. GraphNotFound only when the key set is missing:
        a 404 that does not say which is settled by its code, else by reading the key set."""
        path = _keyset_path(keyset_id) + "/getActiveKey"
        try:
            return read_active_key(self._call("GET", path), path)
        except errors.GraphError as e:
            verdict = active_key_verdict(e)
            if verdict == "none" or (verdict == "ask" and self.get_keyset(keyset_id) is not None):
                return None
            raise  # "missing", and "ask" of a key set that is not there, are 404s or AADB2C90073: GraphNotFound

    # -- transport -----------------------------------------------------------

    def _paged(self, path: str) -> Iterator[tuple[requests.Response, list]]:
        """(answer, items) of each page. A relative next link is taken relative to the page
        it came from; a next page on another origin is refused (it would get the token), and
        so are a page already read and a page past `max_pages`."""
        url: str | None = self.root + path
        seen = set()
        while url:
            if origin(url) != self._origin:
                raise errors.GraphError(
                    f"Graph sent a next page on another host ({origin(url)}); refused",
                    method="GET", path=path,
                )
            seen.add(url)
            response = self._call("GET", url)
            items, link = read_page(response, path)
            yield response, items
            url = urljoin(url, link) if link else None
            if url in seen:
                raise unreadable(response, "GET", path, "its next page is one already read (it would never end)")
            if url and len(seen) >= self.max_pages:
                raise errors.GraphError(
                    f"Graph sent more than {self.max_pages} pages for one list (the most b2ckeys reads); refused",
                    status=response.status_code, method="GET", path=path,
                )

    def _call(self, method: str, path_or_url: str, *, body: dict | None = None) -> requests.Response:
        """One logical call: sent, and sent again while the failure allows and the budget lasts."""
        url = path_or_url if "://" in path_or_url else self.root + path_or_url
        started = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                return self._send(method, url, body)
            except errors.GraphError as e:
                if not (is_rejected(e) or (method == "GET" and is_ambiguous(e))):
                    raise
                self.wait_before_retry(tries, e, started)

    def wait_before_retry(self, tries: int, error: errors.GraphError, started: float) -> None:
        """Sleeps before try number `tries + 1` of a call begun at `started` (monotonic),
        or raises RetriesExhausted when the policy's budget is spent. After a 429
        every worker pauses, not only this one."""
        wait = self.policy.delay(tries, error, self.rng)
        elapsed = time.monotonic() - started
        if tries >= self.policy.max_tries or elapsed + wait > self.policy.budget:
            raise errors.RetriesExhausted(error, tries, elapsed) from None
        if wait >= self.deadline.remaining():  # no sense waiting for a try that will not be sent
            head = f"{error.method} {error.path}: "
            last = str(error)[len(head):] if str(error).startswith(head) else str(error)
            raise self.deadline.before_retry(f"{error.method} {error.path}", last) from None
        self.retry_count += 1
        if isinstance(error, errors.GraphThrottled):
            self.pacer.hold(wait)
        self.sleep(wait)

    def _send(self, method: str, url: str, body: dict | None) -> requests.Response:
        """One request. The token and the secret fields of `body` are in play for it alone:
        every error raised here is scrubbed of them, whatever Graph echoed."""
        shown, token = _shown_path(url, self.root), self._token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        secrets = [v for f, v in (body or {}).items() if f in IN_PLAY_FIELDS and isinstance(v, str)]
        with redact.in_play(token, *secrets):
            self.pacer.acquire()
            self.request_count += 1
            try:  # a redirect is never followed (transport.Session): it would carry the token away
                response = self.session.request(method, url, headers=headers,
                                                data=None if body is None else json.dumps(body))
            except errors.DeadlinePassed as e:
                if method != "GET" and e.in_flight:  # a Graph write cut short may have taken effect
                    raise self.deadline.cut(e.doing, write=True) from None
                raise
            except AnswerTooLarge as e:  # final; but a write answered 2xx may have taken effect: ensure reads back
                kind = errors.GraphAnswerUnreadable if method != "GET" and 200 <= e.status < 300 else errors.GraphError
                raise scrub_error(kind(
                    f"the answer from {self._origin} is larger than {size_text(e.cap)}, the most b2ckeys reads of "
                    "one answer; refused", status=e.status, method=method, path=shown)) from None
            except RequestDeadline as e:  # as any timeout: a read is sent again, a write is ambiguous
                raise scrub_error(errors.GraphUnreachable(f"{self._origin} sent no complete answer within "
                                                          f"{e.seconds:g} s", method=method, path=shown)) from None
            except requests.exceptions.SSLError as e:  # final: trying again will not change the certificate
                raise scrub_error(errors.GraphError(
                    f"TLS verification failed for {self._origin}; set B2CKEYS_CA_BUNDLE if it uses a private CA ({_first_line(e)})",
                    method=method, path=shown)) from None
            except requests.RequestException as e:
                raise scrub_error(errors.GraphUnreachable(
                    f"cannot reach {self._origin}: {_first_line(e)}", method=method, path=shown)) from None
            finally:
                self.pacer.release()
            if response.status_code >= 300:
                raise scrub_error(error_from_response(response, method, shown))
            return response


def _dated(body: dict, nbf: int | None, exp: int | None) -> dict:
    if nbf is not None:
        body["nbf"] = nbf
    if exp is not None:
        body["exp"] = exp
    return body


def _keyset_path(keyset_id: str) -> str:
    return "/trustFramework/keySets/" + quote(keyset_id, safe="")


def _shown_path(url: str, root: str) -> str:
    path = url[len(root):] if url.startswith(root) else urlsplit(url).path
    return path.split("?", 1)[0] or "/"


def _first_line(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text.splitlines()[0][:MAX_ERROR_MESSAGE]


