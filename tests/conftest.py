"""Shared fixtures: one emulator for the whole session, reset before each test that asks;
the environment a command runs with against it. Plain helpers are in `helpers/`."""

import pytest

from helpers.cli import CANARY
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


@pytest.fixture
def hooks(emu):
    """The emulator's pipeline, for a test's own answers; emptied afterwards."""
    yield emu.pipeline
    emu.pipeline.clear()


@pytest.fixture
def env(emu):
    """A clean environment pointing at the (reset) emulator, with the Facebook secret set."""
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
    environ.pop("NO_COLOR", None)
    environ.update(emu.env)
    environ["FACEBOOK_APP_SECRET"] = CANARY
    return environ


@pytest.fixture
def emulator_process(tmp_path):
    """Starts `b2ckeys emulator --env-file F [args]` as its own process, as a shell user would;
    returns the environment it wrote. On teardown it is stopped and must exit 0."""
    import os
    import subprocess
    import sys
    import time

    started = []

    def start(*args: str) -> dict[str, str]:
        env_file = tmp_path / f"emulator-{len(started)}.env"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "emulator", "--env-file", str(env_file), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean,
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while not env_file.exists():
            assert process.poll() is None, "the emulator exited"
            assert time.monotonic() < deadline, "the emulator wrote no env file"
            time.sleep(0.05)
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        env["ENV_FILE"] = str(env_file)
        return env

    yield start
    for process in started:
        process.terminate()
        assert process.wait(timeout=10) == 0
