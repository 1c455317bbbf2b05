"""Our own exception types. The CLI turns each into one line (or one line per
diagnostic) and exit code 1; nothing from requests, msal or yaml leaks past the
module that caught it.

    ReconcilerError
    ├── ManifestError      one or more located Diagnostics (bad YAML, schema, semantics)
    ├── SecretError        a secret reference that cannot be resolved (located)
    │   └── VaultError     Key Vault refused, or has no such vault, secret or version (located)
    ├── ConfigError        bad environment / command-line configuration
    ├── AuthError          sign-in failed (msal said no, or the login host is unreachable)
    ├── PreflightError     signed in, but to the wrong tenant or without the permission needed
    ├── GraphError         Graph answered with an error, or could not be reached
    │   ├── GraphNotFound      404, or 400 with AADB2C90073
    │   ├── GraphConflict      the "already exists" answer (409 or AADB2C95028)
    │   ├── GraphThrottled     429 / AADB2C95043
    │   ├── GraphAuthError     401 / 403
    │   ├── GraphServerError   5xx
    │   ├── GraphUnreachable   connection error or timeout (no answer at all)
    │   ├── GraphAnswerUnreadable  an answer b2ckeys cannot read (not JSON, a field missing or of the wrong type)
    │   └── RetriesExhausted   retried until the budget ran out (holds the last error)
    ├── DeadlinePassed     the run's deadline (B2CKEYS_DEADLINE) passed: no request starts
    └── ApplyRefused       apply would not start (no terminal, not approved, ...)

Messages never hold a secret value or an access token.
"""

from __future__ import annotations

from typing import Iterable

from .diagnostics import Diagnostic, Location, Severity


class ReconcilerError(Exception):
    """Base of every error the CLI reports as a clean message."""

    def lines(self) -> list[str]:
        return [str(self)]


class ManifestError(ReconcilerError):
    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def at(cls, location: Location | None, message: str) -> "ManifestError":
        return cls([Diagnostic(Severity.ERROR, message, location)])

    def lines(self) -> list[str]:
        return [str(d) for d in self.diagnostics]


class SecretError(ReconcilerError):
    def __init__(self, location: Location | None, message: str):
        self.location = location
        super().__init__(f"{location}: {message}" if location else f"error: {message}")


class VaultError(SecretError):
    """Key Vault refused or does not have what a manifest line references (located at that line)."""


class ConfigError(ReconcilerError):
    pass


class AuthError(ReconcilerError):
    pass


class PreflightError(ReconcilerError):
    """Raised before any key-set call: nothing was read or changed."""


class ApplyRefused(ReconcilerError):
    pass


class DeadlinePassed(ReconcilerError):
    """The run's deadline passed: the request named (`doing`) was not sent, or its answer was cut short (`in_flight`)."""

    def __init__(self, message: str, *, doing: str = "", in_flight: bool = False):
        self.doing, self.in_flight = doing, in_flight
        super().__init__(message)


class GraphError(ReconcilerError):
    """Graph's answer to one request. `code` is Graph's `error.code` (e.g. AADB2C90073)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ):
        self.status = status
        self.retry_after = retry_after  # seconds, when Graph sent Retry-After
        self.code = code
        self.graph_message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.method} {self.path}: " if self.method else ""
        status = f"HTTP {self.status}" if self.status else "no answer"
        code = f" {self.code}" if self.code else ""
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        return f"{head}{status}{code}: {self.graph_message}{rid}"


class GraphNotFound(GraphError):
    pass


class GraphConflict(GraphError):
    pass


class GraphThrottled(GraphError):
    pass


class GraphAuthError(GraphError):
    pass


class GraphServerError(GraphError):
    pass


class GraphUnreachable(GraphError):
    pass


class GraphAnswerUnreadable(GraphError):
    """Graph answered (2xx), but not in a shape b2ckeys can read: an empty body, not JSON,
    a key without `kty`, a date that is not epoch seconds. For a write this is ambiguous:
    the write may have taken effect, so `reconciler.graph.ensure` reads back before writing again."""


class RetriesExhausted(GraphError):
    """A call retried until its budget ran out; carries the last answer."""

    def __init__(self, last: GraphError, tries: int, seconds: float):
        self.last = last
        self.tries = tries
        self.seconds = seconds
        super().__init__(
            last.graph_message, status=last.status, code=last.code, request_id=last.request_id,
            method=last.method, path=last.path, retry_after=last.retry_after,
        )

    def _render(self) -> str:
        last = self.last._render()
        if self.method and last.startswith(f"{self.method} {self.path}: "):
            last = last[len(f"{self.method} {self.path}: "):]
        head = f"{self.method} {self.path}: " if self.method else ""
        return f"{head}gave up after {self.tries} tries over {self.seconds:.1f} s; last answer: {last}"


class LeaseHeld(ReconcilerError):
    """Another run holds the tenant's lease (`reconciler.graph.lease`): nothing was changed."""


class LeaseLost(ReconcilerError):
    """This run's lease on the tenant was taken (force-unlock) or could not be kept."""
