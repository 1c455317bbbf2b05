"""The one kind of HTTP session b2ckeys uses, for Graph and for sign-in.

requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` override a session's
`verify` whenever a call does not pass its own; so this session passes its
trust settings and a timeout on every call. TLS verification is never off: not
for the session, not for one call. Redirects are never followed, for any
caller (msal included): a redirect would carry the token, or the client secret
in a re-sent token request, to wherever the `Location` points. With `--debug`
every request and answer is logged (`reconciler.cli.debuglog`), never a body.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import requests
import requests.adapters

DEFAULT_TIMEOUT = (10, 60)  # connect, read (seconds)
_SHOWN_ANSWER_HEADERS = ("request-id", "client-request-id", "Retry-After", "Location")

log = logging.getLogger("b2ckeys.http")


class Session(requests.Session):
    def __init__(
        self,
        verify: str | bool = True,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        pool_size: int = 10,
    ):
        super().__init__()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        if verify is False or verify is None:
            raise ValueError("TLS verification cannot be turned off")
        self.verify = verify
        self.default_timeout = timeout

    def request(self, method, url, **kwargs):
        if kwargs.get("verify") is False:
            raise ValueError("TLS verification cannot be turned off")
        if kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.verify
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        kwargs["allow_redirects"] = False
        if not log.isEnabledFor(logging.DEBUG):
            return super().request(method, url, **kwargs)
        log.debug("-> %s %s%s", method, url, _request_details(kwargs))
        started = time.monotonic()
        try:
            response = super().request(method, url, **kwargs)
        except requests.RequestException as e:
            log.debug("<- %s %s: no answer (%s)", method, _origin(url), type(e).__name__)
            raise
        shown = [f"{name}: {response.headers[name]}" for name in _SHOWN_ANSWER_HEADERS if name in response.headers]
        log.debug("<- %s %s to %s %s in %.0f ms, %d bytes%s", response.status_code, response.reason, method,
                  urlsplit(url).path, (time.monotonic() - started) * 1000, len(response.content),
                  f" ({', '.join(shown)})" if shown else "")
        return response


def _request_details(kwargs: dict) -> str:
    headers = dict(kwargs.get("headers") or {})
    for name in list(headers):
        if name.lower() in ("authorization", "cookie", "proxy-authorization"):
            scheme = str(headers[name]).split(" ", 1)[0] if name.lower() != "cookie" else ""
            headers[name] = f"{scheme} [redacted]".strip()
    data = kwargs.get("data")
    body = kwargs.get("json") if data is None else data
    size = (f", body {len(body)} bytes" if isinstance(body, (str, bytes))
            else ", form body" if body is not None else "")
    shown = ", ".join(f"{k}: {v}" for k, v in headers.items())
    return (f" ({shown}{size}, timeout {kwargs['timeout']})" if shown or size
            else f" (timeout {kwargs['timeout']})")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
