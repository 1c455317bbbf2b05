"""The one kind of HTTP session b2ckeys uses, for Graph and for sign-in.

requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` override a session's
`verify` whenever a call does not pass its own; so this session passes its
trust settings and a timeout on every call. TLS verification is never off: not
for the session, not for one call. Redirects are never followed, for any
caller (msal included): a redirect would carry the token, or the client secret
in a re-sent token request, to wherever the `Location` points.

What an answer may cost is bounded, whoever sends it:

- **time**: a request gets `request_seconds` in all (by default its connect timeout plus
  its read timeout: 70 s for Graph), for connecting, the head and the whole body, however
  slowly they trickle in (`reconciler.graph.watch`); past it, `RequestDeadline` (a
  `requests.Timeout`: reads are tried again, as after any timeout). And no request
  outlives the run's deadline (`reconciler.graph.deadline`, B2CKEYS_DEADLINE): `DeadlinePassed`.
- **size**: an answer is read in pieces, and refused (`AnswerTooLarge`) as soon as it
  announces or reaches MAX_ANSWER_BYTES. A page of 100 key sets, each key with its
  certificate, is well under 2 MiB, a token answer a few KiB: 8 MiB leaves room for
  larger pages and longer chains, and refuses a runaway answer before it costs memory.

With `--debug` every request and answer is logged (`reconciler.cli.debuglog`): never a
body, nor a request body's size (that of uploadSecret or of a token request gives away
the length of the secret it carries).
"""

from __future__ import annotations

import functools
import logging
import math
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import requests.utils
from urllib3.util.ssl_ import create_urllib3_context

from ..core.errors import ConfigError
from .deadline import Deadline
from .watch import WatchedAdapter, watching

DEFAULT_TIMEOUT = (10, 60)  # connect, read (seconds)
MAX_ANSWER_BYTES = 8 << 20
CHUNK_BYTES = 64 << 10
_SHOWN_ANSWER_HEADERS = ("request-id", "client-request-id", "Retry-After", "Location")

log = logging.getLogger("b2ckeys.http")


class RequestDeadline(requests.Timeout):
    """No complete answer within the request's own time."""

    def __init__(self, origin: str, method: str, path: str, seconds: float):
        self.origin, self.seconds = origin, seconds
        super().__init__(f"{origin} sent no complete answer to {method} {path} within {seconds:g} s")


class AnswerTooLarge(requests.RequestException):
    def __init__(self, origin: str, method: str, path: str, status: int, cap: int):
        self.origin, self.status, self.cap = origin, status, cap
        super().__init__(f"the answer to {method} {path} from {origin} is larger than {size_text(cap)}, "
                         "the most b2ckeys reads of one answer; refused")


@dataclass(frozen=True)
class ExtraCAs:
    """Trust the public roots (requests' own bundle) and the CA certificates in `path` as well,
    through one SSL context in memory: no combined file is written anywhere."""

    path: str
    source: str = "B2CKEYS_CA_BUNDLE"

    def context(self) -> ssl.SSLContext:
        return _context(self.path, self.source)


@functools.lru_cache(maxsize=4)
def _context(path: str, source: str) -> ssl.SSLContext:
    context = create_urllib3_context()
    context.load_verify_locations(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH)
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"{source}={path}: no CA certificate could be read from it ({e.strerror or e})") from None
    return context


