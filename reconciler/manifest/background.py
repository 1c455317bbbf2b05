"""Loading the manifests while the tenant is read (`plan` and `drift`).

Loading and checking a large manifest set costs seconds of CPU; reading a large
tenant costs seconds of waiting on Graph. When the manifests are large, the load
runs in a thread while the caller signs in and lists:

    thread: tenant pre-scan ──▶ tenant ──▶ load_state ──────────────────▶ state
    caller: sign in ──▶ wait for the tenant ──▶ guards ──▶ list key sets ──▶ wait for the state

Both need the GIL. At CPython's default switch interval (5 ms) the listing waits for
it after every socket read; while the load runs the interval is 0.5 ms, which keeps
the listing within about a tenth of its time alone (measured at 10,000 key sets).

What loading first guarantees still holds:
- the tenant guard runs before any key-set call: the tenant comes from an exact
  pre-scan (`tenantscan`), else the caller waits for the whole load;
- errors are the same, word for word: the thread's exception is raised in the caller;
- bad manifests are the first thing to fix: the caller asks for `result()` before
  reporting a sign-in or Graph error, and the manifests' errors win;
- small manifest sets (under `OVERLAP_MIN_BYTES`) load first, as before: their
  errors come before any sign-in. `apply` always does: it checks the secrets
  before any call to Graph.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Callable, Mapping, Sequence

import yaml

from ..core.diagnostics import Diagnostic
from ..core.errors import ManifestError
from ..core.model import DesiredState
from .files import find_manifest_files
from .environments import Scope
from .state import load_state
from .tenantscan import UNKNOWN, declared_tenant

OVERLAP_MIN_BYTES = 256 * 1024  # about 1,200 key sets; below, the overlap gains a tenth of a second or less
SWITCH_INTERVAL = 0.0005  # seconds, while the load runs; CPython's default is 0.005
_PENDING = object()

Loaded = tuple[DesiredState, list[Diagnostic]]


def start_loading(paths: Sequence[str], environ: Mapping[str, str], *, policies: Sequence[str] = (),
                  scope: Scope | None = None):
    """A load under way: `.tenant()`, then `.result()`; use it as a context manager."""

    def load() -> Loaded:
        return load_state(paths, environ, policies=policies, scope=scope)

    files = find_manifest_files(paths)  # a missing path is reported at once, as before
    if _worth_overlapping(files):
        logging.getLogger("b2ckeys").debug("loading %d manifest files in a thread while the tenant is read",
                                           len(files))
        return _InThread(load, files)
    return _InProcess(load())


def _worth_overlapping(files: Sequence[str]) -> bool:
    if not getattr(yaml, "__with_libyaml__", False):  # no fast pre-scan: the tenant would wait for the load
        return False
    try:
        return sum(os.path.getsize(f) for f in files) >= OVERLAP_MIN_BYTES
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


class _InThread:
    """The pre-scan, then the load, in a daemon thread (a Ctrl-C does not wait for it)."""

    def __init__(self, load: Callable[[], Loaded], files: Sequence[str]):
        self._load = load
        self._tenant = _PENDING
        self._loaded: Loaded | None = None
        self._error: BaseException | None = None
        self._scanned = threading.Event()
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run, args=(files,), name="b2ckeys-load", daemon=True)
        self._thread.start()

    def _run(self, files: Sequence[str]) -> None:
        try:
            try:
                self._tenant = declared_tenant(files)
            except Exception:  # the load says what is wrong
                self._tenant = UNKNOWN
            self._scanned.set()
            self._loaded = self._load()
        except BaseException as e:  # raised again in the caller, by result()
            self._error = e
        finally:
            self._scanned.set()
            sys.setswitchinterval(self._switch)

    def tenant(self) -> str | None:
        """The manifests' tenant, as the whole load will give it; waits for the whole
        load when the pre-scan could not tell."""
        self._scanned.wait()
        if self._tenant in (_PENDING, UNKNOWN):
            return self.result()[0].tenant
        return self._tenant

    def result(self) -> Loaded:
        """The state and its warnings; ManifestError with every error, as `load_state` raises it."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._check_tenant(self._loaded[0])
        return self._loaded

    def _check_tenant(self, state: DesiredState) -> None:
        if self._tenant not in (_PENDING, UNKNOWN) and state.tenant != self._tenant:
            raise ManifestError.at(None, f"the manifests changed while they were read (tenant "
                                         f"{self._tenant or '(none)'}, then {state.tenant or '(none)'}); "
                                         "nothing was changed: run the command again")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
