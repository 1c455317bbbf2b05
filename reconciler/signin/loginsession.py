"""The HTTP session msal signs in through: to the authority's origin only.

msal takes the token endpoint from the login service's OIDC discovery document (and,
for some hosts and settings, asks an instance discovery or a regional host), then posts
the credential there: the client secret, a client assertion signed with the certificate's
key, the federated token. A document naming another origin would get them. So every
request of a sign-in goes through this session, which refuses any URL whose origin
(scheme, host, port; compared normalised: case, default port) is not the authority's,
before a connection is made. A managed identity talks to its own local endpoint and
does not use it.
"""

from __future__ import annotations

from ..core.diagnostics import printable
from ..core.errors import AuthError
from ..graph.settings import origin
from ..graph.transport import DEFAULT_TIMEOUT, Session


class LoginSession(Session):
    """A `Session` (TLS verified, no redirect followed, a timeout on every request) that
    sends to `authority`'s origin only; any other is an `AuthError`, nothing sent."""

    def __init__(self, authority: str, *, verify=True, timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
                 deadline=None):
        super().__init__(verify=verify, timeout=timeout, deadline=deadline)
        self.authority = authority.rstrip("/")
        self.origin = origin(authority)

    def request(self, method, url, **kwargs):
        try:
            target = origin(str(url))
        except ValueError:  # urlsplit: brackets that make no IPv6 address
            target = "[not a URL]"
        if target != self.origin:
            what = "the token request" if str(method).upper() == "POST" else f"a {str(method).upper()} request"
            raise AuthError(
                f"sign-in to {self.authority} refused: the login service's configuration names "
                f"{printable(target)[:200]} for {what}, not the authority's origin {self.origin}; nothing was "
                "sent there. Check AZURE_AUTHORITY_HOST (and AZURE_TENANT_ID): sign-in talks to that host only")
        return super().request(method, url, **kwargs)
