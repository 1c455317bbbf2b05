"""Saved plans (`plan --out PLANFILE`, `apply PLANFILE`), Terraform's plan file idea.

A plan file is JSON:

    {"format_version": 1, "kind": "b2ckeys-plan", "b2ckeysVersion": ..., "createdAt": ...,
     "madeIn": "/the/folder/plan/ran/in", "environment": "dev" (with an environments file),
     "manifests": {"paths": [...], "files": [{"path", "sha256"}], "secretReferences": [...],
                   "digest": "sha256:..."},
     "live": {"digest": "sha256:...", "keySets": [...metadata...]},
     "plan": {... exactly what `plan --format json` prints ...},
     "digest": "sha256:... of manifests, live and plan"}

It records what the plan was computed from, so that `apply` can refuse a stale plan
and say why: the manifests (their content and the secret references in them) and
the live key sets' metadata (ids, kids, kty, use, nbf, exp, status, x5t). It holds
no secret: the model it is written from has none (references only).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime
from typing import Any

from .. import __version__
from ..core.changes import Action, Change, Plan, Reason
from ..core.diagnostics import Location
from ..core.errors import ConfigError
from ..core.model import DesiredKey, DesiredState, KeyKind, KeyType, KeyUse, LiveState, SecretRef, format_time
from .data import FORMAT_VERSION, dumps, live_data, plan_data, vault_ref_from_data

KIND = "b2ckeys-plan"


def digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a kid Graph sent as a lone surrogate is hashed, not an internal error;
    # every other text gives the same bytes as before, so saved plans keep their digests
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def manifest_record(state: DesiredState, paths: list[str], policies=()) -> dict:
    """The manifests a plan was made from: every file's content hash and every secret reference;
    and the --policies folders, when given (their references are read again at apply time)."""
    files = []
    for path in state.sources:
        with open(path, "rb") as fh:
            files.append({"path": path, "sha256": hashlib.sha256(fh.read()).hexdigest()})
    refs = sorted({
        f"{ks.id}: {k.secret.source}:{os.path.join(k.secret.base_dir, k.secret.name) if k.secret.source == 'file' else k.secret.name}"
        + (f" in {k.secret.vault}" if k.secret.in_vault else "")
        for ks in state.keysets for k in ks.keys if k.secret is not None
    })
    record = {"paths": list(paths), "files": files, "secretReferences": refs}
    # a vault's certificate by its reference only: its thumbprint is read after the manifests (the plan's changes hold it)
    certificates = sorted(f"{ks.id}: Key Vault {k.file.vault} certificate {k.file.name}" if k.file.in_vault else
                          f"{ks.id}: {os.path.join(k.file.base_dir, k.file.name)} x5t {k.x5t}"
                          for ks in state.keysets for k in ks.keys if k.file is not None)
    if certificates:  # a certificate file is not a manifest, but the plan depends on what it holds
        record["certificates"] = certificates
    if policies:
        record["policies"] = list(policies)
    return {**record, "digest": digest(record)}


def live_record(live: LiveState) -> dict:
    data = live_data(live)
    return {"digest": digest(data), **data}


def build(plan: Plan, state: DesiredState, paths: list[str], now: int, *, policies=(), folder: str = "",
          environment: str | None = None) -> dict:
    """`folder`: where the plan was made (the paths are relative to it); only for messages, so
    it is outside every digest: a checkout at another absolute path applies the same plan.
    `environment`: the environment (b2ckeys.yaml) it was made for; inside the digest."""
    parts = {"manifests": manifest_record(state, paths, policies), "live": live_record(plan.live),
             "plan": plan_data(plan), **({"environment": environment} if environment else {})}
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "b2ckeysVersion": __version__,
        "createdAt": format_time(now),
        **({"madeIn": folder} if folder else {}),
        **parts,
        "digest": digest(parts),  # finds a damaged or edited file (`show`, `apply`); not a signature
    }


def write(path: str, data: dict) -> None:
    """Writes atomically: a reader never sees half a plan."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".b2ckeys-plan-", dir=folder)
    except OSError as e:
        raise ConfigError(f"cannot write the plan file {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(data))  # ids and kids exact; no character a terminal obeys
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def looks_like_plan_file(path: str) -> bool:
    """A file that is a JSON object with `format_version` (manifests have `version`)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    if not head.lstrip().startswith("{"):
        return False
    try:
        data = json.loads(head)
    except (ValueError, RecursionError):
        return path.lower().endswith(".json")  # meant as a plan file; read() says what is wrong
    return isinstance(data, dict) and "format_version" in data


def read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # deep nesting: RecursionError
        raise ConfigError(f"{path}: not a readable b2ckeys plan file ({e})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ConfigError(f"{path}: not a b2ckeys plan file (no \"kind\": \"{KIND}\")")
    if data.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: plan file format_version {data.get('format_version')!r} is not one this "
                          f"b2ckeys reads ({FORMAT_VERSION}); make the plan again with this version")
    for part in ("manifests", "live", "plan"):
        if not isinstance(data.get(part), dict):
            raise ConfigError(f"{path}: the plan file has no '{part}' part")
    return data


def manifest_differences(saved: dict, current: dict) -> list[str]:
    """Why the manifests now differ from those the plan was made from; empty when they do not."""
    if saved.get("digest") == current["digest"]:
        return []
    then = {f["path"]: f["sha256"] for f in saved.get("files", ())}
    now = {f["path"]: f["sha256"] for f in current["files"]}
    lines = [f"manifest {p} changed" for p in then if p in now and now[p] != then[p]]
    lines += [f"manifest {p} is no longer read" for p in then if p not in now]
    lines += [f"manifest {p} is new" for p in now if p not in then]
    old_refs, new_refs = set(saved.get("secretReferences", ())), set(current["secretReferences"])
    lines += [f"secret reference removed: {r}" for r in sorted(old_refs - new_refs)]
    lines += [f"secret reference added: {r}" for r in sorted(new_refs - old_refs)]
    old_certs, new_certs = set(saved.get("certificates", ())), set(current.get("certificates", ()))
    lines += [f"certificate no longer declared: {c}" for c in sorted(old_certs - new_certs)]
    lines += [f"certificate declared now: {c}" for c in sorted(new_certs - old_certs)]
    return lines or ["the manifests differ from those the plan was made from"]


def changes(data: dict, secrets_root: str = "") -> tuple[Change, ...]:
    """The saved changes as model objects; secrets stay references, resolved at apply time,
    their files confined to `secrets_root` (a real path; "" for each manifest's repository)."""
    try:
        return tuple(_change(item, secrets_root) for item in data["plan"].get("changes", ()))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"the plan file holds a change b2ckeys cannot read ({type(e).__name__}: {e})") from None


def _change(item: dict, root: str = "") -> Change:
    location = parse_location(item.get("location"))
    key = None
    if item.get("key") is not None:
        k = item["key"]
        base_dir = os.path.dirname(location.path) if location else ""
        secret, certificate = None, None
        for field in ("secret", "password"):
            if k.get(field) is not None:
                ((source, name),) = k[field].items()
                secret = (vault_ref_from_data(name, location or Location("")) if source == "keyVault" else
                          SecretRef(source, name, location or Location(""), base_dir, root if source == "file" else ""))
        if isinstance(k.get("file"), dict):
            certificate = vault_ref_from_data(k["file"]["keyVault"], location or Location(""))
        elif k.get("file") is not None:
            certificate = SecretRef("file", str(k["file"]), location or Location(""), base_dir, root)
        key = DesiredKey(KeyKind(k["kind"]), KeyType.parse(k["kty"]), KeyUse(k["use"]),
                         parse_time(k.get("nbf")), parse_time(k.get("exp")), secret, location,
                         file=certificate, x5t=k.get("x5t"))
    reason = Reason(item["reason"]) if item.get("reason") else None
    return Change(Action(item["action"]), item["keySet"], key, location=location, kid=item.get("kid"),
                  reason=reason, detail=str(item.get("detail") or ""))


def parse_location(text: str | None) -> Location | None:
    if not text:
        return None
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Location(parts[0], int(parts[1]), int(parts[2]))
    return Location(text)


def parse_time(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
