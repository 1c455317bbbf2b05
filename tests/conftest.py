"""Shared fixtures: one emulator for the whole session, reset before each test that asks."""

import pytest

from reconciler.emulator import Emulator


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No test sees the developer's own tenant settings, managed identity or colour preference."""
    import os

    for name in list(os.environ):
        if name.startswith(("AZURE_", "B2CKEYS_", "MSAL_", "IDENTITY_", "IMDS_", "MSI_")) or name in (
            "NO_COLOR", "FACEBOOK_APP_SECRET"
        ):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def emulator():
    with Emulator() as running:
        yield running


@pytest.fixture
def emu(emulator):
    """The session emulator, emptied: no key sets, no logged requests, start configuration."""
    emulator.reset()
    return emulator
