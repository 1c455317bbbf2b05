"""Reviewed golden files for the renderers, and the starter plan most of them render.

Regenerate on purpose with:  UPDATE_GOLDEN=1 pytest tests/test_render.py tests/test_render_gitops.py
then read the diff before committing it.
"""

import os
from pathlib import Path

from reconciler.plan.planner import plan

from .model import DAY, NOW, desired, gen, live, sec, tenant

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs; UPDATE_GOLDEN=1 regenerates it"


def starter_plan():
    return plan(
        desired(
            TokenSigningKeyContainer=[gen()],
            TokenEncryptionKeyContainer=[gen(use="enc")],
            FacebookSecret=[sec(env="FACEBOOK_APP_SECRET", nbf=NOW, exp=NOW + 365 * DAY)],
        ),
        tenant(Legacy=[live("old", "oct")], TokenSigningKeyContainer=[live("k1"), live("stray", exp=NOW)]),
        NOW,
    )
