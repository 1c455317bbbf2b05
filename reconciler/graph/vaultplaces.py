"""Where a Key Vault is, and whom its tokens are for, per cloud (docs/signing-in.md).

A manifest's `vault:` is a name or an https URL. A name resolves through
B2CKEYS_KEYVAULT_URL, a URL template with `{name}` (the emulator's
`https://127.0.0.1:PORT/vaults/{name}`), else the cloud's own vault domain
(`https://NAME.vault.azure.net`, `.vault.usgovcloudapi.net`, `.vault.azure.cn`). The token's
resource is the cloud's (`https://vault.azure.net` in the global cloud), whatever the URL:
the emulator, as Azure, issues vault tokens for that resource.
"""

from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import urlsplit

from ..core.diagnostics import printable
from ..core.errors import ConfigError
from .settings import CLOUDS, Cloud, check_url, cloud_name_of, origin

KEYVAULT_URL_VARIABLE = "B2CKEYS_KEYVAULT_URL"
_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")  # Key Vault names: 3-24 of these; any other is refused here


def cloud_of(environ: Mapping[str, str]) -> Cloud:
    """B2CKEYS_CLOUD's cloud (`graph.settings.CLOUDS`); an unknown one is refused by graph.settings."""
    return CLOUDS.get(cloud_name_of(environ), CLOUDS["global"])


def vault_resource(environ: Mapping[str, str]) -> str:
    """Whom vault tokens are for: the cloud's Key Vault resource."""
    return cloud_of(environ).vault_resource


def vault_url(vault: str, environ: Mapping[str, str]) -> str:
    """The https URL of `vault` (a name or a URL); ConfigError when it is neither. A URL must
    be a vault of the cloud (`https://NAME.vault.azure.net`) or on B2CKEYS_KEYVAULT_URL's
    origin: a manifest (a pull request's, say) cannot send a vault token to a host of its choosing."""
    if vault.lower().startswith(("https://", "http://")):
        check_url(vault, "vault")
        host, domain = (urlsplit(vault).hostname or "").lower(), cloud_of(environ).vault_domain
        template = environ.get(KEYVAULT_URL_VARIABLE, "").strip()
        if not (host.endswith("." + domain) and urlsplit(vault).scheme.lower() == "https"
                or template and origin(vault) == origin(template.replace("{name}", "x"))):
            raise ConfigError(f"vault {printable(vault)[:200]} is not a Key Vault of this cloud "
                              f"(https://NAME.{domain}) nor on {KEYVAULT_URL_VARIABLE}'s host; "
                              "no token is sent to it")
        return vault.rstrip("/")
    if not _NAME.match(vault):
        raise ConfigError(f"vault {vault!r} is neither a Key Vault name (letters, digits and -) nor an https URL")
    template = environ.get(KEYVAULT_URL_VARIABLE, "").strip()
    if template:
        if "{name}" not in template:
            raise ConfigError(f"{KEYVAULT_URL_VARIABLE}={template}: the template must hold {{name}}")
        url = template.replace("{name}", vault)
        check_url(url, KEYVAULT_URL_VARIABLE)
        return url.rstrip("/")
    return f"https://{vault.lower()}.{cloud_of(environ).vault_domain}"
