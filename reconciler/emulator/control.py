"""The control surface under ``/_emulator/``: no token, JSON in and out, off the
Graph paths. For tests and demos; never shows a raw secret."""

from __future__ import annotations

import json
from typing import Any, Callable

from .config import Config
from .pipeline import Request, Response


class ControlSurface:
    def __init__(self, *, reset: Callable[[], None], state: Callable[[], dict[str, Any]],
                 requests: Callable[[], list[dict[str, Any]]], config: Config):
        self._reset, self._state, self._requests, self._config = reset, state, requests, config

    def handle(self, req: Request) -> Response:
        name = req.path.rstrip("/").removeprefix("/_emulator").strip("/")
        routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "reset": {"POST": self._do_reset},
            "state": {"GET": lambda _: Response.json(200, self._state())},
            "requests": {"GET": lambda _: Response.json(200, self._requests())},
            "config": {"GET": lambda _: Response.json(200, self._config.current.as_dict()),
                       "POST": self._do_config},
        }
        methods = routes.get(name)
        if methods is None:
            return Response.json(404, {"error": f"unknown control endpoint; known: "
                                                f"{sorted(routes)}"})
        handler = methods.get(req.method)
        if handler is None:
            return Response.json(405, {"error": "method not allowed"},
                                 headers={"Allow": ", ".join(sorted(methods))})
        return handler(req)

    def _do_reset(self, _: Request) -> Response:
        self._reset()
        return Response.json(200, {"reset": True})

    def _do_config(self, req: Request) -> Response:
        try:
            changes = json.loads(req.body.decode("utf-8") or "{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            return Response.json(200, self._config.update(changes).as_dict())
        except (ValueError, UnicodeDecodeError) as exc:
            return Response.json(400, {"error": str(exc)})
