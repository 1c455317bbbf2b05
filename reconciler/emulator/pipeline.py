"""Request/response values and the hook points every request goes through.

The order for a request to Graph or to the token service (``ctx.area`` says which):

1. ``before_request`` hooks, ``hook(ctx) -> Response | None``: run first, before any
   token check. Returning a Response answers the request with it (the handler does not
   run). Seam for fault injection per method + path (status, delay via ``time.sleep``,
   ``Response.dropped()`` to reset the connection).
2. Graph only: the bearer token is checked, ``ctx.claims`` is set, then ``after_auth``
   hooks run with the same contract. Seam for throttling per app (``ctx.claims['appid']``)
   and per tenant (``ctx.claims['tid']``): return a 429 with ``Retry-After``.
3. The handler runs. A handler that changed the store sets ``ctx.committed = True``.
4. ``after_commit`` hooks, ``hook(ctx, response) -> Response | None``, run only when
   ``ctx.committed``; a returned Response replaces the answer. Seam for "the write
   succeeded but its answer was lost" (return ``Response.dropped()``, or a 5xx).

A Response with ``pace`` set is sent slowly, as a slow or hostile server would: each line
of its head, then each byte of its body, written on its own, ``pace`` seconds apart.

Each list starts with the emulator's built-in stages (``network.py``: latency, fault
rules, throttling), given to the constructor; ``clear()`` removes only the hooks added
since. Hooks run on the server's request threads: keep them thread-safe. The request
log and the access log record whatever is finally answered (status 0 = dropped), and
``ctx.fault`` / ``ctx.throttled`` when set.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str                          # raw path, no query string
    query: dict[str, list[str]]
    headers: Mapping[str, str]         # case-insensitive .get()
    body: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_request_id: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False                 # close the connection without answering
    pace: float = 0.0                  # seconds between two head lines, then two body bytes

    @classmethod
    def json(cls, status: int, payload: Any, *, content_type: str = JSON,
             headers: Optional[dict[str, str]] = None) -> "Response":
        return cls(status, json.dumps(payload).encode(),
                   {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def empty(cls, status: int = 204, headers: Optional[dict[str, str]] = None) -> "Response":
        return cls(status, b"", dict(headers or {}))

    @classmethod
    def dropped(cls) -> "Response":
        return cls(0, drop=True)


@dataclass
class Context:
    request: Request
    area: str                          # "graph" or "sts"
    claims: Optional[dict[str, Any]] = None
    committed: bool = False
    fault: str = ""                    # effect of an injected fault, for the request log
    throttled: bool = False            # answered 429 by the throttle


BeforeHook = Callable[[Context], Optional[Response]]
CommitHook = Callable[[Context, Response], Optional[Response]]


class Pipeline:
    """Hook lists (see the module docstring): built-in stages first, then added hooks."""

    def __init__(self, before_request: tuple[BeforeHook, ...] = (),
                 after_auth: tuple[BeforeHook, ...] = (),
                 after_commit: tuple[CommitHook, ...] = ()) -> None:
        self._builtin = (tuple(before_request), tuple(after_auth), tuple(after_commit))
        self.before_request: list[BeforeHook] = []
        self.after_auth: list[BeforeHook] = []
        self.after_commit: list[CommitHook] = []

    def clear(self) -> None:
        self.before_request.clear()
        self.after_auth.clear()
        self.after_commit.clear()

    @staticmethod
    def _first(hooks: tuple[BeforeHook, ...], ctx: Context) -> Optional[Response]:
        for hook in hooks:
            answer = hook(ctx)
            if answer is not None:
                return answer
        return None

    def check_auth(self, ctx: Context) -> Optional[Response]:
        return self._first(self._builtin[1] + tuple(self.after_auth), ctx)

    def run(self, ctx: Context, handler: Callable[[Context], Response]) -> Response:
        answer = self._first(self._builtin[0] + tuple(self.before_request), ctx)
        if answer is not None:
            return answer
        answer = handler(ctx)
        if ctx.committed:
            for hook in self._builtin[2] + tuple(self.after_commit):
                answer = hook(ctx, answer) or answer
        return answer
