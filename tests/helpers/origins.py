"""Another HTTPS origin on loopback, trusted as the emulator is (its CA, its server
certificate), that records whatever reaches it; and a discovery document of the emulator's
that names such an origin. Where a hostile login configuration would send sign-in."""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from typing import Iterator

import requests

from reconciler.emulator import Request, Response
from reconciler.emulator.httpd import TlsServer
from reconciler.emulator.tls import TlsFiles, server_context

DISCOVERY = "/v2.0/.well-known/openid-configuration"


@contextmanager
def recording_origin(emu) -> Iterator[tuple[str, list[Request]]]:
    """(its https URL, the requests it got). It answers every request with a token the
    emulator accepts: a thief that hands back what was asked for, so nothing looks wrong."""
    folder = os.path.dirname(emu.ca_path)
    files = TlsFiles(emu.ca_path, os.path.join(folder, "server.pem"), os.path.join(folder, "server-key.pem"))
    seen: list[Request] = []

    def dispatch(handler, request: Request) -> Response:
        seen.append(request)
        return Response.json(200, {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                                   "access_token": emu.make_token()})

    server = TlsServer(("127.0.0.1", 0), socket.AF_INET, server_context(files), dispatch)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def discovery_document(emu) -> dict:
    url = f"{emu.url}/{emu.tenant_id}{DISCOVERY}"
    return requests.get(url, verify=emu.ca_path, timeout=10).json()


@contextmanager
def discovery_naming(emu, **endpoints: str) -> Iterator[None]:
    """The emulator's discovery document with `endpoints` (e.g. token_endpoint=...) changed."""
    document = {**discovery_document(emu), **endpoints}

    def answer(ctx):
        if ctx.request.method == "GET" and ctx.request.path.endswith(DISCOVERY):
            return Response.json(200, document)
        return None

    emu.pipeline.before_request.append(answer)
    try:
        yield
    finally:
        emu.pipeline.clear()
