"""Graph's wire shapes: the OData JSON content type, error bodies, request bodies, and the
public JSON of keys and key sets (never a secret field)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Optional

from .keymodel import Key, KeySet
from .pipeline import Context, Response

ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
BAD_PAYLOAD = ("Unable to read JSON request payload. Please ensure Content-Type header is "
               "set and payload is of valid JSON format.")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: Optional[dict[str, str]] = None):
        super().__init__(f"{status} {code}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def odata_error(ctx: Context, err: GraphError) -> Response:
    req = ctx.request
    inner = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
             "request-id": req.request_id, "client-request-id": req.client_request_id,
             "correlationId": req.request_id}
    return Response.json(err.status, {"error": {"code": err.code, "message": err.message,
                                                "innerError": inner}},
                         content_type=ODATA_JSON, headers=err.headers)


def answer(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Response:
    return Response.json(status, payload, content_type=ODATA_JSON, headers=headers)


def json_body(ctx: Context) -> dict[str, Any]:
    """The request's JSON object; 400 BadRequest without ``application/json`` or JSON."""
    ctype = ctx.request.header("Content-Type").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise GraphError(400, "BadRequest", BAD_PAYLOAD)
    try:
        body = json.loads(ctx.request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise GraphError(400, "BadRequest", BAD_PAYLOAD) from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", BAD_PAYLOAD)
    return body


def key_json(key: Key, *, with_status: bool = False) -> dict[str, Any]:
    """Public JWK view of a key: never k/d/p/q/dp/dq/qi; ``status`` only for keys_v2.
    nbf and exp are JSON integers (Edm.Int64 under IEEE754Compatible=false)."""
    out: dict[str, Any] = {"kid": key.kid, "use": key.use, "kty": key.kty}
    if key.nbf is not None:
        out["nbf"] = key.nbf
    if key.exp is not None:
        out["exp"] = key.exp
    if key.kty == "RSA":
        out["e"], out["n"] = key.e, key.n
    if key.x5t:
        out["x5t"] = key.x5t
    if key.x5c:
        out["x5c"] = list(key.x5c)
    if with_status:
        out["status"] = key.status
    return out


def keyset_json(keyset: KeySet, *, with_keys: bool = True) -> dict[str, Any]:
    if not with_keys:
        return {"id": keyset.id}
    return {"id": keyset.id, "keys": [key_json(k) for k in keyset.keys]}
