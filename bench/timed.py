"""`b2ckeys ARGS...`, with the time of each phase written to $BENCH_PHASES_FILE (JSON).

The benchmark runs this instead of the console script so that it can tell where a
plan's or an apply's time goes; it calls the same `reconciler.cli.main`, and only
wraps a few functions with a clock. Phases (seconds, from this script's first line;
the interpreter's own start-up is outside, in the caller's wall time):

  imports    until the CLI module is imported
  load       waiting for the manifests: all of their reading and checking when it
             comes first; when a thread loads them while the tenant is read (large
             manifest sets in `plan` and `drift`, see reconciler/manifest/background.py),
             only the waits for their tenant and their result
  load_thread  the loading thread's time, from its start to the loaded state (then
             `load_overlapped` is true)
  list       listing the tenant
  sign_in    the first access token
  plan       computing the plan
  apply      the writes (apply only)
  total      until the command returned
  cpu        CPU seconds the process used (all threads, interpreter start included)

and `graph_requests` (the client's own count), `pacer_waited` (seconds workers
spent waiting for the pace, summed over workers), `load_overlapped` (whether a
thread loaded the manifests while the tenant was read) and `peak_rss_mb`, this
process's peak.
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from reconciler import cli  # noqa: E402

from rss import peak_rss_mb  # noqa: E402

phases: dict = {"imports": time.perf_counter() - STARTED}
lock = threading.Lock()
inside = threading.local()
clients: list = []


def timed(owner, name, phase):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if getattr(inside, phase, False):  # a timed call within another: counted once
            return original(*args, **kwargs)
        setattr(inside, phase, True)
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            setattr(inside, phase, False)
            with lock:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - began

    setattr(owner, name, wrapper)
    return original


def main() -> int:
    from reconciler.graph import client as graph
    from reconciler.manifest import background as loading
    from reconciler.plan import planner
    from reconciler.session import Session, applier
    from reconciler.signin import auth

    timed(Session, "load", "load")
    timed(loading, "start_loading", "load")
    timed(loading._InThread, "tenant", "load")
    timed(loading._InThread, "result", "load")
    timed(loading._InThread, "_run", "load_thread")
    original_thread = loading._InThread.__init__

    def overlapped(self, *args, **kwargs):
        phases["load_overlapped"] = True
        original_thread(self, *args, **kwargs)

    loading._InThread.__init__ = overlapped
    timed(graph.GraphClient, "list_keysets", "list")
    timed(planner, "plan", "plan")
    timed(applier, "apply", "apply")
    original_token = auth.TokenProvider._token

    def first_token(self):
        if "sign_in" in phases:
            return original_token(self)
        began = time.perf_counter()
        try:
            return original_token(self)
        finally:
            phases["sign_in"] = time.perf_counter() - began

    auth.TokenProvider._token = first_token
    original_init = graph.GraphClient.__init__

    def remember(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        clients.append(self)

    graph.GraphClient.__init__ = remember
    try:
        return cli.main(sys.argv[1:])
    finally:
        phases["total"] = time.perf_counter() - STARTED
        phases["cpu"] = time.process_time()
        phases["graph_requests"] = sum(c.request_count for c in clients)
        phases["pacer_waited"] = sum(c.pacer.waited for c in clients)
        phases.setdefault("load_overlapped", False)
        phases["peak_rss_mb"] = peak_rss_mb()
        target = os.environ.get("BENCH_PHASES_FILE")
        if target:
            with open(target, "w", encoding="utf-8") as fh:
                json.dump(phases, fh)


if __name__ == "__main__":
    sys.exit(main())
