"""Microsoft Graph beta ``/trustFramework/keySets``: token and role checks, routing,
handlers, OData error bodies. State lives in ``store``, B2C's key rules in ``keyrules``;
this is the wire."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import unquote

from .certs import from_certificate_body, from_pkcs12_body
from .config import READ_ROLE, WRITE_ROLE, Config
from .keymodel import Key, KeySet, StoreError
from .pipeline import Context, Pipeline, Response
from .store import KeySetStore
from .sts import TokenRejected, TokenService

ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
READ, WRITE = "read", "write"
_KEY_SEGMENT = re.compile(r"^keySets\('(.*)'\)$", re.IGNORECASE)
_ACTIONS = ("generatekey", "uploadsecret", "getactivekey", "uploadcertificate", "uploadpkcs12",
            "keys_v2")
_BAD_PAYLOAD = ("Unable to read JSON request payload. Please ensure Content-Type header is "
                "set and payload is of valid JSON format.")
_BAD_KEYSET = ("The 'keySet' field is invalid in request. "
               "Please check the request body and parameters.")


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


def key_json(key: Key, *, with_status: bool = False) -> dict[str, Any]:
    """Public JWK view of a key: never k/d/p/q/dp/dq/qi; ``status`` only for keys_v2."""
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


def _keyset_json(keyset: KeySet) -> dict[str, Any]:
    return {"id": keyset.id, "keys": [key_json(k) for k in keyset.keys]}


@dataclass(frozen=True)
class _Route:
    handler: Callable[..., Response]
    access: str


class GraphApi:
    def __init__(self, base_url: str, store: KeySetStore, tokens: TokenService,
                 config: Config, pipeline: Pipeline):
        self.base_url, self.store, self.tokens = base_url, store, tokens
        self.config, self.pipeline = config, pipeline
        self.meta = f"{base_url}/beta/$metadata#"
        self._routes: dict[str, dict[str, _Route]] = {
            "collection": {"GET": _Route(self.list_keysets, READ),
                           "POST": _Route(self.create_keyset, WRITE)},
            "item": {"GET": _Route(self.get_keyset, READ),
                     "DELETE": _Route(self.delete_keyset, WRITE)},
            "generatekey": {"POST": _Route(self.generate_key, WRITE)},
            "uploadsecret": {"POST": _Route(self.upload_secret, WRITE)},
            "getactivekey": {"GET": _Route(self.get_active_key, READ)},
            "uploadcertificate": {"POST": _Route(self.upload_certificate, WRITE)},
            "uploadpkcs12": {"POST": _Route(self.upload_pkcs12, WRITE)},
            "keys_v2": {"GET": _Route(self.list_keys_v2, WRITE)},
            "key_v2": {"GET": _Route(self.get_key_v2, WRITE),
                       "PATCH": _Route(self.patch_key_v2, WRITE)},
        }

    # -- the request path: 401, hooks, 400/404/405, 403, handler -------------------------
    def handle(self, ctx: Context) -> Response:
        try:
            try:
                ctx.claims = self.tokens.validate(ctx.request.header("Authorization"))
            except TokenRejected as rejected:
                raise GraphError(401, "InvalidAuthenticationToken", str(rejected), {
                    "WWW-Authenticate": f'Bearer realm="", authorization_uri="{self.base_url}'
                                        f'/common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'})
            early = self.pipeline.check_auth(ctx)
            if early is not None:
                return early
            route, args = self._route(ctx.request.method, ctx.request.path)
            self._authorize(ctx.claims, route.access)
            return route.handler(ctx, *args)
        except StoreError as err:
            return odata_error(ctx, self._store_error(err))
        except GraphError as err:
            return odata_error(ctx, err)

    def _store_error(self, err: StoreError) -> GraphError:
        settings = self.config.current
        status = {"not_found": settings.not_found_status, "conflict": settings.conflict_status,
                  "busy": 409}.get(err.kind, 400)
        return GraphError(status, err.code, err.message)

    def _route(self, method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
        segs = [unquote(s) for s in path.rstrip("/").split("/")[1:]]
        if not segs or segs[0].lower() not in ("beta", "v1.0"):
            raise GraphError(404, "NotFound", "The requested resource was not found.")
        rest = segs[1:]
        if len(rest) >= 2 and (m := _KEY_SEGMENT.match(rest[1])):
            rest[1:2] = ["keySets", m.group(1)]
        for i, fixed in enumerate(("trustFramework", "keySets")):
            if len(rest) <= i or rest[i].lower() != fixed.lower() or segs[0].lower() != "beta":
                bad = rest[i] if len(rest) > i else segs[0]
                raise GraphError(400, "BadRequest", f"Resource not found for the segment '{bad}'.")
        tail = rest[2:]
        if not tail:
            shape, args = "collection", ()
        elif len(tail) == 1:
            shape, args = "item", (tail[0],)
        elif len(tail) == 2 and tail[1].lower() in _ACTIONS:
            shape, args = tail[1].lower(), (tail[0],)
        elif len(tail) == 3 and tail[1].lower() == "keys_v2":
            shape, args = "key_v2", (tail[0], tail[2])
        else:
            raise GraphError(400, "BadRequest",
                             f"Resource not found for the segment '{tail[-1]}'.")
        route = self._routes[shape].get(method)
        if route is None:
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request target.",
                             {"Allow": ", ".join(sorted(self._routes[shape]))})
        return route, args

    @staticmethod
    def _authorize(claims: Optional[dict[str, Any]], access: str) -> None:
        roles = (claims or {}).get("roles") or []
        allowed = (WRITE_ROLE,) if access == WRITE else (READ_ROLE, WRITE_ROLE)
        if not any(role in roles for role in allowed):
            raise GraphError(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")

    @staticmethod
    def _json_body(ctx: Context) -> dict[str, Any]:
        ctype = ctx.request.header("Content-Type").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise GraphError(400, "BadRequest", _BAD_PAYLOAD)
        try:
            body = json.loads(ctx.request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GraphError(400, "BadRequest", _BAD_PAYLOAD) from None
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", _BAD_PAYLOAD)
        return body

    def _answer(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None):
        return Response.json(status, payload, content_type=ODATA_JSON, headers=headers)

    # -- key sets ----------------------------------------------------------------------
    def list_keysets(self, ctx: Context) -> Response:
        token = (ctx.request.query.get("$skiptoken") or [""])[0]
        after = _decode_skiptoken(token) if token else 0
        page, next_after = self.store.page(after, self.config.current.page_size)
        body: dict[str, Any] = {"@odata.context": self.meta + "trustFramework/keySets",
                                "value": [_keyset_json(s) for s in page]}
        if next_after is not None:
            body["@odata.nextLink"] = (f"{self.base_url}/beta/trustFramework/keySets"
                                       f"?$skiptoken={_encode_skiptoken(next_after)}")
        return self._answer(200, body)

    def create_keyset(self, ctx: Context) -> Response:
        body = self._json_body(ctx)
        if "@odata.type" in body or body.get("keys") not in (None, []):
            raise GraphError(400, "AADB2C", _BAD_KEYSET)
        name = body.get("id")
        if name is None or name == "":
            raise GraphError(400, "AADB2C90253",
                             "The trustframework keyset parameter 'id' is missing")
        if not isinstance(name, str):
            raise GraphError(400, "AADB2C", _BAD_KEYSET)
        created = self.store.create(name)
        ctx.committed = True
        return self._answer(201, {"@odata.context": self.meta + "trustFramework/keySets/$entity",
                                  **_keyset_json(created)},
                            {"Location": f"/trustFramework/keySets('{created.id}')"})

    def get_keyset(self, ctx: Context, keyset_id: str) -> Response:
        found = self.store.get(keyset_id)
        return self._answer(200, {"@odata.context": self.meta + "trustFramework/keySets/$entity",
                                  **_keyset_json(found)})

    def delete_keyset(self, ctx: Context, keyset_id: str) -> Response:
        self.store.delete(keyset_id, backup=self.config.current.backup_on_delete)
        ctx.committed = True
        return Response.empty(204)

    # -- keys --------------------------------------------------------------------------
    def generate_key(self, ctx: Context, keyset_id: str) -> Response:
        key = self.store.generate_key(keyset_id, self._json_body(ctx))
        ctx.committed = True
        return self._answer(200, {"@odata.context": self.meta + "microsoft.graph.trustFrameworkKey",
                                  **key_json(key)})

    def upload_secret(self, ctx: Context, keyset_id: str) -> Response:
        key = self.store.upload_secret(keyset_id, self._json_body(ctx))
        ctx.committed = True
        # The documented response: kty "OCT", nbf/exp as strings.
        out: dict[str, Any] = {"kid": key.kid, "use": key.use, "kty": "OCT"}
        if key.nbf is not None:
            out["nbf"] = str(key.nbf)
        if key.exp is not None:
            out["exp"] = str(key.exp)
        return self._answer(200, out)

    def get_active_key(self, ctx: Context, keyset_id: str) -> Response:
        key = self.store.active_key(keyset_id)
        return self._answer(200, {"@odata.context": self.meta + "microsoft.graph.trustFrameworkKey",
                                  **key_json(key)})

    def upload_certificate(self, ctx: Context, keyset_id: str) -> Response:
        return self._uploaded(ctx, keyset_id, from_certificate_body)

    def upload_pkcs12(self, ctx: Context, keyset_id: str) -> Response:
        return self._uploaded(ctx, keyset_id, from_pkcs12_body)

    def _uploaded(self, ctx: Context, keyset_id: str, parse: Callable[..., Any]) -> Response:
        """The documented answer's fields only (kid, use, kty, nbf, exp): x5t is read back
        with the key set, so a client that needs it here is caught (ASSUMPTIONS.md)."""
        body = self._json_body(ctx)
        self.store.get(keyset_id)  # a missing key set is "not found" before the body's checks
        key = self.store.upload_certificate(keyset_id, parse(body, self.store.clock()))
        ctx.committed = True
        return self._answer(200, {"kid": key.kid, "use": key.use, "kty": key.kty, "nbf": key.nbf, "exp": key.exp})

    def list_keys_v2(self, ctx: Context, keyset_id: str) -> Response:
        keys = self.store.get(keyset_id).keys
        return self._answer(200, {
            "@odata.context": self.meta + f"trustFramework/keySets('{keyset_id}')/keys_v2",
            "value": [key_json(k, with_status=True) for k in keys]})

    def get_key_v2(self, ctx: Context, keyset_id: str, kid: str) -> Response:
        key = self.store.find_key(keyset_id, kid)
        return self._answer(200, {
            "@odata.context": self.meta + "trustFramework/keySets/keys_v2/$entity",
            **key_json(key, with_status=True)})

    def patch_key_v2(self, ctx: Context, keyset_id: str, kid: str) -> Response:
        body = self._json_body(ctx)
        if set(body) != {"status"}:
            raise GraphError(400, "AADB2C", "Only Status Property is allowed to update")
        self.store.set_status(keyset_id, kid, body["status"])
        ctx.committed = True
        return Response.empty(204)


def _encode_skiptoken(after_seq: int) -> str:
    return base64.urlsafe_b64encode(f"b2ckeys:{after_seq}".encode()).decode().rstrip("=")


def _decode_skiptoken(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "b2ckeys" and number.isdigit():
            return int(number)
    except ValueError:
        pass
    raise GraphError(400, "BadRequest", "The $skiptoken is not valid.")
