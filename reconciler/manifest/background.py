"""Loading the manifests while the tenant is read (`plan` and `drift`).

Loading and checking a large manifest set costs seconds of CPU; reading a large
tenant costs seconds of waiting on Graph. One process cannot do both at once: a
thread that lists the tenant while another loads waits for the GIL at every socket
read (measured: 10,000 key sets took 9 to 55 s to list instead of 5.6). So on Linux,
when the manifests are large, the load runs in a forked process of its own:

    child:  tenant pre-scan ──▶ tenant ──▶ load_state ──────────────────▶ state
    parent: sign in ──▶ wait for the tenant ──▶ guards ──▶ list key sets ──▶ wait for the state

What one process guarantees still holds:
- the tenant guard runs before any key-set call: the tenant comes from an exact
  pre-scan (`tenantscan`), else the parent waits for the whole load;
- errors are the same, word for word: when the child fails in any way (bad
  manifests, a crash, a state that does not pickle) the parent loads in-process;
- bad manifests are the first thing to fix: the caller asks for `result()` before
  reporting a sign-in or Graph error, and the manifests' errors win;
- small manifest sets (under `PROCESS_MIN_BYTES`) load in-process first, as before:
  their errors come before any sign-in. `apply` always does: it checks the secrets
  before any call to Graph.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import sys
import threading
from typing import Callable, Mapping, Sequence

import yaml

from ..core.errors import ManifestError
from ..core.model import DesiredState
from ..core.diagnostics import Diagnostic
from .files import find_manifest_files
from .state import load_state
from .tenantscan import UNKNOWN, declared_tenant

PROCESS_MIN_BYTES = 256 * 1024  # about 1,200 key sets; below, a second process gains a tenth of a second or less
_HEADER = struct.Struct(">Q")
_PENDING = object()

Loaded = tuple[DesiredState, list[Diagnostic]]


def start_loading(paths: Sequence[str], environ: Mapping[str, str], *, policies: Sequence[str] = ()):
    """A load under way: `.tenant()`, then `.result()`; use it as a context manager."""
    def load() -> Loaded:
        return load_state(paths, environ, policies=policies)

    files = find_manifest_files(paths)  # a missing path is reported at once, as before
    if _worth_a_process(files):
        try:
            started = _InChild(load, files)
        except OSError:  # no process or pipe to spare: load here
            pass
        else:
            logging.getLogger("b2ckeys").debug("loading %d manifest files in a process of their own while the "
                                               "tenant is read", len(files))
            return started
    return _InProcess(load())


def _worth_a_process(files: Sequence[str]) -> bool:
    if not (sys.platform.startswith("linux") and hasattr(os, "fork") and getattr(yaml, "__with_libyaml__", False)):
        return False
    if threading.active_count() > 1:  # forking a process with threads risks locks held forever in the child
        return False
    try:
        return sum(os.path.getsize(f) for f in files) >= PROCESS_MIN_BYTES
    except OSError:
        return False  # the load reports it


class _InProcess:
    """Already loaded (raised its errors before the command signed in)."""

    def __init__(self, loaded: Loaded):
        self._loaded = loaded

    def tenant(self) -> str | None:
        return self._loaded[0].tenant

    def result(self) -> Loaded:
        return self._loaded

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class _InChild:
    """The load running in a forked child, which sends two pickled messages through a
    pipe: ("tenant", pre-scanned tenant), then ("state", state, warnings) or ("failed",)."""

    def __init__(self, load: Callable[[], Loaded], files: Sequence[str]):
        self._load = load
        self._tenant = _PENDING
        self._loaded: Loaded | None = None
        read_end, write_end = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
            stream.flush()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # pragma: no cover - the child; coverage does not follow it
            os.close(read_end)
            _child(write_end, load, files)
        os.close(write_end)
        self._pid: int | None = pid
        self._pipe = os.fdopen(read_end, "rb")

    def tenant(self) -> str | None:
        """The manifests' tenant, as the whole load will give it; waits for the whole
        load when the pre-scan could not tell."""
        if self._tenant is _PENDING:
            message = self._receive()
            self._tenant = message[1] if message and message[0] == "tenant" else UNKNOWN
        if self._tenant == UNKNOWN:
            return self.result()[0].tenant
        return self._tenant

    def result(self) -> Loaded:
        """The state and its warnings; ManifestError with every error, as `load_state` raises it."""
        if self._loaded is None:
            if self._tenant is _PENDING:
                self.tenant()
            if self._loaded is not None:  # tenant() waited for the whole load
                return self._loaded
            message = self._receive()
            self._finish()
            loaded = message[1:] if message and message[0] == "state" else self._load()
            self._loaded = (loaded[0], list(loaded[1]))
            self._check_tenant(self._loaded[0])
        return self._loaded

    def _check_tenant(self, state: DesiredState) -> None:
        if self._tenant not in (_PENDING, UNKNOWN) and state.tenant != self._tenant:
            raise ManifestError.at(None, f"the manifests changed while they were read (tenant "
                                         f"{self._tenant or '(none)'}, then {state.tenant or '(none)'}); "
                                         "nothing was changed: run the command again")

    def _receive(self):
        try:
            header = self._pipe.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return None
            body = self._pipe.read(_HEADER.unpack(header)[0])
            return pickle.loads(body)  # our own child's bytes, through our own pipe
        except (OSError, EOFError, pickle.UnpicklingError, struct.error):
            return None

    def _finish(self, kill: bool = False) -> None:
        if self._pid is None:
            return
        if kill:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(self._pid, 0)
        except ChildProcessError:
            pass
        self._pid = None
        self._pipe.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._finish(kill=True)


def _child(write_end: int, load: Callable[[], Loaded], files: Sequence[str]):  # pragma: no cover - see above
    """Runs in the forked child and never returns. Any failure ends the messages early:
    the parent then loads in-process and reports what went wrong."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends this process
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

        with os.fdopen(write_end, "wb") as out:
            _send(out, ("tenant", declared_tenant(files)))
            try:
                state, warnings = load()
            except ManifestError:
                _send(out, ("failed",))
            else:
                _send(out, ("state", state, tuple(warnings)))
    except BaseException:
        pass
    finally:
        os._exit(0)


def _send(out, message) -> None:  # pragma: no cover - the child's
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(body)) + body)
    out.flush()
