"""Run the emulator in the foreground (`b2ckeys emulator`)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Iterable, Optional, Sequence, TextIO, Union

from .config import DEFAULT_ROLES
from .server import DEFAULT_TENANT_DOMAIN, Emulator


def serve_forever(host: str = "127.0.0.1", port: int = 0, *, env_file: Optional[str] = None,
                  tenant_domain: str = DEFAULT_TENANT_DOMAIN, page_size: int = 2,
                  roles: Sequence[str] = DEFAULT_ROLES,
                  throttle: Optional[dict[str, Any]] = None,
                  latency: Optional[dict[str, Any]] = None,
                  faults: Iterable[Union[str, dict[str, Any]]] = (), out: TextIO = sys.stdout,
                  log_stream: Optional[TextIO] = sys.stderr,
                  stop_event: Optional[threading.Event] = None) -> int:
    """Start, write ``env_file`` (atomically) if given, print the same KEY=VALUE lines
    to ``out``, serve until SIGINT/SIGTERM (or ``stop_event``), stop cleanly, return 0.
    ``throttle``, ``latency`` and ``faults`` are the start settings and fault rules, as
    for ``Emulator``; a bad fault rule raises ValueError before anything starts."""
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with Emulator(host, port, tenant_domain=tenant_domain, roles=tuple(roles),
                      page_size=page_size, throttle=throttle, latency=latency, faults=faults,
                      log_stream=log_stream) as emu:
            if env_file:
                emu.write_env_file(env_file)
            out.writelines(f"{key}={value}\n" for key, value in emu.env.items())
            out.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0

