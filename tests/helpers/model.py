"""Model objects for the pure tables (planner, drift, renderers): desired keys (`gen`, `sec`)
and key sets (`desired`), live keys (`live`, `key`) and key sets (`tenant`), at a fixed `NOW`."""

from reconciler.core.diagnostics import Location
from reconciler.core.model import (
    DesiredKey,
    DesiredKeySet,
    DesiredState,
    KeyKind,
    KeyType,
    KeyUse,
    LiveKey,
    LiveKeySet,
    LiveState,
    SecretRef,
)

NOW = 1_800_000_000
DAY = 86_400
LOC = Location("m.yaml", 1, 1)


def gen(kty="RSA", use="sig", nbf=None, exp=None):
    return DesiredKey(KeyKind.GENERATE, KeyType(kty), KeyUse(use), nbf, exp, location=LOC)


def sec(use="sig", nbf=None, exp=None, env="S"):
    return DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse(use), nbf, exp, SecretRef("env", env, LOC), location=LOC)


def live(kid, kty="RSA", use="sig", nbf=None, exp=None):
    return LiveKey(kid, KeyType(kty), KeyUse(use), nbf, exp)


def key(kid, nbf=None, exp=None, status=None, kty="oct", use="sig"):
    """A live key with a status (the active-key rule's input); an oct signing key by default."""
    return LiveKey(kid, KeyType(kty), KeyUse(use), nbf, exp, status)


def desired(**keysets):
    return DesiredState(tuple(DesiredKeySet(name, tuple(keys), LOC) for name, keys in keysets.items()))


def tenant(**keysets):
    return LiveState(tuple(LiveKeySet("B2C_1A_" + name, tuple(keys)) for name, keys in keysets.items()))
