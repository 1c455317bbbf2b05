"""The command line in-process against the emulator: `run` one command, then read what
reached Graph (`writes`, `graph_calls`) and what the tenant holds (`keys_in`)."""

from pathlib import Path

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent.parent
STARTER = str(ROOT / "examples" / "starter-pack.yaml")
CANARY = "CANARY-fb-secret-93c1d7"


def run(capsys, argv, environ):
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def writes(emu):
    """The writes to Graph, but those of the tenant lease `apply` takes and gives back."""
    return [r for r in emu.requests() if r["method"] != "GET" and "/beta/" in r["path"] and not is_lease_request(r)]


def lease_writes(emu):
    return [r for r in emu.requests() if r["method"] != "GET" and is_lease_request(r)]


def is_lease_request(entry) -> bool:
    return "B2CKeysLock" in entry["path"] or "B2CKeysLock" in entry.get("location", "")


def graph_calls(emu):
    return [r for r in emu.requests() if "/beta/" in r["path"]]


def keys_in(emu):
    return {ks["id"]: len(ks["keys"]) for ks in emu.state()["keySets"]}
