"""The model: frozen value types for desired state, live state and the plan.

Nothing here does I/O. Desired objects carry the `Location` they were read from,
so that every later message can point at a manifest line. Secret *values* never
appear in this module's types: a `SecretRef` says where a secret comes from, and
is resolved by `reconciler.secrets` at apply time only.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field

KEYSET_PREFIX = "B2C_1A_"


def keyset_id(name: str) -> str:
    """`Foo` and `B2C_1A_Foo` (any case of the prefix) both give `B2C_1A_Foo`."""
    return KEYSET_PREFIX + strip_prefix(name)


def strip_prefix(name: str) -> str:
    if name[: len(KEYSET_PREFIX)].upper() == KEYSET_PREFIX.upper():
        return name[len(KEYSET_PREFIX):]
    return name


def format_time(epoch: int | None) -> str:
    """Epoch seconds as RFC 3339 in UTC, e.g. 2026-01-01T00:00:00Z; "-" for none."""
    if epoch is None:
        return "-"
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and column count from 1."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return self.path


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the input, terraform-style: severity, message, where."""

    severity: Severity
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        label = "warning: " if self.severity is Severity.WARNING else ""
        if self.location:
            return f"{self.location}: {label}{self.message}"
        return f"{label or 'error: '}{self.message}"


class KeyType(str, enum.Enum):
    RSA = "RSA"
    OCT = "oct"

    @classmethod
    def parse(cls, text: str) -> "KeyType":
        """Graph writes `RSA`, `rsa`, `OCT`, `oct`; a manifest may say `secret`."""
        lowered = text.lower()
        if lowered == "rsa":
            return cls.RSA
        if lowered in ("oct", "secret"):
            return cls.OCT
        raise ValueError(f"unknown key type {text!r}")


class KeyUse(str, enum.Enum):
    SIG = "sig"
    ENC = "enc"


class KeyKind(str, enum.Enum):
    """How a desired key comes to exist; each maps to one Graph action."""

    GENERATE = "generate"  # POST …/generateKey
    SECRET = "secret"  # POST …/uploadSecret


@dataclass(frozen=True)
class SecretRef:
    """Where a secret value comes from: `{env: NAME}` or `{file: PATH}`.

    `path` is the file reference as written; `base_dir` is the folder of the
    manifest it is relative to. The value itself is never stored here.
    """

    source: str  # "env" | "file"
    name: str
    location: Location
    base_dir: str = ""

    def __str__(self) -> str:
        return f"{self.source}:{self.name}"


@dataclass(frozen=True)
class DesiredKey:
    kind: KeyKind
    kty: KeyType
    use: KeyUse
    nbf: int | None = None  # epoch seconds
    exp: int | None = None
    secret: SecretRef | None = None  # set for KeyKind.SECRET only
    location: Location | None = field(default=None, compare=False)

    @property
    def identity(self) -> tuple:
        """What makes two keys "the same key" for planning (design 3.5)."""
        return (self.kty, self.use, self.nbf, self.exp)


@dataclass(frozen=True)
class DesiredKeySet:
    name: str  # as written in the manifest, prefix stripped
    keys: tuple[DesiredKey, ...]
    location: Location | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return keyset_id(self.name)


@dataclass(frozen=True)
class DesiredState:
    keysets: tuple[DesiredKeySet, ...]
    tenant: str | None = None  # the tenant guard, when a manifest names one
    sources: tuple[str, ...] = ()  # the manifest files read

    def find(self, keyset_id_: str) -> DesiredKeySet | None:
        wanted = keyset_id_.upper()
        return next((k for k in self.keysets if k.id.upper() == wanted), None)


@dataclass(frozen=True)
class LiveKey:
    kid: str
    kty: KeyType
    use: KeyUse | str
    nbf: int | None = None
    exp: int | None = None
    status: str | None = None  # "enabled" | "disabled" | None when Graph leaves it out
    x5t: str | None = None

    @property
    def identity(self) -> tuple:
        return (self.kty, self.use, self.nbf, self.exp)


@dataclass(frozen=True)
class LiveKeySet:
    id: str
    keys: tuple[LiveKey, ...] = ()


@dataclass(frozen=True)
class LiveState:
    keysets: tuple[LiveKeySet, ...] = ()

    def find(self, keyset_id_: str) -> LiveKeySet | None:
        wanted = keyset_id_.upper()  # ids are treated as case-insensitive
        return next((k for k in self.keysets if k.id.upper() == wanted), None)


class Action(str, enum.Enum):
    """One Graph write per change. The value is the glyph shown in plans."""

    CREATE_KEYSET = "create_keyset"
    GENERATE_KEY = "generate_key"
    UPLOAD_SECRET = "upload_secret"

    @property
    def glyph(self) -> str:
        return "+"

    @property
    def order(self) -> int:
        """Creates come before key additions (octoDNS-style class ordering)."""
        return 0 if self is Action.CREATE_KEYSET else 1


@dataclass(frozen=True)
class Change:
    """One planned Graph call. `key` is None for CREATE_KEYSET."""

    action: Action
    keyset_id: str
    key: DesiredKey | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Unmanaged:
    """A live key set no manifest declares (kid None), or a live key no desired key matches."""

    keyset_id: str
    kid: str | None = None
    key: LiveKey | None = None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[Unmanaged, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    notes: tuple[str, ...] = ()  # plain remarks, e.g. "secret values cannot be compared"
    live: LiveState = LiveState()  # what the plan was computed from (Terraform's prior state)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def keysets_to_create(self) -> int:
        return self.count(Action.CREATE_KEYSET)

    @property
    def keys_to_add(self) -> int:
        return len(self.changes) - self.keysets_to_create
