"""`b2ckeys demo`: the whole cycle against the built-in emulator, in seconds.

Starts the emulator in this process, points a private copy of the environment
at it, and runs validate, plan, apply, plan again and drift on the starter pack. The
Facebook secret is taken from FACEBOOK_APP_SECRET if set, else made up; it is
never printed.
"""

from __future__ import annotations

import os
import secrets as _random
import time

from ..core.shipped import shipped_file
from ..emulator import Emulator
from .main import main

STARTER_PACK = "starter-pack.yaml"


def starter_pack_path() -> str:
    """examples/starter-pack.yaml, relative when run from the clone's top folder (as the
    demo prints it), else the clone's or the installed copy's full path."""
    found = str(shipped_file("examples", STARTER_PACK))
    in_clone = os.path.join("examples", STARTER_PACK)
    if os.path.isfile(in_clone) and os.path.samefile(in_clone, found):
        return in_clone
    return found


def run(args, ctx) -> int:
    return run_demo(ctx, main)


def run_demo(ctx, main) -> int:
    started = time.monotonic()
    manifest = starter_pack_path()
    with Emulator() as emulator:
        env = {k: v for k, v in ctx.environ.items() if not k.startswith(("AZURE_", "B2CKEYS_"))}
        env.update(emulator.env)
        env.setdefault("FACEBOOK_APP_SECRET", "demo-" + _random.token_urlsafe(24))
        ctx.out(
            f"b2ckeys demo: a local Graph emulator is serving at {emulator.url} "
            f"(tenant {emulator.tenant_domain}); FACEBOOK_APP_SECRET is set for it.\n"
        )
        steps = (
            ["validate", manifest],
            ["plan", manifest],
            ["apply", "--auto-approve", manifest],
            ["plan", "--detailed-exitcode", manifest],
            ["drift", manifest],
        )
        for argv in steps:
            ctx.out(f"$ b2ckeys {' '.join(argv)}")
            code = main(argv, environ=env)
            ctx.out("")
            if code != 0:
                ctx.err(f"demo: 'b2ckeys {' '.join(argv)}' exited {code}; the demo stops here")
                return 1
    ctx.out(
        f"Demo complete in {time.monotonic() - started:.1f} s: the second plan and drift found nothing to do.\n"
        "Next: run 'b2ckeys emulator --env-file emulator.env' in one shell; in another, "
        "'set -a; . ./emulator.env; set +a' and try 'b2ckeys plan manifests/'."
    )
    return 0
