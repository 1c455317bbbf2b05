"""The model: frozen value types for desired state and live state (the plan is in `changes`).

Nothing here does I/O. Desired objects carry the `Location` they were read from,
so that every later message can point at a manifest line. Secret *values* never
appear in this module's types: a `SecretRef` says where a secret comes from, and
is resolved by `reconciler.manifest.secrets` at apply time only.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
from dataclasses import dataclass, field
from typing import Iterable

from .diagnostics import Location, shown

KEYSET_PREFIX = "B2C_1A_"
LEASE_KEYSET_ID = "B2C_1A_B2CKeysLock"  # the tenant lease `apply` holds while it writes


def keyset_id(name: str) -> str:
    """`Foo` and `B2C_1A_Foo` (any case of the prefix) both give `B2C_1A_Foo`."""
    return KEYSET_PREFIX + strip_prefix(name)


def strip_prefix(name: str) -> str:
    if name[: len(KEYSET_PREFIX)].upper() == KEYSET_PREFIX.upper():
        return name[len(KEYSET_PREFIX):]
    return name


def is_backup(keyset_id_: str) -> bool:
    """B2C keeps a copy `<id>.bak` of a key set deleted in the portal; nobody manages those."""
    return keyset_id_.lower().endswith(".bak")


def is_internal(keyset_id_: str) -> bool:
    """A key set nobody declares or manages: B2C's `….bak` backups, and b2ckeys' own lease
    (`LEASE_KEYSET_ID`, any case). Never reported, pruned, exported or checked by drift."""
    return is_backup(keyset_id_) or keyset_id_.upper() == LEASE_KEYSET_ID.upper()


# The epoch seconds b2ckeys takes, in a manifest or from Graph: B2C's nbf and exp are Edm.Int64
# from 0 (1970-01-01T00:00:00Z), and every date is shown in RFC 3339, whose years end at 9999.
EPOCH_MIN, EPOCH_MAX = 0, 253_402_300_799  # 9999-12-31T23:59:59Z


def format_time(epoch: int | None) -> str:
    """Epoch seconds as RFC 3339 in UTC, e.g. 2026-01-01T00:00:00Z; "-" for none."""
    if epoch is None:
        return "-"
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    CERTIFICATE = "certificate"  # POST …/uploadCertificate
    PKCS12 = "pkcs12"  # POST …/uploadPkcs12

    @property
    def is_certificate(self) -> bool:
        """Identified by the certificate's thumbprint (x5t); nbf and exp are the certificate's."""
        return self in (KeyKind.CERTIFICATE, KeyKind.PKCS12)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret value comes from: `{env: NAME}` or `{file: PATH}`.

    `name` is the variable or the file reference as written; `base_dir` is the
    folder of the manifest a file is relative to, and `root` the folder it must
    stay in (`reconciler.manifest.confine`; "" means the repository of `base_dir`). The
    value itself is never stored here.
    """

    source: str  # "env" | "file" | "keyVault"
    name: str  # the variable, the file, or the vault's secret (or certificate) name
    location: Location
    base_dir: str = ""
    root: str = ""
    vault: str = ""  # keyVault: the vault's name or URL, as written
    version: str = ""  # keyVault: the version, pinned in the manifest or found by plan ("" not yet known)
    pinned: bool = False  # keyVault: the manifest names the version

    def __str__(self) -> str:
        if self.source == "keyVault":
            version = f" version {shown(self.version, 64)}" if self.version else ""
            return f"Key Vault {shown(self.vault, 200)} secret {shown(self.name, 200)}{version}"
        return f"{self.source}:{shown(self.name, 200)}"

    @property
    def in_vault(self) -> bool:
        return self.source == "keyVault"


@dataclass(frozen=True, slots=True)
class VaultVersion:
    """What Key Vault says of one version of a secret, without its value (listing versions
    returns attributes only): epoch seconds, None where the vault has none."""

    version: str
    enabled: bool
    created: int | None = None
    nbf: int | None = None
    exp: int | None = None
    content_type: str = ""

    @property
    def valid_from(self) -> int | None:
        """The date a key made from it takes as its nbf: the version's nbf, else its creation time."""
        return self.nbf if self.nbf is not None else self.created


@dataclass(frozen=True, slots=True)
class CertificateVersion:
    """What Key Vault says of a certificate, without its private key: the thumbprint and dates."""

    version: str
    x5t: str
    nbf: int | None = None
    exp: int | None = None


