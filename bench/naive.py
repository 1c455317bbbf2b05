"""A naive Graph client, for comparison: what a first script against keySets does.

Plain `requests`, one session, no pacing, nothing in parallel:

  read  IDS_FILE      GET every key set by id, one request per key set (a plan's read)
  apply DESIRED_FILE  GET each key set, then POST each key it lacks, one after another

On a 429 it sleeps for Retry-After (1 s when there is none) and sends the same request
again; any other error ends the run. It signs in with one client-credentials token
request. Where to go comes from the same environment b2ckeys reads (AZURE_TENANT_ID,
AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST, B2CKEYS_GRAPH_URL,
B2CKEYS_CA_BUNDLE); secret values from BENCH_SECRET. Prints one JSON line: requests
made, 429s met, seconds slept on them, and the wall time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import quote

import requests

from rss import peak_rss_mb

KEY = ("kty", "use", "nbf", "exp")


class Naive:
    def __init__(self, env: dict) -> None:
        self.session = requests.Session()
        self.session.verify = env.get("B2CKEYS_CA_BUNDLE") or True
        self.graph = env["B2CKEYS_GRAPH_URL"].rstrip("/") + "/beta"
        answer = self.session.post(
            f"{env['AZURE_AUTHORITY_HOST'].rstrip('/')}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                  "client_secret": env["AZURE_CLIENT_SECRET"],
                  "scope": env["B2CKEYS_GRAPH_URL"].rstrip("/") + "/.default"},
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = "Bearer " + answer.json()["access_token"]
        self.requests = 0
        self.throttled = 0
        self.slept = 0.0

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        while True:
            self.requests += 1
            answer = self.session.request(method, self.graph + path, json=body)
            if answer.status_code == 429:
                self.throttled += 1
                wait = float(answer.headers.get("Retry-After") or 1)
                self.slept += wait
                time.sleep(wait)
                continue
            answer.raise_for_status()
            return answer.json()

    def keyset(self, keyset_id: str) -> dict:
        return self.call("GET", "/trustFramework/keySets/" + quote(keyset_id, safe=""))

    def read(self, ids: list[str]) -> int:
        return sum(len(self.keyset(i).get("keys") or ()) for i in ids)

    def apply(self, desired: list[dict], secret: str) -> int:
        added = 0
        for keyset in desired:
            path = "/trustFramework/keySets/" + quote(keyset["id"], safe="")
            live = [tuple(_norm(k).get(f) for f in KEY) for k in self.keyset(keyset["id"]).get("keys") or ()]
            for key in keyset["keys"]:
                if tuple(key.get(f) for f in KEY) in live:
                    continue
                dates = {f: key[f] for f in ("nbf", "exp") if key.get(f) is not None}
                if key["kind"] == "secret":
                    self.call("POST", path + "/uploadSecret", {"use": key["use"], "k": secret, **dates})
                else:
                    self.call("POST", path + "/generateKey", {"use": key["use"], "kty": key["kty"], **dates})
                added += 1
        return added


def _norm(key: dict) -> dict:
    out = dict(key)
    out["kty"] = "oct" if str(key.get("kty", "")).lower() == "oct" else key.get("kty")
    for f in ("nbf", "exp"):
        if out.get(f) is not None:
            out[f] = int(out[f])
    return out


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    command, path = argv
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    client = Naive(dict(os.environ))
    if command == "read":
        done = client.read(data)
    elif command == "apply":
        done = client.apply(data, os.environ.get("BENCH_SECRET", "naive-secret"))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps({"graph_requests": client.requests, "token_requests": 1,
                      "throttled": client.throttled, "slept_on_429": round(client.slept, 3),
                      "done": done, "seconds": time.perf_counter() - started,
                      "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
