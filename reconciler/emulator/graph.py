"""Microsoft Graph beta ``/trustFramework/keySets``: token and role checks, routing,
handlers. The path grammar is in ``routes``, the wire shapes in ``odata``, state in
``store`` (reads there may lag: ``lag``), B2C's key rules in ``keyrules`` and ``jwkbody``;
this is the wire. The behaviour that the settings (``config``, ``readings``) switch is
marked where it is chosen."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .certs import from_certificate_body, from_pkcs12_body
from .config import READ_ROLE, WRITE_ROLE, Config
from .jwkbody import parse_replacement
from .keymodel import StoreError
from .odata import GraphError, answer, json_body, key_json, keyset_json, odata_error
from .pipeline import Context, Pipeline, Response
from .routes import resolve
from .store import KeySetStore
from .sts import TokenRejected, TokenService

__all__ = ["GraphApi", "GraphError", "odata_error"]
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
READ, WRITE = "read", "write"
_BAD_KEYSET = ("The 'keySet' field is invalid in request. "
               "Please check the request body and parameters.")
_TEXT = "text/plain; charset=utf-8"


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
            "count": {"GET": _Route(self.count_keysets, READ)},
            "item": {"GET": _Route(self.get_keyset, READ),
                     "PUT": _Route(self.put_keyset, WRITE),
                     "DELETE": _Route(self.delete_keyset, WRITE)},
            "generatekey": {"POST": _Route(self.generate_key, WRITE)},
            "uploadsecret": {"POST": _Route(self.upload_secret, WRITE)},
            "getactivekey": {"GET": _Route(self.get_active_key, READ)},
            "uploadcertificate": {"POST": _Route(self.upload_certificate, WRITE)},
            "uploadpkcs12": {"POST": _Route(self.upload_pkcs12, WRITE)},
            "keys_v2": {"GET": _Route(self.list_keys_v2, WRITE)},
            "keys_v2_count": {"GET": _Route(self.count_keys_v2, WRITE)},
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
                  "no_active_key": settings.no_active_key_status,   # reading getactivekey-404
                  "busy": 409}.get(err.kind, 400)
        return GraphError(status, err.code, err.message)

    def _route(self, method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
        shape, args = resolve(path)
        route = self._routes[shape].get(method)
        if route is None:
            raise GraphError(405, "Request_BadRequest",
                             "Specified HTTP method is not allowed for the request target.",
                             {"Allow": ", ".join(sorted(self._routes[shape]))})
        return route, args

    @staticmethod
    def _authorize(claims: Optional[dict[str, Any]], access: str) -> None:
        roles = list((claims or {}).get("roles") or [])
        scp = (claims or {}).get("scp")
        if isinstance(scp, str):  # a user's token (delegated): Graph reads its scopes as it reads roles
            roles += scp.split()
        allowed = (WRITE_ROLE,) if access == WRITE else (READ_ROLE, WRITE_ROLE)
        if not any(role in roles for role in allowed):
            raise GraphError(403, "Authorization_RequestDenied",
                             "Insufficient privileges to complete the operation.")

    # -- key sets (reads are lagged: reading read-lag) ----------------------------------
    def list_keysets(self, ctx: Context) -> Response:
        settings = self.config.current
        token = (ctx.request.query.get("$skiptoken") or [""])[0]
        after = _decode_skiptoken(token) if token else 0
        page, next_after = self.store.page(after, settings.page_size, lagged=True)
        body: dict[str, Any] = {"@odata.context": self.meta + "trustFramework/keySets",
                                "value": [keyset_json(s, with_keys=settings.list_keys)
                                          for s in page]}      # reading list-without-keys
        if next_after is not None:
            query = f"?$skiptoken={_encode_skiptoken(next_after)}"
            body["@odata.nextLink"] = (       # reading relative-next-link
                "keySets" + query if settings.next_link == "relative"
                else f"{self.base_url}/beta/trustFramework/keySets" + query)
        return answer(200, body)

    def count_keysets(self, ctx: Context) -> Response:
        return Response(200, str(self.store.count(lagged=True)).encode(), {"Content-Type": _TEXT})

    def create_keyset(self, ctx: Context) -> Response:
        body = json_body(ctx)
        if "@odata.type" in body or body.get("keys") not in (None, []):
            raise GraphError(400, "AADB2C", _BAD_KEYSET)
        name = body.get("id")
        if name is None or name == "":
            raise GraphError(400, "AADB2C90253",
                             "The trustframework keyset parameter 'id' is missing")
        if not isinstance(name, str):
            raise GraphError(400, "AADB2C", _BAD_KEYSET)
        created = self.store.create(name, double_prefix=self.config.current.double_prefix)
        ctx.committed = True
        return answer(201, {"@odata.context": self.meta + "trustFramework/keySets/$entity",
                            **keyset_json(created)},
                      {"Location": f"/trustFramework/keySets('{created.id}')"})

    def get_keyset(self, ctx: Context, keyset_id: str) -> Response:
        found = self.store.get(keyset_id, lagged=True)
        return answer(200, {"@odata.context": self.meta + "trustFramework/keySets/$entity",
                            **keyset_json(found)})

    def put_keyset(self, ctx: Context, keyset_id: str) -> Response:
        """Replace all keys (trustframeworkkeyset-update); see ``jwkbody``."""
        body = json_body(ctx)
        target = self.store.get(keyset_id)
        keys = parse_replacement(body, target.id, self.store.tenant_domain)
        replaced = self.store.replace_keys(keyset_id, keys)
        ctx.committed = True
        return answer(200, {"@odata.context": self.meta + "trustFramework/keySets/$entity",
                            **keyset_json(replaced)})

    def delete_keyset(self, ctx: Context, keyset_id: str) -> Response:
        self.store.delete(keyset_id, backup=self.config.current.backup_on_delete)
        ctx.committed = True
        return Response.empty(204)

    # -- keys --------------------------------------------------------------------------
    def generate_key(self, ctx: Context, keyset_id: str) -> Response:
        key = self.store.generate_key(keyset_id, json_body(ctx),
                                      default_dates=self.config.current.default_dates)
        ctx.committed = True
        return answer(200, {"@odata.context": self.meta + "microsoft.graph.trustFrameworkKey",
                            **key_json(key)})

    def upload_secret(self, ctx: Context, keyset_id: str) -> Response:
        key = self.store.upload_secret(keyset_id, json_body(ctx),
                                       default_dates=self.config.current.default_dates)
        ctx.committed = True
        # The documented answer's fields, kty "OCT" as in its example; nbf/exp integers.
        out: dict[str, Any] = {"kid": key.kid, "use": key.use, "kty": "OCT"}
        if key.nbf is not None:
            out["nbf"] = key.nbf
        if key.exp is not None:
            out["exp"] = key.exp
        return answer(200, out)

    def get_active_key(self, ctx: Context, keyset_id: str) -> Response:
        out = key_json(self.store.active_key(keyset_id, lagged=True))
        if not self.config.current.active_key_kid:     # reading getactivekey-no-kid
            del out["kid"]
        return answer(200, {"@odata.context": self.meta + "microsoft.graph.trustFrameworkKey",
                            **out})

    def upload_certificate(self, ctx: Context, keyset_id: str) -> Response:
        return self._uploaded(ctx, keyset_id, from_certificate_body)

    def upload_pkcs12(self, ctx: Context, keyset_id: str) -> Response:
        return self._uploaded(ctx, keyset_id, from_pkcs12_body)

    def _uploaded(self, ctx: Context, keyset_id: str, parse: Callable[..., Any]) -> Response:
        """The documented answer's fields only (kid, use, kty, nbf, exp): x5t is read back
        with the key set, so a client that needs it here is caught (ASSUMPTIONS.md)."""
        body = json_body(ctx)
        self.store.get(keyset_id)  # a missing key set is "not found" before the body's checks
        key = self.store.upload_certificate(keyset_id, parse(body, self.store.clock()))
        ctx.committed = True
        return answer(200, {"kid": key.kid, "use": key.use, "kty": key.kty, "nbf": key.nbf,
                            "exp": key.exp})

    def list_keys_v2(self, ctx: Context, keyset_id: str) -> Response:
        keys = self.store.get(keyset_id, lagged=True).keys
        return answer(200, {
            "@odata.context": self.meta + f"trustFramework/keySets('{keyset_id}')/keys_v2",
            "value": [key_json(k, with_status=True) for k in keys]})

    def count_keys_v2(self, ctx: Context, keyset_id: str) -> Response:
        keys = self.store.get(keyset_id, lagged=True).keys
        return Response(200, str(len(keys)).encode(), {"Content-Type": _TEXT})

    def get_key_v2(self, ctx: Context, keyset_id: str, kid: str) -> Response:
        key = self.store.find_key(keyset_id, kid, lagged=True)
        return answer(200, {
            "@odata.context": self.meta + "trustFramework/keySets/keys_v2/$entity",
            **key_json(key, with_status=True)})

    def patch_key_v2(self, ctx: Context, keyset_id: str, kid: str) -> Response:
        body = json_body(ctx)
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
