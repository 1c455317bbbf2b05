"""Dates a vault key takes from its version, without a server (`manifest.vaultrefs`)."""

import pytest

from reconciler.core.diagnostics import Location
from reconciler.core.model import (CertificateVersion, DesiredKey, DesiredKeySet, DesiredState, KeyKind, KeyType,
                                   KeyUse, SecretRef, VaultVersion)
from reconciler.manifest.vaultrefs import vault_ref, with_vault_facts

AT = Location("keys.yaml", 7, 16)


def state_of(key):
    return DesiredState((DesiredKeySet("Fb", (key,)),))


def secret_key(ref, nbf=None, exp=None):
    return DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, nbf, exp, ref)


def no_certificate(ref):
    raise AssertionError("no certificate is asked for")


@pytest.mark.parametrize("found, dates", [
    (VaultVersion("v2", True, created=1_000, nbf=2_000, exp=9_000), (2_000, 9_000)),
    (VaultVersion("v2", True, created=1_000, exp=9_000), (1_000, 9_000)),  # no nbf: its creation time
    (VaultVersion("v2", True, created=1_000), (1_000, None)),
    (VaultVersion("v2", True, created=1_000, nbf=9_000, exp=5_000), (None, 5_000)),  # exp before nbf: B2C sets nbf
])
def test_a_vault_key_takes_the_version_s_dates_and_records_the_version(found, dates):
    ref = vault_ref({"vault": "kv-dev", "secret": "facebook"}, AT)
    (key,) = with_vault_facts(state_of(secret_key(ref)), lambda r: found, no_certificate).keysets[0].keys
    assert (key.nbf, key.exp) == dates
    assert key.secret.version == "v2" and not key.secret.pinned and key.secret.location == AT


def test_dates_written_in_the_manifest_win():
    ref = vault_ref({"vault": "kv-dev", "secret": "facebook", "version": "v1"}, AT)
    found = VaultVersion("v1", True, created=1_000, nbf=2_000, exp=9_000)
    (key,) = with_vault_facts(state_of(secret_key(ref, 5, 6)), lambda r: found, no_certificate).keysets[0].keys
    assert (key.nbf, key.exp, key.secret.pinned) == (5, 6, True)


def test_a_vault_certificate_takes_its_thumbprint_and_validity():
    ref = vault_ref({"vault": "kv-dev", "certificate": "saml"}, AT)
    key = DesiredKey(KeyKind.PKCS12, KeyType.RSA, KeyUse.SIG, file=ref)
    found = CertificateVersion("c1", "x5t-of-it", 100, 200)
    (key,) = with_vault_facts(state_of(key), lambda r: pytest.fail("no secret"), lambda r: found).keysets[0].keys
    assert (key.x5t, key.nbf, key.exp, key.file.version) == ("x5t-of-it", 100, 200, "c1")


def test_a_state_without_vault_references_is_returned_as_it_is():
    state = state_of(secret_key(SecretRef("env", "FB", AT)))
    assert with_vault_facts(state, pytest.fail, pytest.fail) == state
