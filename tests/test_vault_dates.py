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


def test_an_earlier_enabled_version_whose_key_is_live_stays_managed_and_is_never_uploaded():
    from reconciler.core.model import LiveKey, LiveKeySet, LiveState
    from reconciler.manifest.vaultrefs import with_earlier_versions

    versions = [VaultVersion("v1", True, created=1_000, exp=5_000), VaultVersion("v0", False, created=500),
                VaultVersion("v2", True, created=2_000, exp=9_000), VaultVersion("v3", True, created=3_000)]
    ref = vault_ref({"vault": "kv-dev", "secret": "facebook"}, AT)
    state = with_vault_facts(state_of(secret_key(ref)), lambda r: versions[3], no_certificate)
    live = LiveState((LiveKeySet("B2C_1A_Fb", (LiveKey("k1", KeyType.OCT, KeyUse.SIG, 1_000, 5_000),
                                               LiveKey("k0", KeyType.OCT, KeyUse.SIG, 500, None))),))
    keys = with_earlier_versions(state, live, lambda r: versions).keysets[0].keys
    # v3 (the latest), and v1 whose key is live; not v2 (not live: never uploaded now), nor v0 (disabled)
    assert [(k.secret.version, k.nbf, k.exp) for k in keys] == [("v3", 3_000, None), ("v1", 1_000, 5_000)]
    pinned = vault_ref({"vault": "kv-dev", "secret": "facebook", "version": "v3"}, AT)
    state = with_vault_facts(state_of(secret_key(pinned)), lambda r: versions[3], no_certificate)
    assert len(with_earlier_versions(state, live, lambda r: versions).keysets[0].keys) == 1  # pinned: that one only
