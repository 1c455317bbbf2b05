"""Azure Key Vault's data plane, for vaults at ``{emulator}/vaults/{name}``: the bearer
token and its challenge (401), ``api-version``, roles (403), then secrets (Set Secret, get
the latest or a version, list versions) and certificates (``vaultcerts``). State is in
``vaultstore``; the roles' data actions in ``vaultroles``. Errors are Key Vault's JSON,
``{"error": {"code", "message"}}``; no answer but a get or set of a secret carries a value.
"""

from __future__ import annotations

from typing import Any, Callable, Optional
from urllib.parse import quote, unquote

from .config import Settings
from .pipeline import Context, Response
from .sts import TokenRejected, TokenService
from .vaultcerts import CertificatesApi
from .vaultroles import Action, forbidden
from .vaultstore import SecretVersion, VaultError, VaultStore, check_name, new_version, now
from .vaultwire import RECOVERY, attributes, json_object, page_params, tags, vault_error

VAULT_RESOURCE = "https://vault.azure.net"
API_VERSIONS = ("7.4", "7.5", "7.6", "2025-07-01", "2026-04-01")


class VaultApi:
    def __init__(self, base_url: str, store: VaultStore, tokens: TokenService,
                 settings: Callable[[], Settings]):
        self.base_url, self.store, self.tokens, self.settings = base_url, store, tokens, settings
        self.certs = CertificatesApi(self)

    @staticmethod
    def serves(path: str) -> bool:
        return path.startswith("/vaults/")

    def challenge(self) -> str:
        return (f'Bearer authorization="{self.base_url}/{self.tokens.tenant_id}", '
                f'resource="{VAULT_RESOURCE}"')

    def item_id(self, collection: str, name: str, version: str = "") -> str:
        """The ``id`` of a secret, certificate or key version, as Azure's SDKs parse it:
        ``{origin}/{collection}/{name}[/{version}]`` (ASSUMPTIONS.md: the vault's path
        prefix cannot be in it; the SDK refuses ids with more than three segments)."""
        return f"{self.base_url}/{collection}/{name}" + (f"/{version}" if version else "")

    # -- the request path --------------------------------------------------------------
    def handle(self, ctx: Context) -> Response:
        req = ctx.request
        try:
            segs = [unquote(s) for s in req.path.rstrip("/").split("/")[1:]]
            if len(segs) < 2:
                raise VaultError(404, "NotFound", "The requested resource was not found.")
            version = (req.query.get("api-version") or [""])[0]
            try:
                ctx.claims = self.tokens.validate(req.header("Authorization"),
                                                  audience=VAULT_RESOURCE)
            except TokenRejected:
                message = ("AKV10000: Request is missing a Bearer or PoP token."
                           if not req.header("Authorization") else
                           "AKV10032: Invalid issuer, audience, signature or lifetime.")
                return vault_error(VaultError(401, "Unauthorized", message),
                                   {"WWW-Authenticate": self.challenge()})
            if not version:
                raise VaultError(400, "BadParameter", "The request URI must contain an "
                                                      "'api-version' query parameter.")
            if version not in API_VERSIONS:
                raise VaultError(400, "BadParameter", f"The specified version ({version[:20]}) "
                                                      "is not recognized. Consider using the "
                                                      f"latest supported version ({API_VERSIONS[-1]}).")
            vault = segs[1]
            self.store.vault(vault)            # 404 VaultNotFound before anything else
            return self._route(ctx, vault, segs[2:], version)
        except VaultError as err:
            return vault_error(err)

    def _route(self, ctx: Context, vault: str, rest: list[str], version: str) -> Response:
        method = ctx.request.method
        if rest and rest[0] == "certificates":
            return self.certs.route(ctx, vault, rest[1:])
        if not rest or rest[0] != "secrets" or len(rest) == 1 or len(rest) > 3:
            raise VaultError(404, "NotFound", "The requested resource was not found.")
        name = rest[1]
        if len(rest) == 2 and method == "PUT":
            self.authorize(ctx, vault, Action.SET_SECRET, "secrets", name)
            return self.set_secret(ctx, vault, name)
        if method != "GET":
            raise VaultError(405, "MethodNotAllowed", f"The method {method[:10]} is not allowed "
                                                      "on this resource.")
        if len(rest) == 3 and rest[2] == "versions":
            self.authorize(ctx, vault, Action.READ_METADATA, "secrets", name)
            return self.list_versions(ctx, vault, name, version)
        self.authorize(ctx, vault, Action.GET_SECRET, "secrets", name)
        return self.get_secret(vault, name, rest[2] if len(rest) == 3 else None)

    def authorize(self, ctx: Context, vault: str, action: Action, collection: str,
                  name: str) -> None:
        roles = self.store.roles(vault)
        if not action.allowed_by(roles):
            raise forbidden(ctx.claims or {}, action, vault, f"{collection}/{name}")

    # -- secrets -----------------------------------------------------------------------
    def secret_json(self, name: str, item: SecretVersion, *, value: bool) -> dict[str, Any]:
        attributes: dict[str, Any] = {"enabled": item.enabled}
        attributes.update({k: v for k, v in (("nbf", item.nbf), ("exp", item.exp)) if v is not None})
        attributes.update(created=item.created, updated=item.created, **RECOVERY)
        out: dict[str, Any] = {}
        if value:
            out["value"] = item.value
        if item.content_type is not None:
            out["contentType"] = item.content_type
        out["id"] = self.item_id("secrets", name, item.version)
        out["attributes"] = attributes
        if item.tags:
            out["tags"] = item.tags
        if item.managed:
            out["kid"] = self.item_id("keys", name, item.version)
            out["managed"] = True
        return out

    def set_secret(self, ctx: Context, vault: str, name: str) -> Response:
        check_name(name)
        body = json_object(ctx)
        value = body.get("value")
        if not isinstance(value, str):
            raise VaultError(400, "BadParameter", "Property 'value' is required and must be a string.")
        content_type = body.get("contentType")
        if content_type is not None and (not isinstance(content_type, str) or len(content_type) > 255):
            raise VaultError(400, "BadParameter", "Property 'contentType' must be a string of "
                                                  "at most 255 characters.")
        enabled, nbf, exp = attributes(body.get("attributes"))
        item = SecretVersion(new_version(), value, content_type, enabled, nbf, exp, now(),
                             tags(body.get("tags")))
        self.store.set_secret(vault, name, item)
        ctx.committed = True
        shown, _ = self.store.versions(vault, name)
        return Response.json(200, self.secret_json(shown, item, value=True))

    def get_secret(self, vault: str, name: str, version: Optional[str]) -> Response:
        shown, item = self.store.secret(vault, name, version or None)
        if not item.enabled:
            raise VaultError(403, "Forbidden", "Operation get is not allowed on a disabled "
                                               "secret.", inner="SecretDisabled")
        return Response.json(200, self.secret_json(shown, item, value=True))

    def list_versions(self, ctx: Context, vault: str, name: str, api_version: str) -> Response:
        size, skip = page_params(ctx)
        try:
            shown, versions = self.store.versions(vault, name)
        except VaultError as err:  # reading vault-versions-empty: [] for a missing secret
            if err.code != "SecretNotFound" or not self.settings().vault_versions_empty:
                raise
            shown, versions = name, []
        page = versions[skip:skip + size]
        next_link = None
        if skip + size < len(versions):
            next_link = (f"{self.base_url}/vaults/{quote(vault)}/secrets/{quote(shown)}/versions"
                         f"?api-version={api_version}&$skiptoken={skip + size}&maxresults={size}")
        return Response.json(200, {"value": [self.secret_json(shown, v, value=False) for v in page],
                                   "nextLink": next_link})
