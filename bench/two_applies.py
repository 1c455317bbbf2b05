"""Two applies at once: rounds of two `b2ckeys apply` processes started together against one
emulated tenant, counting the keys added twice.

    python bench/two_applies.py [--rounds 10] [--latency-ms 50] [--readings NAME,...]

Each round empties the tenant, then starts two applies of the same manifest (7 key sets,
one generated key each) at the same moment, in three ways: with the tenant lease and
`--lock-timeout 0` (the second fails at once), with `--lock-timeout 60s` (the second
waits, then finds nothing to do), and with `--lock=false` (no lease: what happened before
there was one). It prints, per way, the exit codes seen, the duplicate keys left, the
Graph requests per apply, and the wall time of a round.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from reconciler.emulator import Emulator  # noqa: E402 - after the path is set

KEYSETS = 7
WAYS = {"lease, --lock-timeout 0": ["--lock-timeout", "0"],
        "lease, --lock-timeout 60s": ["--lock-timeout", "60s"],
        "--lock=false": ["--lock=false"]}


def manifest(folder: str) -> str:
    path = os.path.join(folder, "keys.yaml")
    with open(path, "w") as f:
        f.write("version: 1\nkeySets:\n")
        for i in range(KEYSETS):
            f.write(f"  - name: Concurrent{i}\n    keys:\n      - {{kind: generate, kty: RSA, use: sig}}\n")
    return path


def one_round(emu: Emulator, env: dict, path: str, extra: list[str], latency: float,
              readings: list[str]) -> tuple[list[int], int, int]:
    emu.reset()
    emu.config.update({"latency": {"fixed_ms": latency}, **({"readings": readings} if readings else {})})
    argv = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", path, *extra]
    runs = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    codes = [run.wait(timeout=600) for run in runs]
    for run in runs:
        run.stderr.close()
    duplicates = sum(max(0, len(ks["keys"]) - 1) for ks in emu.state()["keySets"]
                     if ks["id"].startswith("B2C_1A_Concurrent"))
    graph = sum(1 for r in emu.requests() if "/beta/" in r["path"])
    return codes, duplicates, graph


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--readings", default="", help="emulator readings, comma-separated")
    args = parser.parse_args()
    readings = [r for r in args.readings.split(",") if r]
    with tempfile.TemporaryDirectory() as folder, Emulator() as emu:
        path = manifest(folder)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}, **emu.env}
        print(f"{args.rounds} rounds of two applies at once, {KEYSETS} key sets, latency {args.latency_ms:g} ms"
              + (f", readings {', '.join(readings)}" if readings else ""))
        print(f"{'way':28} {'exit codes':>22} {'duplicate keys':>15} {'requests/apply':>15} {'s/round':>8}")
        for way, extra in WAYS.items():
            codes: collections.Counter = collections.Counter()
            duplicates = requests = 0
            started = time.monotonic()
            for _ in range(args.rounds):
                pair, dup, graph = one_round(emu, env, path, extra, args.latency_ms, readings)
                codes[tuple(sorted(pair))] += 1
                duplicates += dup
                requests += graph
            seen = " ".join(f"{a}+{b}:{n}" for (a, b), n in sorted(codes.items()))
            print(f"{way:28} {seen:>22} {duplicates:>15} {requests / (2 * args.rounds):>15.1f} "
                  f"{(time.monotonic() - started) / args.rounds:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