class Session(requests.Session):
    def __init__(
        self,
        verify: str | bool | ExtraCAs = True,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        pool_size: int = 10,
        *,
        deadline: Deadline | None = None,
        request_seconds: float | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ):
        super().__init__()
        if verify is False or verify is None:
            raise ValueError("TLS verification cannot be turned off")
        context = verify.context() if isinstance(verify, ExtraCAs) else None
        adapter = WatchedAdapter(ssl_context=context, pool_connections=2, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        # With our own context, each call still names requests' bundle: a path, which no variable replaces
        self.verify = requests.utils.DEFAULT_CA_BUNDLE_PATH if context else verify
        self.default_timeout = timeout
        self.deadline = deadline or Deadline()
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.request_seconds = request_seconds if request_seconds is not None else connect + read
        self.max_answer_bytes = max_answer_bytes

    def request(self, method, url, **kwargs):
        if kwargs.get("verify") is False:
            raise ValueError("TLS verification cannot be turned off")
        if kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.verify
        origin, path = _origin(url), urlsplit(url).path or "/"
        left = self.deadline.remaining()
        if left <= 0:
            raise self.deadline.not_started(f"{method} {path} to {origin}")
        seconds = min(self.request_seconds, left)
        kwargs["timeout"] = _within(kwargs.get("timeout") or self.default_timeout, seconds)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True  # the body is read here, in pieces, within the deadline and the cap
        debug = log.isEnabledFor(logging.DEBUG)
        if debug:
            log.debug("-> %s %s%s", method, url, _request_details(kwargs, seconds))
        started = time.monotonic()
        with watching(seconds) as watch:
            try:
                response = super().request(method, url, **kwargs)
                size = self._read_body(response, origin, method, path)
                if watch.expired:  # a head or body cut short by the watch can look complete: it is not
                    response.close()
                    raise requests.Timeout("cut at the deadline")
            except AnswerTooLarge:
                if debug:
                    log.debug("<- %s %s: answer too large", method, origin)
                raise
            except Exception as e:
                timed_out = watch.expired or (isinstance(e, requests.Timeout)
                                              and time.monotonic() - started >= seconds * 0.99)
                if debug:
                    log.debug("<- %s %s: no answer (%s)", method, origin,
                              "deadline" if timed_out else type(e).__name__)
                if not timed_out:
                    raise
                if seconds < self.request_seconds:  # the run's deadline, not the request's, cut it
                    raise self.deadline.cut(f"{method} {path} from {origin}") from None
                raise RequestDeadline(origin, method, path, seconds) from None
        if debug:
            shown = [f"{name}: {response.headers[name]}" for name in _SHOWN_ANSWER_HEADERS
                     if name in response.headers]
            log.debug("<- %s %s to %s %s in %.0f ms, %d bytes%s", response.status_code, response.reason, method,
                      path, (time.monotonic() - started) * 1000, size, f" ({', '.join(shown)})" if shown else "")
        return response

    def get_redirect_target(self, response):
        """None: a redirect is never followed, nor its body read past the cap to prepare following it."""
        return None

    def _read_body(self, response: requests.Response, origin: str, method: str, path: str) -> int:
        """Reads the whole body into `response.content`, refusing it past the cap."""
        cap = self.max_answer_bytes
        try:
            announced = response.headers.get("Content-Length", "").strip()
            if announced.isdigit() and int(announced) > cap:
                raise AnswerTooLarge(origin, method, path, response.status_code, cap)
            pieces, size = [], 0
            for piece in response.iter_content(CHUNK_BYTES):
                size += len(piece)
                if size > cap:
                    raise AnswerTooLarge(origin, method, path, response.status_code, cap)
                pieces.append(piece)
        except BaseException:
            response.close()  # the connection, half read, is not reused
            raise
        response._content = b"".join(pieces)
        return size


def size_text(size: int) -> str:
    return f"{size / (1 << 20):g} MiB" if size >= 1 << 20 and size % (1 << 18) == 0 else f"{size} bytes"


def _within(timeout, seconds: float) -> tuple[float, float]:
    """(connect, read) timeouts, neither longer than the request's `seconds`."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if math.isinf(seconds) or (connect <= seconds and read <= seconds):
        return timeout
    return (max(round(min(connect, seconds), 3), 0.001), max(round(min(read, seconds), 3), 0.001))


def _request_details(kwargs: dict, seconds: float) -> str:
    headers = dict(kwargs.get("headers") or {})
    for name in list(headers):
        if name.lower() in ("authorization", "cookie", "proxy-authorization"):
            scheme = str(headers[name]).split(" ", 1)[0] if name.lower() != "cookie" else ""
            headers[name] = f"{scheme} [redacted]".strip()
    shown = [f"{k}: {v}" for k, v in headers.items()]
    if kwargs.get("data") is not None or kwargs.get("json") is not None:
        shown.append("with a body")  # never its size: that of a secret's request gives the secret's length
    shown.append(f"timeout {kwargs['timeout']}, {seconds:.3g} s in all")
    return f" ({', '.join(shown)})"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