@dataclass(frozen=True, slots=True)
class Rotation:  # `rotate: {lifetime: 180d, renewBefore: 30d}` on a generated key, in seconds
    lifetime: int
    renew_before: int


@dataclass(frozen=True, slots=True)
class DesiredKey:
    """One desired key. `secret` is the reference the upload needs: the value of a
    `secret` key, the password of a `pkcs12` key. `file` is the certificate or PKCS#12
    file; `x5t`, `nbf` and `exp` of those kinds are read from the certificate before
    planning (`reconciler.manifest.certificates`): x5t None means not read yet."""

    kind: KeyKind
    kty: KeyType
    use: KeyUse
    nbf: int | None = None  # epoch seconds
    exp: int | None = None
    secret: SecretRef | None = None
    location: Location | None = field(default=None, compare=False)
    file: SecretRef | None = None
    x5t: str | None = None
    rotate: Rotation | None = None

    @property
    def identity(self) -> tuple:
        """What makes two keys "the same key" for planning (docs/manifests.md: how plans are made)."""
        if self.kind.is_certificate:
            return (self.kty, self.use, "x5t", self.x5t or f"{self.file.source}:{self.file.name}")
        return (self.kty, self.use, self.nbf, self.exp)

    def matches(self, live: "LiveKey") -> bool:
        """Certificates match by thumbprint, other keys by kty, use, nbf and exp, where a date
        left out here matches any date of the live key (the service may fill one in)."""
        if self.kind.is_certificate:  # Graph may pad x5t with "="
            return bool(self.x5t) and (live.x5t or "").rstrip("=") == self.x5t and live.identity[:2] == self.identity[:2]
        return ((live.kty, live.use) == (self.kty, self.use) and self.nbf in (None, live.nbf)
                and self.exp in (None, live.exp))

    def matches_exactly(self, live: "LiveKey") -> bool:
        """A match with no date left to chance: the live key has the dates given here, and no
        date where this key has none. A certificate's match is always exact."""
        return self.matches(live) and (self.kind.is_certificate or live.identity == self.identity)


@dataclass(frozen=True, slots=True)
class DesiredKeySet:
    name: str  # as written in the manifest, prefix stripped
    keys: tuple[DesiredKey, ...]
    location: Location | None = field(default=None, compare=False)
    protect: bool = False  # never deleted
    disable_unmanaged: bool = False  # disableUnmanagedKeys: true

    @property
    def id(self) -> str:
        return keyset_id(self.name)


@dataclass(frozen=True, slots=True)
class PolicyReference:  # StorageReferenceId="B2C_1A_…" in a custom-policy file
    keyset_id: str
    location: Location


@dataclass(frozen=True)
class DesiredState:
    keysets: tuple[DesiredKeySet, ...]
    tenant: str | None = None  # the tenant guard, when a manifest names one
    sources: tuple[str, ...] = ()  # the manifest files read
    prune: bool = False  # delete live key sets no manifest declares
    protected: tuple[str, ...] = ()  # key set ids never deleted (top-level `protect:` lists)
    references: tuple[PolicyReference, ...] = ()  # from --policies

    def find(self, keyset_id_: str) -> DesiredKeySet | None:
        return self._by_id.get(keyset_id_.upper())

    @functools.cached_property
    def _by_id(self) -> dict[str, DesiredKeySet]:
        """Upper-case id → the first key set with it: `find` in constant time, so that
        a plan of N key sets costs O(N), not O(N²)."""
        return _first_by_id(self.keysets)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class LiveKeySet:
    id: str
    keys: tuple[LiveKey, ...] = ()


@dataclass(frozen=True)
class LiveState:
    keysets: tuple[LiveKeySet, ...] = ()

    def find(self, keyset_id_: str) -> LiveKeySet | None:
        return self._by_id.get(keyset_id_.upper())  # ids are treated as case-insensitive

    @functools.cached_property
    def _by_id(self) -> dict[str, LiveKeySet]:
        return _first_by_id(self.keysets)


def _first_by_id(keysets) -> dict:
    index: dict = {}
    for keyset in keysets:
        index.setdefault(keyset.id.upper(), keyset)
    return index


def by_keyset(references: Iterable[PolicyReference]) -> dict[str, list[PolicyReference]]:
    """References grouped by upper-case key set id, in file order."""
    grouped: dict[str, list[PolicyReference]] = {}
    for ref in references:
        grouped.setdefault(ref.keyset_id.upper(), []).append(ref)
    return grouped
