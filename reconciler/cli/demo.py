"""`b2ckeys demo`: the whole cycle against the built-in emulator, in seconds, for two
environments (dev and prod) whose Facebook secret is in Key Vault.

The starter (`examples/starter/`: `b2ckeys.yaml` and `manifests/`) names two environments,
each a tenant with its own vault. The demo starts one emulator per environment in this
process (a tenant, and its vault on the same TLS port), puts each environment's Facebook
secret in its vault by Key Vault's own Set Secret (`demovault`), then runs validate, a plan
per environment, apply, a new version in one vault and the plan that follows (one key to
add), apply, and drift, each command with a private copy of the environment pointing at that
environment's emulator, as a CI job per environment would. The secret values are
FACEBOOK_APP_SECRET (dev's, if set) or made up; they are never printed.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _random
import time

from ..core.shipped import shipped_file
from ..emulator import Emulator
from ..manifest.environments import load_file
from .demovault import SetSecret, set_secret
from .main import main

STARTER = "starter"
SECRET = "FacebookAppSecret"


def starter_folder() -> str:
    """examples/starter, from the clone or the installed package data."""
    return str(shipped_file("examples", f"{STARTER}/b2ckeys.yaml").parent)


def run(args, ctx) -> int:
    return run_demo(ctx, main)


def run_demo(ctx, main) -> int:
    started = time.monotonic()
    folder = starter_folder()
    environments = load_file(os.path.join(folder, "b2ckeys.yaml"))
    with contextlib.ExitStack() as stack:
        envs, vaults = {}, {}
        for environment in environments:
            vault = dict(environment.variables)["vault"]
            emulator = stack.enter_context(Emulator(tenant_domain=environment.tenant, vaults=[vault]))
            env = {k: v for k, v in ctx.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
            env.update(emulator.env)
            envs[environment.name], vaults[environment.name] = env, vault
            ctx.out(f"b2ckeys demo: environment {environment.name} is tenant {environment.tenant}, served with "
                    f"its Key Vault {vault} by an emulator at {emulator.url}.")
        ctx.out("")
        first, last = environments[0].name, environments[-1].name
        made = {}
        for name, env in envs.items():
            value = ctx.environ.get("FACEBOOK_APP_SECRET") if name == first else None
            made[name] = _put(ctx, env, vaults[name], value or _made_up())
        stack.enter_context(_inside(folder))
        ctx.out(f"\nIn {_shown_folder(folder)} (b2ckeys.yaml and manifests/):\n")
        steps = [(first, ["validate", "manifests/"], 0)]
        steps += [(name, ["plan", "manifests/", "--env", name], 0) for name in envs]
        steps += [(name, ["apply", "--auto-approve", "manifests/", "--env", name], 0) for name in envs]
        if not _run_steps(ctx, main, envs, steps):
            return 1
        ctx.out(f"A new version of {SECRET} in Key Vault {vaults[last]} (the secret rotated, as a team's "
                "own tooling does it): the next plan for that environment adds exactly one key.\n")
        _after(made[last].created)
        _put(ctx, envs[last], vaults[last], _made_up())
        ctx.out("")
        steps = [(last, ["plan", "--detailed-exitcode", "manifests/", "--env", last], 2),
                 (last, ["apply", "--auto-approve", "manifests/", "--env", last], 0)]
        steps += [(name, ["drift", "manifests/", "--env", name], 0) for name in envs]
        if not _run_steps(ctx, main, envs, steps):
            return 1
    ctx.out(
        f"Demo complete in {time.monotonic() - started:.1f} s: a plan per environment, each tenant's secret from "
        "its own vault, a new vault version became one new key, and drift found nothing.\n"
        "Next: run 'b2ckeys emulator --env-file emulator.env' in one shell; in another, "
        "'set -a; . ./emulator.env; set +a' and try 'b2ckeys plan manifests/'."
    )
    return 0


def _run_steps(ctx, main, envs, steps) -> bool:
    for name, argv, expected in steps:
        ctx.out(f"$ b2ckeys {' '.join(argv)}")
        code = main(argv, environ=envs[name])
        ctx.out("")
        if code != expected:
            ctx.err(f"demo: 'b2ckeys {' '.join(argv)}' exited {code}, not {expected}; the demo stops here")
            return False
    return True


def _put(ctx, env: dict[str, str], vault: str, value: str) -> SetSecret:
    made = set_secret(env, vault, SECRET, value)
    ctx.out(f"Key Vault Set Secret: PUT {env['B2CKEYS_KEYVAULT_URL'].format(name=vault)}/secrets/{SECRET}"
            f" -> version {made.version} (the value is not shown)")
    return made


def _made_up() -> str:
    return "demo-" + _random.token_urlsafe(24)


def _after(created: int) -> None:
    """Wait for the next second: Key Vault's dates are whole seconds, and a new version is
    a new key because its creation time (its nbf) is later."""
    time.sleep(max(0.0, created + 1.05 - time.time()))


@contextlib.contextmanager
def _inside(folder: str):
    """Run the commands in the starter's folder, where b2ckeys.yaml is found; back afterwards."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _shown_folder(folder: str) -> str:
    """examples/starter when run from the clone's top folder, else the full path."""
    relative = os.path.join("examples", STARTER)
    return relative if os.path.isdir(relative) and os.path.samefile(relative, folder) else folder
