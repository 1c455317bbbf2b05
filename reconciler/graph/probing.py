"""The raw side of `b2ckeys probe`: answers as they came (status, code, body, headers)
through the client's `_call`, so pacing, retries, redaction and timeouts hold; reading
until a write shows, with the lag it took; and the list, page by page, as sent.

The questions themselves are in `graph.probe`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from ..core.errors import GraphError, ReconcilerError, RetriesExhausted

T = TypeVar("T")

LAG_BOUND = 60.0        # seconds a write may take to show before the probe gives up (÷ B2CKEYS_TIME_SCALE)
LAG_REPORTED = 0.5      # a lag up to this is no lag
MAX_PAGES = 100         # pages of the list read at most, each one request


class ProbeStopped(ReconcilerError):
    """A probe step could not go on (what it needed did not happen)."""


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None = None
    body: dict = field(default_factory=dict)
    location: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def shown(self) -> str:
        return f"HTTP {self.status}" + (f" {self.code}" if self.code else "")


@dataclass(frozen=True)
class Lag:
    what: str
    low: float          # it was not there yet this long after the write's answer
    high: float         # it was there this long after
    reads: int
    timed_out: bool = False


@dataclass
class Page:
    items: list
    next_link: str | None


def keyset_path(keyset_id: str) -> str:
    return "/trustFramework/keySets/" + quote(keyset_id, safe="")


def _interval(waited: float) -> float:
    """Reads are close at first, where a lag is measured to a quarter second, then sparser."""
    return 0.25 if waited < 5 else 1.0 if waited < 15 else 2.0


class Conversation:
    """One probe's requests: answers kept whatever their status, and the lags seen."""

    def __init__(self, client, *, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.bound = LAG_BOUND / time_scale
        self.clock = clock
        self.sleep = sleep
        self.lags: list[Lag] = []

    def ask(self, method: str, path_or_url: str, body: dict | None = None) -> Answer:
        """Graph's answer, an expected refusal (400, 404, 409, ...) included; raises what the
        probe cannot go on after (no answer, 401, 403, throttled or 5xx until the retries ran out)."""
        try:
            response = self.client._call(method, path_or_url, body=body)
        except RetriesExhausted:
            raise
        except GraphError as e:
            if e.status is None or e.status in (401, 403, 429) or e.status >= 500:
                raise
            return Answer(e.status, e.code)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        return Answer(response.status_code, None, data if isinstance(data, dict) else {},
                      response.headers.get("Location"))

    def get_keyset(self, keyset_id: str) -> dict | None:
        """The key set as GET shows it, or None when GET says it does not exist."""
        answer = self.ask("GET", keyset_path(keyset_id))
        if answer.ok:
            return answer.body
        if answer.status in (400, 404):
            return None
        raise ProbeStopped(f"GET {keyset_id} answered {answer.shown()}")

    def until(self, what: str, since: float, look: Callable[[], T | None], *, bound: float | None = None,
              record_miss: bool = True) -> T | None:
        """Reads with `look` until it finds something (returned), or `bound` seconds after
        `since` (the monotonic time the write was answered) have passed (None). The time it
        took is kept as a `Lag`; a miss only when `record_miss` (a write that should show)."""
        bound = self.bound if bound is None else bound
        last_miss, reads = None, 0
        head_start = min(self.expected(), bound)
        if head_start > 0:  # a lag was seen before: read again only when most of it has passed
            self.sleep(max(0.0, since + head_start - self.clock()))
        while True:
            sent = self.clock()
            reads += 1
            found = look()
            if found is not None:
                low = 0.0 if last_miss is None else last_miss - since
                self.lags.append(Lag(what, max(0.0, low), self.clock() - since, reads))
                return found
            last_miss = sent
            waited = self.clock() - since
            if waited >= bound:
                if record_miss:
                    self.lags.append(Lag(what, waited, waited, reads, timed_out=True))
                return None
            self.sleep(min(_interval(waited), bound - waited))

    def expected(self) -> float:
        """Most of the longest lag seen so far (none when it was short): no use reading before."""
        longest = max((lag.low for lag in self.lags if not lag.timed_out), default=0.0)
        return 0.8 * longest if longest > LAG_REPORTED else 0.0

    def settle_bound(self) -> float:
        """How long to look for something that may or may not come (a .bak): no wait when
        every write showed at the first read, else the longest lag seen and a second."""
        if not any(lag.reads > 1 or lag.low > 0 for lag in self.lags):
            return 0.0
        return min(self.bound, max(lag.high for lag in self.lags) + 1.0)

    def list_pages(self) -> list[Page]:
        """Every page of the list, following each next link as the tenant wrote it (a
        relative one resolved against the page it came on), never to another host."""
        url = self.client.root + "/trustFramework/keySets"
        origin = _origin(url)
        pages: list[Page] = []
        while url and len(pages) < MAX_PAGES:
            answer = self.ask("GET", url)
            if not answer.ok:
                raise ProbeStopped(f"the list answered {answer.shown()}")
            link = answer.body.get("@odata.nextLink")
            pages.append(Page(list(answer.body.get("value") or ()), link if isinstance(link, str) else None))
            url = urljoin(url, link) if isinstance(link, str) and link else None
            if url and _origin(url) != origin:
                raise ProbeStopped(f"the list's next link leads to another host ({_origin(url)}); not followed")
        return pages


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
