"""A plan file's data read back into a `Plan` (`reconciler.plan.restore`) renders exactly as the
plan it was written from, for every part a plan has: changes with reasons, active keys, unmanaged
key sets and keys with notes, keys present twice, warnings, notes, a plan needing --allow-destroy."""

import json

import pytest

from helpers.model import DAY, LOC, NOW, desired, gen, live, sec, tenant
from reconciler.core.errors import ConfigError
from reconciler.core.model import DesiredKeySet, DesiredState
from reconciler.plan import planfile
from reconciler.plan.data import plan_data
from reconciler.plan.planner import plan
from reconciler.plan.restore import saved_plan
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_plan_text

X = NOW + 30 * DAY


def pruned(**keysets):
    return DesiredState(tuple(DesiredKeySet(n, tuple(k), LOC) for n, k in keysets.items()), prune=True)


PLANS = {
    "creates and active keys": (desired(A=[gen()], B=[sec(exp=X)]), tenant()),
    "duplicates": (desired(Sign=[gen()]), tenant(Sign=[live("a", nbf=X), live("b", nbf=X)])),
    "unmanaged": (desired(A=[gen()]), tenant(A=[live("a")], Other=[live("o", kty="oct", use="enc", exp=X)])),
    "unsafe prune": (pruned(**{f"K{i}": [gen()] for i in range(5)}),
                     tenant(**{f"K{i}": [live(f"k{i}")] for i in range(10)})),
    "no changes": (desired(A=[gen()]), tenant(A=[live("a")])),
}


@pytest.mark.parametrize("name", PLANS)
def test_a_saved_plan_renders_as_the_plan_it_was_written_from(name):
    state, current = PLANS[name]
    original = plan(state, current, NOW)
    data = json.loads(json.dumps(planfile.build(original, state, ["manifests"], NOW, folder="/repo")))
    restored = saved_plan("p.json", data)
    assert plan_data(restored) == plan_data(original)
    assert render_plan_text(restored) == render_plan_text(original)
    assert render_plan_text(restored, color=True) == render_plan_text(original, color=True)
    assert render_plan_markdown(restored) == render_plan_markdown(original)
    assert bool(restored.unsafe) is bool(original.unsafe)


def test_the_plans_cover_every_part():
    plans = [plan(s, c, NOW) for s, c in PLANS.values()]
    assert all(any(getattr(p, part) for p in plans)
               for part in ("changes", "unmanaged", "warnings", "notes", "active", "unsafe", "duplicates"))


def test_an_edited_file_is_refused_naming_it():
    state, current = PLANS["unmanaged"]
    data = planfile.build(plan(state, current, NOW), state, ["manifests"], NOW)
    data["plan"]["unmanaged"][0]["note"] = "edited"
    with pytest.raises(ConfigError, match=r"^p\.json: the plan file was changed after b2ckeys wrote it"):
        saved_plan("p.json", data)
    del data["digest"]  # without the digest, a consistent edit reads back: the limit of an unsigned file
    assert saved_plan("p.json", data).unmanaged[0].note == "edited"
    data["plan"]["summary"]["unmanaged"] = 5  # an inconsistent one does not
    with pytest.raises(ConfigError, match="does not read back as it was written"):
        saved_plan("p.json", data)
