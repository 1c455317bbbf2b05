"""b2ckeys benchmark: plan and apply at scale, near Graph's throttle ceiling.

    python bench/run.py [--sizes 10,100,1000,10000] [--out bench/results.json]

Runs the emulator in this process (HTTPS, round-trip latency, Graph's throttle limits)
and every client in a process of its own, so that each is timed whole and its peak
memory (RSS) is its own. Prints a table and writes a JSON file. Four parts:

1. plan at scale: N key sets (1-3 keys each) are loaded straight into the emulator
   (`Emulator.seed`, no Graph request), manifests declaring exactly them are written,
   and `b2ckeys plan` runs: Graph requests, sign-in requests, wall time, peak RSS,
   against the lower bound (list pages + the token request) x latency, and beyond
   200 pages a minute for each 200 pages before the last (`lower_bound`). The naive
   client (`naive.py`) reads the same key sets one GET each.
2. apply at the ceiling: key sets exist, empty; `b2ckeys apply` adds the keys under
   the 200-per-minute limit, on a clock `--time-scale` times faster (the emulator's
   throttle window, its latency, Retry-After and b2ckeys' waits, via
   B2CKEYS_TIME_SCALE, are all divided by it). Wall time against requests / limit.
3. the naive client does the same additions: sequential writes, no pacing, sleeps
   Retry-After on a 429.
4. start-up: `b2ckeys --help` and `b2ckeys validate` on the shipped manifests/,
   whole-process wall time, median of several runs.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from reconciler.emulator import Emulator  # noqa: E402

import workload  # noqa: E402

APP_LIMIT, TENANT_LIMIT = 200, 300  # Graph's limits for key sets, per minute (docs/performance.md)
PAGE_SIZE_NOTE = (
    "Graph does not document the page size of keySets, nor whether it pages them at all "
    "(Microsoft's documentation of keySets is silent on paging). This run uses the chosen page size; "
    "100 is common for Graph collections. The emulator's own default (2) is for tests."
)

# The targets b2ckeys holds itself to (docs/performance.md).
TARGET_PLAN_RATIO = 1.5
TARGET_PLAN_RSS_MB = 300
TARGET_CEILING = 0.90
TARGET_HELP_S = 0.3


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10,100,1000,10000",
                   help="key sets in the tenant for the plan part (default 10,100,1000,10000)")
    p.add_argument("--out", default=os.path.join("bench", "results.json"),
                   help="JSON results file (default bench/results.json)")
    p.add_argument("--latency-ms", type=float, default=50.0,
                   help="round-trip latency the emulator adds to every request (default 50)")
    p.add_argument("--page-size", type=int, default=100,
                   help="key sets per list page (default 100; see the JSON's page_size_note)")
    p.add_argument("--additions", type=int, default=1000,
                   help="keys added in the apply part (default 1000)")
    p.add_argument("--time-scale", type=float, default=20.0,
                   help="apply part: its clock runs this many times faster (default 20: "
                        "the throttle's minute lasts 3 s)")
    p.add_argument("--parallelism", type=int, default=4,
                   help="b2ckeys apply --parallelism (default 4, b2ckeys' default)")
    p.add_argument("--naive-max", type=int, default=1000,
                   help="largest tenant the naive client reads for real; above it its time is "
                        "estimated from the measured round trip and the throttle (default 1000)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each b2ckeys plan; the median run is reported (default 3)")
    p.add_argument("--startup-runs", type=int, default=7,
                   help="runs of each start-up command; the median is reported (default 7)")
    return p.parse_args(argv)


# -- processes ---------------------------------------------------------------------------

def run_process(argv: list[str], env: dict, phases: bool = False) -> dict:
    """Runs argv to its end: wall seconds, exit code, stdout, stderr and, for
    `timed.py`, the phases it wrote (with its peak RSS: see rss.py)."""
    with tempfile.TemporaryDirectory(prefix="b2ckeys-bench-") as tmp:
        env = dict(env)
        phases_file = os.path.join(tmp, "phases.json")
        if phases:
            env["BENCH_PHASES_FILE"] = phases_file
        out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            began = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    env=env, cwd=ROOT)
            proc.wait()
            wall = time.perf_counter() - began
        with open(out_path, encoding="utf-8", errors="replace") as fh:
            stdout = fh.read()
        with open(err_path, encoding="utf-8", errors="replace") as fh:
            stderr = fh.read()
        result = {"wall_s": wall, "exit_code": proc.returncode,
                  "stdout": stdout, "stderr": stderr}
        if phases and os.path.exists(phases_file):
            with open(phases_file, encoding="utf-8") as fh:
                result["phases"] = json.load(fh)
        return result


def b2ckeys(*args: str) -> list[str]:
    return [sys.executable, os.path.join(HERE, "timed.py"), *args]


def client_env(emu: Emulator, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "B2CKEYS_", "MSAL_", "REQUESTS_CA", "CURL_CA"))}
    env.update(emu.env)
    env["BENCH_SECRET"] = "bench-secret-value"
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def check(result: dict, what: str) -> None:
    if result["exit_code"] != 0:
        raise SystemExit(f"{what} failed (exit {result['exit_code']}):\n{result['stdout'][-2000:]}"
                         f"\n{result['stderr'][-2000:]}")


class EmulatorClock:
    """Time the emulator spends building list pages (its handler only: no latency, no TLS)."""

    def __init__(self, emu: Emulator):
        self.seconds, self.pages = 0.0, 0
        original = emu.graph.list_keysets

        def timed(ctx):
            began = time.perf_counter()
            try:
                return original(ctx)
            finally:
                self.seconds += time.perf_counter() - began
                self.pages += 1

        emu.graph.list_keysets = timed
        emu.graph._routes["collection"]["GET"] = type(emu.graph._routes["collection"]["GET"])(
            timed, emu.graph._routes["collection"]["GET"].access)

    def reset(self) -> None:
        self.seconds, self.pages = 0.0, 0


def counts(emu: Emulator) -> dict:
    stats = emu.stats()
    log = emu.requests()
    return {"graph_requests": stats["graph_requests"], "admitted": stats["admitted"],
            "throttled": stats["throttled"],
            "sign_in_requests": sum(1 for e in log if not e["path"].lower().startswith(("/beta/", "/v1.0/"))),
            "token_requests": sum(1 for e in log if e["path"].endswith("/oauth2/v2.0/token")),
            "max_in_window": max(stats["max_in_window"]["apps"].values() or [0]),
            "window_s": stats["window_seconds"]}


def fresh(emu: Emulator, keysets: list[dict]) -> None:
    """Empty store, counters and throttle windows; then the tenant, loaded directly."""
    emu.reset()
    emu.seed(keysets)


# -- part 1: plan at scale ---------------------------------------------------------------

def lower_bound(pages: int, latency: float, limit: int = APP_LIMIT, window: float = 60.0) -> float:
    """The least time a plan of `pages` list pages can take: one token request and the
    pages one after another (the next page's link is in the previous answer), each a
    round trip of `latency`; and, beyond `limit` requests in a `window`, Graph's throttle:
    request k may start only a window after request k - limit did (the token request
    does not count against Graph's limit)."""
    full_windows = (pages - 1) // limit  # windows that must pass before the last batch starts
    last_batch = pages - full_windows * limit
    paced = full_windows * window + last_batch * latency
    return latency + max(pages * latency, paced)


def plan_part(emu: Emulator, clock: EmulatorClock, args, work: str) -> list[dict]:
    latency = args.latency_ms / 1000
    trip = latency  # the naive client's measured round trip, once it has been measured
    rows = []
    for n in args.sizes:
        keysets = workload.tenant(n)
        folder = os.path.join(work, f"plan-{n}")
        workload.write_manifests(folder, n)
        pages = max(1, math.ceil(n / args.page_size))
        lower = lower_bound(pages, latency)

        runs = []
        for _ in range(args.repeat):
            fresh(emu, keysets)
            clock.reset()
            run = run_process(b2ckeys("plan", "--detailed-exitcode", folder), client_env(emu), phases=True)
            check(run, f"b2ckeys plan of {n} key sets")
            if "No changes." not in run["stdout"]:
                raise SystemExit(f"b2ckeys plan of {n} key sets found changes:\n{run['stdout'][-2000:]}")
            run["seen"], run["emulator_s"], run["emulator_pages"] = counts(emu), clock.seconds, clock.pages
            runs.append(run)
        run = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run
        seen = run["seen"]
        row = {
            "keysets": n,
            "keys": sum(len(k["keys"]) for k in keysets),
            "pages": pages,
            "graph_requests": seen["graph_requests"],
            "sign_in_requests": seen["sign_in_requests"],
            "token_requests": seen["token_requests"],
            "client_graph_requests": run["phases"].get("graph_requests"),
            "requests_per_keyset": seen["graph_requests"] > pages,
            "throttled": seen["throttled"],
            "wall_s": run["wall_s"],
            "runs_wall_s": [r["wall_s"] for r in runs],
            "lower_bound_s": lower,
            "ratio_to_lower_bound": run["wall_s"] / lower,
            "peak_rss_mb": run["phases"]["peak_rss_mb"],
            "load_overlapped": run["phases"].get("load_overlapped"),
            "phases_s": {k: v for k, v in run["phases"].items()
                         if k not in ("graph_requests", "pacer_waited", "peak_rss_mb", "load_overlapped")},
            "emulator_page_ms": 1000 * run["emulator_s"] / max(1, run["emulator_pages"]),
            "emulator_list_s": run["emulator_s"],
        }
        row["naive"] = naive_read(emu, keysets, args, work, n, row, trip)
        if not row["naive"]["estimated"]:
            trip = row["naive"]["round_trip_s"]
        rows.append(row)
        print(f"  plan {n:>6} key sets: {row['wall_s']:.2f} s (lower bound {lower:.2f} s), "
              f"{row['graph_requests']} Graph requests, {row['peak_rss_mb']:.0f} MB; naive "
              f"{'~' if row['naive']['estimated'] else ''}{row['naive']['wall_s']:.1f} s",
              flush=True)
    return rows


def naive_read(emu: Emulator, keysets: list[dict], args, work: str, n: int, ours: dict,
               trip: float) -> dict:
    ids_file = os.path.join(work, f"ids-{n}.json")
    with open(ids_file, "w", encoding="utf-8") as fh:
        json.dump([k["id"] for k in keysets], fh)
    if n <= args.naive_max:
        fresh(emu, keysets)
        run = run_process([sys.executable, os.path.join(HERE, "naive.py"), "read", ids_file],
                          client_env(emu))
        check(run, f"naive read of {n} key sets")
        told = json.loads(run["stdout"].strip().splitlines()[-1])
        seen = counts(emu)
        result = {"estimated": False, "graph_requests": seen["graph_requests"],
                  "sign_in_requests": seen["sign_in_requests"], "throttled": seen["throttled"],
                  "slept_on_429_s": told["slept_on_429"], "wall_s": run["wall_s"],
                  "peak_rss_mb": told["peak_rss_mb"],
                  "round_trip_s": (told["seconds"] - told["slept_on_429"]) / max(1, told["graph_requests"])}
    else:
        # Sequential GETs: n round trips; and the throttle lets 200 through per minute, so
        # every further 200 waits for the window to move on.
        windows = math.ceil(n / APP_LIMIT) - 1
        result = {"estimated": True, "graph_requests": n, "sign_in_requests": 1,
                  "throttled": windows, "slept_on_429_s": None, "round_trip_s": trip,
                  "wall_s": max(n * trip, windows * 60.0 + min(n, APP_LIMIT) * trip),
                  "peak_rss_mb": None,
                  "estimate": f"max(n x {trip * 1000:.1f} ms measured round trip, "
                              f"{windows} throttle windows of 60 s + {min(n, APP_LIMIT)} round trips)"}
    result["ratio_to_b2ckeys"] = result["wall_s"] / ours["wall_s"]
    return result


# -- parts 2 and 3: apply at the ceiling ---------------------------------------------------

def apply_part(emu: Emulator, args, work: str) -> dict:
    scale = args.time_scale
    window = 60.0 / scale
    config = {"throttle": {"app_per_minute": APP_LIMIT, "tenant_per_minute": TENANT_LIMIT,
                           "time_scale": scale},
              "latency": {"fixed_ms": args.latency_ms / scale}}
    empty, desired = workload.additions(args.additions)
    folder = os.path.join(work, "apply")
    workload.write_addition_manifests(folder, desired)
    desired_file = os.path.join(work, "desired.json")
    with open(desired_file, "w", encoding="utf-8") as fh:
        json.dump(desired, fh)

    def measure(argv, env, phases):
        fresh(emu, empty)
        emu.config.update(config)
        run = run_process(argv, env, phases=phases)
        check(run, " ".join(os.path.basename(a) for a in argv[1:3]))
        seen = counts(emu)
        added = sum(len(ks["keys"]) for ks in emu.state()["keySets"])
        if added != args.additions:
            raise SystemExit(f"{argv[1]} added {added} keys, not {args.additions}")
        ceiling_s = seen["admitted"] / APP_LIMIT * window
        # The sliding window lets the first `limit` requests through at once, so the very
        # fastest any client can finish is one window sooner per full batch than that:
        floor_s = (math.ceil(seen["admitted"] / APP_LIMIT) - 1) * window
        return {
            "sliding_window_floor_s": floor_s,
            "graph_requests": seen["graph_requests"], "admitted": seen["admitted"],
            "throttled_429": seen["throttled"], "sign_in_requests": seen["sign_in_requests"],
            "max_in_window": seen["max_in_window"], "keys_added": added,
            "wall_s": run["wall_s"], "ceiling_s": ceiling_s,
            "wall_over_ceiling": run["wall_s"] / ceiling_s,
            "fraction_of_ceiling": ceiling_s / run["wall_s"], "run": run,
        }

    ours = measure(b2ckeys("apply", "--auto-approve", "--parallelism", str(args.parallelism), folder),
                   client_env(emu, B2CKEYS_TIME_SCALE=str(scale)), True)
    phases = ours.pop("run")["phases"]
    ours["peak_rss_mb"] = phases.pop("peak_rss_mb")
    ours["pacer_waited_s"] = phases.pop("pacer_waited")
    ours["client_graph_requests"] = phases.pop("graph_requests")
    phases.pop("load_overlapped", None)  # apply loads first, always
    ours["phases_s"] = phases
    # The same, for the writes alone (the applier's run, after start-up, sign-in and the
    # listing): on the scaled clock the process's fixed start-up weighs S times more than
    # it would against Graph, where it is a second against minutes.
    writes = args.additions
    ours["writes_ceiling_s"] = writes / APP_LIMIT * window
    ours["writes_fraction_of_ceiling"] = ours["writes_ceiling_s"] / phases["apply"]
    naive = measure([sys.executable, os.path.join(HERE, "naive.py"), "apply", desired_file],
                    client_env(emu), False)
    told = json.loads(naive.pop("run")["stdout"].strip().splitlines()[-1])
    naive["slept_on_429_s"] = told["slept_on_429"]
    naive["peak_rss_mb"] = told["peak_rss_mb"]
    naive["ratio_to_b2ckeys"] = naive["wall_s"] / ours["wall_s"]
    print(f"  apply {args.additions} keys: b2ckeys {ours['wall_s']:.2f} s "
          f"({ours['fraction_of_ceiling']:.0%} of the ceiling, {ours['throttled_429']} 429s); naive "
          f"{naive['wall_s']:.2f} s ({naive['throttled_429']} 429s)", flush=True)
    return {"additions": args.additions, "keysets": len(empty), "time_scale": scale,
            "window_s": window, "latency_ms": args.latency_ms / scale,
            "limit_per_minute": APP_LIMIT, "tenant_limit_per_minute": TENANT_LIMIT,
            "parallelism": args.parallelism,
            "workload": f"{len(empty)} empty key sets, {workload.KEYS_PER_KEYSET} keys each: "
                        "half uploadSecret, half generateKey kty oct",
            "b2ckeys": ours, "naive": naive}


# -- part 4: start-up --------------------------------------------------------------------

def startup_part(args) -> dict:
    script = shutil.which("b2ckeys", path=os.path.dirname(sys.executable))
    base = [script] if script else [sys.executable, "-m", "reconciler"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    result = {"command": os.path.basename(base[0]) if script else "python -m reconciler"}
    for name, argv in (("help", ["--help"]), ("validate", ["validate", "manifests"])):
        runs = [run_process(base + argv, env) for _ in range(args.startup_runs)]
        for run in runs:
            check(run, f"b2ckeys {' '.join(argv)}")
        walls = [r["wall_s"] for r in runs]
        result[name] = {"argv": argv, "median_s": statistics.median(walls), "runs_s": walls}
    print(f"  start-up: --help {result['help']['median_s']:.3f} s, "
          f"validate {result['validate']['median_s']:.3f} s", flush=True)
    return result


# -- report ------------------------------------------------------------------------------

def targets(plan: list[dict], apply: dict, startup: dict) -> list[dict]:
    biggest = max(plan, key=lambda r: r["keysets"])
    ours = apply["b2ckeys"]
    return [
        {"target": "plan makes no request per key set: list pages + 1 token request",
         "measured": f"{biggest['graph_requests']} Graph requests for {biggest['pages']} pages, "
                     f"{biggest['token_requests']} token request (and "
                     f"{biggest['sign_in_requests'] - biggest['token_requests']} OpenID discovery "
                     "request, msal's, before it)",
         "met": all(r["graph_requests"] == r["pages"] and r["token_requests"] == 1 for r in plan)},
        {"target": f"plan of {biggest['keysets']} key sets within {TARGET_PLAN_RATIO}x the lower bound",
         "measured": f"{biggest['ratio_to_lower_bound']:.2f}x",
         "met": biggest["ratio_to_lower_bound"] <= TARGET_PLAN_RATIO},
        {"target": f"plan of {biggest['keysets']} key sets under {TARGET_PLAN_RSS_MB} MB peak RSS",
         "measured": f"{biggest['peak_rss_mb']:.0f} MB",
         "met": biggest["peak_rss_mb"] < TARGET_PLAN_RSS_MB},
        {"target": f"apply at {TARGET_CEILING:.0%} or more of the throttle ceiling",
         "measured": f"{ours['fraction_of_ceiling']:.0%} for the whole process "
                     f"({ours['writes_fraction_of_ceiling']:.0%} for the writes alone)",
         "met": ours["fraction_of_ceiling"] >= TARGET_CEILING},
        {"target": "apply with zero 429s", "measured": str(ours["throttled_429"]),
         "met": ours["throttled_429"] == 0},
        {"target": f"b2ckeys --help under {TARGET_HELP_S} s",
         "measured": f"{startup['help']['median_s']:.3f} s",
         "met": startup["help"]["median_s"] < TARGET_HELP_S},
    ]


def table(results: dict) -> str:
    m = results["meta"]
    lines = [f"Plan: tenant of N key sets, all declared in manifests; latency {m['latency_ms']:g} ms, "
             f"page size {m['page_size']}, throttle {APP_LIMIT}/min per app; median of {m['repeat']} runs",
             "",
             "| key sets | Graph req. | sign-in req. | wall | lower bound | ratio | manifests | waited for them "
             "| listing | peak RSS | naive req. | naive wall | naive / b2ckeys |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["plan"]:
        nv = r["naive"]
        est = "~" if nv["estimated"] else ""
        phases = r["phases_s"]
        manifests = f"{phases.get('load_thread', 0):.2f} s (in a thread)" if r.get("load_overlapped") \
            else f"{phases.get('load', 0):.2f} s"
        lines.append(
            f"| {r['keysets']:,} | {r['graph_requests']} | {r['sign_in_requests']} | {r['wall_s']:.2f} s "
            f"| {r['lower_bound_s']:.2f} s | {r['ratio_to_lower_bound']:.2f}x "
            f"| {manifests} | {phases.get('load', 0):.2f} s | {phases.get('list', 0):.2f} s "
            f"| {r['peak_rss_mb']:.0f} MB "
            f"| {est}{nv['graph_requests']:,} | {est}{_duration(nv['wall_s'])} "
            f"| {est}{nv['ratio_to_b2ckeys']:.1f}x |")
    a = results["apply"]
    lines += ["",
              f"Apply: {a['additions']:,} key additions, limit {a['limit_per_minute']}/min per app, "
              f"clock x{a['time_scale']:g} (window {a['window_s']:g} s, latency {a['latency_ms']:.2f} ms)",
              "",
              "| client | requests | 429s | wall | ceiling (requests / limit) | fraction of ceiling "
              "| busiest window |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ("b2ckeys", "naive"):
        c = a[name]
        label = "naive" if name == "naive" else f"b2ckeys (parallelism {a['parallelism']})"
        lines.append(f"| {label} "
                     f"| {c['graph_requests']:,} | {c['throttled_429']} | {c['wall_s']:.2f} s "
                     f"| {c['ceiling_s']:.2f} s | {c['fraction_of_ceiling']:.0%} "
                     f"| {c['max_in_window']} / {a['limit_per_minute']} |")
    lines += ["", f"b2ckeys' writes alone (after start-up, sign-in and listing): "
                  f"{a['b2ckeys']['writes_fraction_of_ceiling']:.0%} of the ceiling."]
    s = results["startup"]
    lines += ["",
              f"Start-up (whole process, median of {len(s['help']['runs_s'])} runs)",
              "",
              "| command | wall |",
              "|---|---:|",
              f"| `b2ckeys --help` | {s['help']['median_s']:.3f} s |",
              f"| `b2ckeys validate manifests` | {s['validate']['median_s']:.3f} s |",
              "",
              "Targets", ""]
    lines += [f"- [{'x' if t['met'] else ' '}] {t['target']}: {t['measured']}" for t in results["targets"]]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def main(argv=None) -> int:
    args = parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    work = tempfile.mkdtemp(prefix="b2ckeys-bench-")
    print(f"b2ckeys benchmark: sizes {args.sizes}, latency {args.latency_ms:g} ms, "
          f"page size {args.page_size}, {args.additions} additions at clock x{args.time_scale:g}",
          flush=True)
    try:
        throttle = {"app_per_minute": APP_LIMIT, "tenant_per_minute": TENANT_LIMIT, "time_scale": 1}
        with Emulator(page_size=args.page_size, throttle=throttle,
                      latency={"fixed_ms": args.latency_ms}) as emu:
            clock = EmulatorClock(emu)
            plan = plan_part(emu, clock, args, work)
            apply = apply_part(emu, args, work)
        startup = startup_part(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "meta": {
            "command": "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "latency_ms": args.latency_ms, "page_size": args.page_size,
            "page_size_note": PAGE_SIZE_NOTE, "naive_max": args.naive_max, "repeat": args.repeat,
            "throttle_per_minute": {"app": APP_LIMIT, "tenant": TENANT_LIMIT},
            "lower_bound": (f"(list pages + 1 token request) x latency, pages = key sets / page size "
                            f"{args.page_size}; beyond {APP_LIMIT} pages, plus a minute for every "
                            f"{APP_LIMIT} pages before the last (Graph's throttle)"),
            "ceiling": "admitted requests / 200 per minute, in the scaled clock's seconds",
        },
        "plan": plan, "apply": apply, "startup": startup,
    }
    results["targets"] = targets(plan, apply, startup)
    text = table(results)
    print()
    print(text)
    out = args.out if os.path.isabs(args.out) else os.path.join(os.getcwd(), args.out)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")
    print(f"\nresults: {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
