"""Run the emulator in the foreground (`b2ckeys emulator`)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Iterable, Optional, Sequence, TextIO, Union

from .config import DEFAULT_FEDERATED_SUBJECT, DEFAULT_ROLES
from .identity import FEDERATED_TOKEN_PATH
from .server import DEFAULT_TENANT_DOMAIN, Emulator


def serve_forever(host: str = "127.0.0.1", port: int = 0, *, env_file: Optional[str] = None,
                  tenant_domain: str = DEFAULT_TENANT_DOMAIN, page_size: int = 2,
                  roles: Sequence[str] = DEFAULT_ROLES,
                  throttle: Optional[dict[str, Any]] = None,
                  latency: Optional[dict[str, Any]] = None,
                  faults: Iterable[Union[str, dict[str, Any]]] = (),
                  client_certificates: Sequence[str] = (),
                  federated_subject: str = DEFAULT_FEDERATED_SUBJECT,
                  readings: Sequence[str] = (), vaults: Sequence[str] = (),
                  out: TextIO = sys.stdout,
                  log_stream: Optional[TextIO] = sys.stderr,
                  stop_event: Optional[threading.Event] = None) -> int:
    """Start, write ``env_file`` (atomically) if given, print the same KEY=VALUE lines
    to ``out`` (then, as shell comments, how to try the other credential kinds), serve
    until SIGINT/SIGTERM (or ``stop_event``), stop cleanly, return 0.
    ``throttle``, ``latency``, ``faults`` and ``readings`` are the start settings, fault
    rules and readings, as for ``Emulator``; a bad fault rule or reading, or a
    ``client_certificates`` file without a certificate, raises ValueError before anything
    starts."""
    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with Emulator(host, port, tenant_domain=tenant_domain, roles=tuple(roles),
                      page_size=page_size, throttle=throttle, latency=latency, faults=faults,
                      client_certificates=client_certificates,
                      federated_subject=federated_subject, readings=readings, vaults=vaults,
                      log_stream=log_stream) as emu:
            if env_file:
                emu.write_env_file(env_file)
            out.writelines(f"{key}={value}\n" for key, value in emu.env.items())
            out.writelines(_other_kinds(emu))
            if emu.vaults.names:
                out.write(f"# Key Vaults: {' '.join(emu.vaults.names)} (B2CKEYS_KEYVAULT_URL)\n")
            if emu.config.current.readings:
                out.write(f"# Readings: {' '.join(emu.config.current.readings)}\n")
            out.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _other_kinds(emu: Emulator) -> list[str]:
    mi = " ".join(f"{k}={v}" for k, v in emu.managed_identity_env.items())
    return [
        "# Other credential kinds (docs/emulator.md, 'Trying each credential kind on the emulator'):\n",
        f"#   managed identity: unset AZURE_CLIENT_SECRET; export {mi}\n",
        f"#   federated: GET {emu.url}{FEDERATED_TOKEN_PATH} -> .value into "
        "AZURE_FEDERATED_TOKEN_FILE; unset AZURE_CLIENT_SECRET\n",
        "#   certificate: start with --client-certificate FILE; export "
        "AZURE_CLIENT_CERTIFICATE_PATH; unset AZURE_CLIENT_SECRET\n",
    ]
