"""The control surface under ``/_emulator/``: no token, JSON in and out, off the
Graph paths. For tests and demos; never shows a raw secret.

    POST /_emulator/reset            store, request log, counters emptied; start config
                                     and start fault rules back
    GET  /_emulator/state            key sets and vaults (secrets as SHA-256 only)
    POST /_emulator/vaults/NAME      serve one more (empty) vault until the next reset
    GET|POST /_emulator/vaults/NAME/roles   the roles the app holds on the vault:
                                     {"roles": ["Key Vault Secrets User"]}, [] for a 403
    POST /_emulator/seed             {"keySets": [...]} in the shape of state: loaded straight
                                     into the store, all or none (400/409); {"seeded": N}
    GET  /_emulator/requests         the request log
    GET|POST /_emulator/config       settings (POST merges a JSON object; "readings": [...]
                                     replaces the active readings, readings.py)
    GET  /_emulator/faults           {"faults": [rule, ...]}
    POST /_emulator/faults           a rule object, {"spec": "..."} or a list of them;
                                     all added or none (400); answers {"faults": [added]}
    DELETE /_emulator/faults         drop every rule; DELETE /_emulator/faults/{id}: one
    GET  /_emulator/stats            Graph requests, throttling, faults (throttle.py)
    GET  /_emulator/federated-token  a token from the built-in federated issuer; served
                                     by identity.py, not here
"""

from __future__ import annotations

import json
from typing import Any, Callable

from .config import Config
from .faults import FaultSet
from .keymodel import StoreError
from .pipeline import Request, Response
from .vaultroles import check_roles
from .vaultstore import VaultError, VaultStore


class ControlSurface:
    def __init__(self, *, reset: Callable[[], None], state: Callable[[], dict[str, Any]],
                 requests: Callable[[], list[dict[str, Any]]], config: Config,
                 faults: FaultSet, stats: Callable[[], dict[str, Any]],
                 seed: Callable[[Any], int], vaults: VaultStore):
        self._reset, self._state, self._requests, self._config = reset, state, requests, config
        self._seed = seed
        self._faults, self._stats, self._vaults = faults, stats, vaults

    def handle(self, req: Request) -> Response:
        name = req.path.rstrip("/").removeprefix("/_emulator").strip("/")
        routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "reset": {"POST": self._do_reset},
            "state": {"GET": lambda _: Response.json(200, self._state())},
            "seed": {"POST": self._do_seed},
            "requests": {"GET": lambda _: Response.json(200, self._requests())},
            "config": {"GET": lambda _: Response.json(200, self._config.current.as_dict()),
                       "POST": self._do_config},
            "faults": {"GET": lambda _: Response.json(200, {"faults": self._faults.list()}),
                       "POST": self._add_faults, "DELETE": self._clear_faults},
            "stats": {"GET": lambda _: Response.json(200, self._stats())},
        }
        if name.startswith("vaults/"):
            return self._vault(req, name.removeprefix("vaults/"))
        if name.startswith("faults/"):
            return self._remove_fault(req, name.removeprefix("faults/"))
        methods = routes.get(name)
        if methods is None:
            return Response.json(404, {"error": f"unknown control endpoint; known: "
                                                f"{sorted(routes)}"})
        handler = methods.get(req.method)
        if handler is None:
            return Response.json(405, {"error": "method not allowed"},
                                 headers={"Allow": ", ".join(sorted(methods))})
        return handler(req)

    @staticmethod
    def _body(req: Request) -> Any:
        return json.loads(req.body.decode("utf-8") or "{}")

    def _do_reset(self, _: Request) -> Response:
        self._reset()
        return Response.json(200, {"reset": True})

    def _do_seed(self, req: Request) -> Response:
        try:
            body = self._body(req)
            keysets = body.get("keySets") if isinstance(body, dict) else None
            if not isinstance(keysets, list):
                raise ValueError('the body must be {"keySets": [...]}')
            return Response.json(200, {"seeded": self._seed(keysets)})
        except StoreError as exc:
            return Response.json(409 if exc.kind == "conflict" else 400,
                                 {"error": f"{exc.code}: {exc.message}"})
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(400, {"error": str(exc)})

    def _do_config(self, req: Request) -> Response:
        try:
            changes = self._body(req)
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            return Response.json(200, self._config.update(changes).as_dict())
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(400, {"error": str(exc)})

    def _add_faults(self, req: Request) -> Response:
        try:
            body = self._body(req)
            rules = body if isinstance(body, list) else [body]
            specs = [rule["spec"] if isinstance(rule, dict) and set(rule) == {"spec"}
                     and isinstance(rule["spec"], str) else rule for rule in rules]
            return Response.json(200, {"faults": self._faults.add_all(specs)})
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(400, {"error": str(exc)})

    def _vault(self, req: Request, rest: str) -> Response:
        vault, _, what = rest.partition("/")
        allowed = {"": ("POST",), "roles": ("GET", "POST")}.get(what)
        if allowed is None:
            return Response.json(404, {"error": "unknown control endpoint; known: "
                                                "vaults/NAME, vaults/NAME/roles"})
        if req.method not in allowed:
            return Response.json(405, {"error": "method not allowed"},
                                 headers={"Allow": ", ".join(allowed)})
        try:
            if not what:
                self._vaults.add_vault(vault)
            elif req.method == "POST":
                body = self._body(req)
                self._vaults.set_roles(vault, check_roles(
                    body.get("roles") if isinstance(body, dict) else None))
            return Response.json(200, {"vault": vault, "roles": list(self._vaults.roles(vault))})
        except VaultError as exc:
            return Response.json(exc.status, {"error": exc.message})
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(400, {"error": str(exc)})

    def _clear_faults(self, _: Request) -> Response:
        self._faults.clear()
        return Response.json(200, {"faults": []})

    def _remove_fault(self, req: Request, rule_id: str) -> Response:
        if req.method != "DELETE":
            return Response.json(405, {"error": "method not allowed"}, headers={"Allow": "DELETE"})
        if not rule_id.isdigit() or not self._faults.remove(int(rule_id)):
            return Response.json(404, {"error": f"no fault rule {rule_id!r}"})
        return Response.json(200, {"removed": int(rule_id)})
