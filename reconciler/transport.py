"""The one kind of HTTP session b2ckeys uses, for Graph and for sign-in.

requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` override a session's
`verify` whenever a call does not pass its own; so this session passes its
trust settings and a timeout on every call. TLS verification is never off.
"""

from __future__ import annotations

import requests
import requests.adapters

DEFAULT_TIMEOUT = (10, 60)  # connect, read (seconds)


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
        if verify is False:
            raise ValueError("TLS verification cannot be turned off")
        self.verify = verify
        self.default_timeout = timeout

    def request(self, method, url, **kwargs):
        if kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.verify
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, **kwargs)
