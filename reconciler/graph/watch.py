"""Cutting one request at its deadline, wherever it is blocked.

A socket's timeout bounds each read, not the whole answer: a server that sends its head a
line, or its body a byte, every 20 seconds never trips a 60-second read timeout. So each
request of `reconciler.graph.transport.Session` runs `watching(seconds)`: the connections
urllib3 sends it on are noted (the adapter's pools make them, `WatchedAdapter`), and when
the seconds pass, the watchdog shuts their sockets down, which ends any read blocked on them at
once. The request then fails, and `expired` says why; it must be asked even when the request
seemed to succeed, since http.client takes a head or body cut short by a close for a whole one.

A connection goes back to urllib3's pool as soon as its answer is read; if another request
takes it before this watch finished, it belongs to that request's watch, and this watch
leaves it alone. One thread (`_Watchdog`) keeps every watch's time.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import requests.adapters
import urllib3
import urllib3.connection

_current = threading.local()  # the watch of the request this thread is making
_owners = threading.Lock()  # guards each connection's `_b2ckeys_watch` and each watch's `done`


class Watch:
    def __init__(self, seconds: float):
        self.ends = time.monotonic() + max(seconds, 0.0)
        self.expired = False
        self.done = False
        self._connections: list = []

    def note(self, connection) -> None:
        with _owners:
            connection._b2ckeys_watch = self
            self._connections.append(connection)

    def expire(self) -> None:
        with _owners:
            if self.done:
                return
            self.expired = True
            mine = [c for c in self._connections if getattr(c, "_b2ckeys_watch", None) is self]
        for connection in mine:
            _shut_down(getattr(connection, "sock", None))

    def finish(self) -> None:
        with _owners:
            self.done = True
            self._connections = []


class _Watchdog:
    """One thread for every watch: it sleeps until the earliest one ends (a watch that finished
    first is skipped when its time comes)."""

    def __init__(self):
        self._due: list[tuple[float, int, Watch]] = []
        self._changed = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch) -> None:
        with self._changed:
            heapq.heappush(self._due, (watch.ends, next(self._count), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="b2ckeys-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._changed.wait(self._due[0][0] - time.monotonic() if self._due else None)
                watch = heapq.heappop(self._due)[2]
            if not watch.done:
                watch.expire()


_watchdog = _Watchdog()


@contextmanager
def watching(seconds: float) -> Iterator[Watch]:
    watch = Watch(seconds)
    _current.watch = watch
    _watchdog.add(watch)
    try:
        yield watch
    finally:
        watch.finish()
        _current.watch = None


def _shut_down(sock) -> None:
    """Ends every read blocked on `sock`. For TLS, the plain socket's own shutdown: the
    TLS socket's would also drop its TLS state under the reading thread's feet."""
    raw = getattr(sock, "socket", sock)  # urllib3's TLS-in-TLS transport wraps the socket
    if isinstance(raw, socket.socket):
        try:
            socket.socket.shutdown(raw, socket.SHUT_RDWR)
        except OSError:
            pass


class _Noted:
    """A connection that tells the watch of the request it sends."""

    def request(self, *args, **kwargs):
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.note(self)
        return super().request(*args, **kwargs)


class _HTTPConnection(_Noted, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Noted, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with pools of watched connections, and `ssl_context` (when given)
    used for every TLS connection, proxied ones included."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, **kwargs):
        self._ssl_context = ssl_context  # set first: the parent's __init__ makes the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **kwargs):
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has pools of its own: read timeouts only
            manager.pool_classes_by_scheme = _POOLS
        return manager
