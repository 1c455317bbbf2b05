"""The wire shapes of Key Vault's data plane: its error JSON, the request body's checks
(``attributes``, ``tags``) and paging parameters. Shared by ``vault`` and ``vaultcerts``."""

from __future__ import annotations

import json
from typing import Any, Optional

from .pipeline import Context, Response
from .vaultstore import VaultError

DEFAULT_PAGE = 25
MAX_PAGE = 25
RECOVERY = {"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}


def vault_error(err: VaultError, headers: Optional[dict[str, str]] = None) -> Response:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.inner:
        body["innererror"] = {"code": err.inner}
    return Response.json(err.status, {"error": body}, headers=headers)


def json_object(ctx: Context) -> dict[str, Any]:
    try:
        body = json.loads(ctx.request.body.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError):
        raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise VaultError(400, "BadParameter", "The request body must be a JSON object.")
    return body


def attributes(raw: Any) -> tuple[bool, Optional[int], Optional[int]]:
    """(enabled, nbf, exp) of an ``attributes`` object; epoch seconds, integers."""
    if raw is None:
        return True, None, None
    if not isinstance(raw, dict):
        raise VaultError(400, "BadParameter", "Property 'attributes' must be an object.")
    enabled = raw.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise VaultError(400, "BadParameter", "Property 'attributes.enabled' must be a boolean.")
    dates = []
    for key in ("nbf", "exp"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise VaultError(400, "BadParameter", f"Property 'attributes.{key}' must be an "
                                                  "integer (seconds since 1970-01-01 UTC).")
        dates.append(value)
    if dates[0] is not None and dates[1] is not None and dates[1] <= dates[0]:
        raise VaultError(400, "BadParameter", "The expiration time (exp) must be after the "
                                              "not-before time (nbf).")
    return enabled, dates[0], dates[1]


def tags(raw: Any) -> Optional[dict[str, str]]:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > 15 or not all(
            isinstance(v, str) and len(k) <= 256 and len(v) <= 256 for k, v in raw.items()):
        raise VaultError(400, "BadParameter", "Property 'tags' must map at most 15 names to "
                                              "strings, each of at most 256 characters.")
    return dict(raw)


def page_params(ctx: Context) -> tuple[int, int]:
    """(page size, offset) from ``maxresults`` (1-25, default 25) and ``$skiptoken``."""
    query = ctx.request.query
    raw_size = (query.get("maxresults") or [""])[0]
    raw_skip = (query.get("$skiptoken") or ["0"])[0]
    if raw_size and (not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE):
        raise VaultError(400, "BadParameter", f"'maxresults' must be an integer from 1 to {MAX_PAGE}.")
    if not raw_skip.isdigit():
        raise VaultError(400, "BadParameter", "The '$skiptoken' is not valid.")
    return int(raw_size or DEFAULT_PAGE), int(raw_skip)

