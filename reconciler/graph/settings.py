"""Where to sign in and which Graph to talk to, read from the environment (docs/signing-in.md).

No secret is held here: the credential is read by `reconciler.signin.auth` when a token
is needed. Plain `http://` is refused except on loopback addresses. The run's deadline
(B2CKEYS_DEADLINE) starts when the settings are read.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from ..core.errors import ConfigError
from .deadline import Deadline
from .transport import ExtraCAs


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    graph_url: str
    vault_resource: str  # whom Key Vault tokens are for (graph.vaultplaces)
    vault_domain: str  # the vaults' domain: https://NAME.<vault_domain>


CLOUDS = {
    "global": Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                    "https://vault.azure.net", "vault.azure.net"),
    "usgov": Cloud("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us",
                   "https://vault.usgovcloudapi.net", "vault.usgovcloudapi.net"),
    "dod": Cloud("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
                 "https://vault.usgovcloudapi.net", "vault.usgovcloudapi.net"),
    "china": Cloud("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
                   "https://vault.azure.cn", "vault.azure.cn"),
}

DEFAULT_MAX_RPM = 200
DEFAULT_SETTLE_SECONDS = 10.0  # Azure/azure-saas policy-module.sh waits "10 seconds for key-set to settle"
# The run's deadline: generous, since an apply of 10,000 keys at 200 requests a minute (about three a
# key: the write, reading it back, a share of the lists) takes some 2.5 hours; and short of GitHub
# Actions' 6-hour job limit, so that a stuck run ends saying what it was doing, not killed without a word.
DEFAULT_DEADLINE_SECONDS = 4 * 3600.0
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Settings:
    cloud: Cloud
    tenant_id: str
    client_id: str
    authority_host: str
    graph_url: str  # the Graph root, without /beta
    ca_bundle: str | None  # an extra CA bundle to trust, as given
    max_rpm: int  # client-side pacing of Graph requests; 0: no pacing
    time_scale: float = 1.0  # >1 shortens every wait, to match an emulator run with --time-scale
    settle_seconds: float = DEFAULT_SETTLE_SECONDS  # how long a lost write may stay invisible to reads
    deadline: Deadline = field(default_factory=Deadline, compare=False)  # B2CKEYS_DEADLINE's; none if made by hand

    @property
    def graph_scope(self) -> str:
        return self.graph_url.rstrip("/") + "/.default"

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"

    @property
    def verify(self) -> ExtraCAs | bool:
        """What our HTTP sessions (Graph's, and msal's) get as `verify`: requests' bundle, plus ours."""
        return ExtraCAs(self.ca_bundle) if self.ca_bundle else True


def cloud_name_of(environ: Mapping[str, str]) -> str:
    """B2CKEYS_CLOUD as given (lower case), `global` when unset; `from_environment` refuses an unknown one."""
    return environ.get("B2CKEYS_CLOUD", "global").strip().lower() or "global"


def from_environment(environ: Mapping[str, str], *, app_required: bool = True) -> Settings:
    """The settings of the environment. `app_required=False` (managed identity): no
    app registration needs naming, so AZURE_TENANT_ID and AZURE_CLIENT_ID are optional."""
    cloud_name = cloud_name_of(environ)
    cloud = CLOUDS.get(cloud_name)
    if cloud is None:
        raise ConfigError(
            f"B2CKEYS_CLOUD={cloud_name!r} is not a cloud b2ckeys knows; use one of: {', '.join(CLOUDS)}"
        )
    missing = [name for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID") if not environ.get(name)]
    if missing and app_required:
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
            "set them to the B2C tenant and the app registration b2ckeys signs in as "
            "(see docs/signing-in.md)"
        )
    authority_host = environ.get("AZURE_AUTHORITY_HOST") or cloud.authority_host
    graph_url = environ.get("B2CKEYS_GRAPH_URL") or cloud.graph_url
    check_url(authority_host, "AZURE_AUTHORITY_HOST")
    check_url(graph_url, "B2CKEYS_GRAPH_URL")
    ca_bundle = environ.get("B2CKEYS_CA_BUNDLE") or None
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ConfigError(f"B2CKEYS_CA_BUNDLE={ca_bundle}: no such file")
    if ca_bundle:
        ExtraCAs(ca_bundle).context()  # a file that holds no CA certificate is said now, once
    raw_rpm = environ.get("B2CKEYS_MAX_RPM", str(DEFAULT_MAX_RPM))
    try:
        max_rpm = int(raw_rpm)
        if max_rpm < 0:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"B2CKEYS_MAX_RPM={raw_rpm!r} must be a whole number of requests per minute (0: no pacing)"
        ) from None
    raw_scale = environ.get("B2CKEYS_TIME_SCALE", "1")
    try:
        time_scale = float(raw_scale)
        if not time_scale > 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"B2CKEYS_TIME_SCALE={raw_scale!r} must be a number above 0") from None
    raw_settle = environ.get("B2CKEYS_SETTLE_SECONDS", str(DEFAULT_SETTLE_SECONDS))
    try:
        settle_seconds = float(raw_settle)
        if not 0 <= settle_seconds < float("inf"):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"B2CKEYS_SETTLE_SECONDS={raw_settle!r} must be a number of seconds, 0 or more "
            f"(default {DEFAULT_SETTLE_SECONDS:g})"
        ) from None
    raw_deadline = environ.get("B2CKEYS_DEADLINE", str(DEFAULT_DEADLINE_SECONDS))
    try:
        deadline_seconds = float(raw_deadline)
        if not 0 < deadline_seconds < math.inf:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"B2CKEYS_DEADLINE={raw_deadline!r} must be a number of seconds above 0 "
            f"(default {DEFAULT_DEADLINE_SECONDS:g}, {DEFAULT_DEADLINE_SECONDS / 3600:g} hours)"
        ) from None
    return Settings(
        cloud=cloud,
        tenant_id=(environ.get("AZURE_TENANT_ID") or "").strip(),
        client_id=(environ.get("AZURE_CLIENT_ID") or "").strip(),
        authority_host=authority_host.rstrip("/"),
        graph_url=graph_url.rstrip("/"),
        ca_bundle=ca_bundle,
        max_rpm=max_rpm,
        time_scale=time_scale,
        settle_seconds=settle_seconds,
        deadline=Deadline(deadline_seconds),
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> None:
    """https anywhere; http only to a loopback address; nothing else."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise ConfigError(f"{what}={url}: plain http is refused except on loopback; use https")
    raise ConfigError(f"{what}={url}: not an https URL")


def origin(url: str) -> str:
    """scheme://host[:port] of `url`, normalised: scheme and host in lower case, the default
    port left out (`https://Graph.microsoft.com:443` is `https://graph.microsoft.com`). A URL
    with user info, or a port that is not one, gets an origin no real host has."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return f"{scheme}://{host}:[not a port]"
    shown_port = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    user = "[user info]@" if "@" in parts.netloc else ""
    return f"{scheme}://{user}{host}{shown_port}"
