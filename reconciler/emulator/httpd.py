"""The HTTPS transport: a threading server that does the TLS handshake on the request
thread, and a request handler that turns HTTP into ``Request``/``Response`` values.

``dispatch(handler, request) -> Response`` decides everything else. A Response with
``drop`` set closes the connection with a TCP RST and no answer; one with ``pace`` is
written a head line, then a body byte, at a time.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .pipeline import Request, Response

MAX_BODY = 1 << 20


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], family: int, context: ssl.SSLContext,
                 dispatch: Callable[["Handler", Request], Response]):
        self.address_family = family
        self.ssl_context, self.dispatch = context, dispatch
        self._open: set[ssl.SSLSocket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake on the request thread, so a stalled client blocks no one."""
        request.settimeout(10)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._open_lock:
            self._open.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def close_connections(self) -> None:
        with self._open_lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "b2ckeys-emulator"
    sys_version = ""
    timeout = 30
    server: TlsServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silenced: the stdlib line would carry the query string; we log our own."""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        cid = self.headers.get("client-request-id") or str(uuid.uuid4())
        req = Request(self.command, split.path or "/",
                      parse_qs(split.query, keep_blank_values=True), self.headers, b"",
                      client_request_id=cid)
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if self.headers.get("Transfer-Encoding") or not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            answer = Response.json(413 if length.isdigit() else 411,
                                   {"error": {"code": "BadRequest", "message":
                                              "A body needs a Content-Length of at most 1 MiB."}})
        else:
            req.body = self.rfile.read(int(length))
            answer = self.server.dispatch(self, req)
        if answer.drop:                # abrupt: RST on close, as a dying peer or proxy does
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            return
        self.send_response(answer.status)
        headers = {**answer.headers, "request-id": req.request_id,
                   "client-request-id": req.client_request_id}
        for name, value in headers.items():
            self.send_header(name, value)
        if answer.status != 204:
            self.send_header("Content-Length", str(len(answer.body)))
        body = answer.body if self.command != "HEAD" and answer.status != 204 else b""
        if answer.pace:
            self._send_slowly(body, answer.pace)
            return
        self.end_headers()
        self.wfile.write(body)

    def _send_slowly(self, body: bytes, pace: float) -> None:
        """The head a line at a time, then the body a byte at a time, `pace` seconds apart
        (a client that gives up closes the connection: the next write fails, and ends this)."""
        head = b"".join(self._headers_buffer) + b"\r\n"
        self._headers_buffer = []
        pieces = [line + b"\n" for line in head.split(b"\n")[:-1]] + [body[i:i + 1] for i in range(len(body))]
        for piece in pieces:
            self.wfile.write(piece)
            time.sleep(pace)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve
