"""Text rendering, checked against reviewed golden files.

Regenerate on purpose with:  UPDATE_GOLDEN=1 pytest tests/test_render.py
then read the diff before committing it.
"""

from helpers.golden import check_golden, starter_plan
from helpers.model import DAY, NOW, desired, gen, sec, tenant
from reconciler.core.changes import Plan
from reconciler.core.report import ApplyReport, Outcome, Status
from reconciler.plan.planner import plan
from reconciler.render.text import render_outcome, render_plan_text, render_report


def test_plan_with_changes_unmanaged_and_note():
    check_golden("plan_changes.txt", render_plan_text(starter_plan()))


def test_plan_without_changes():
    check_golden("plan_no_changes.txt", render_plan_text(Plan()))


def test_plan_with_warning():
    p = plan(desired(Fb=[sec(nbf=NOW - 2 * DAY, exp=NOW - DAY)]), tenant(Fb=[]), NOW)
    check_golden("plan_expired_warning.txt", render_plan_text(p))


def test_failed_apply_report():
    changes = starter_plan().changes
    report = ApplyReport(
        (Outcome(changes[0], Status.DONE), Outcome(changes[1], Status.DONE, "kid abc"),
         Outcome(changes[2], Status.FAILED, "POST /trustFramework/keySets/B2C_1A_X/uploadSecret: HTTP 400 AADB2C90063: There is a problem with the service. (request-id r-1)"))
        + tuple(Outcome(c, Status.NOT_ATTEMPTED) for c in changes[3:])
    )
    lines = [render_outcome(o) for o in report.outcomes[:3]]
    check_golden("apply_failed.txt", "\n".join(lines) + "\n\n" + render_report(report))


def test_colour_only_when_asked():
    p = starter_plan()
    assert "\033[" not in render_plan_text(p, color=False)
    coloured = render_plan_text(p, color=True)
    assert "\033[32m+\033[0m" in coloured
    assert "\033[31m!\033[0m" in coloured  # a key present twice is a problem: red
    plain = coloured
    for code in ("\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"):
        plain = plain.replace(code, "")
    assert plain == render_plan_text(p)


def test_summary_counts_and_plurals():
    text = render_plan_text(starter_plan())
    assert text.rstrip().endswith("Plan: 2 key sets to create, 2 keys to add. 1 key is present more than once in the tenant.")
    one = plan(desired(A=[gen()]), tenant(), NOW)
    assert render_plan_text(one).rstrip().endswith("Plan: 1 key set to create, 1 key to add.")


def test_successful_report():
    changes = starter_plan().changes
    report = ApplyReport(tuple(Outcome(c, Status.DONE) for c in changes))
    assert render_report(report) == "Apply complete: 2 key sets created, 2 keys added.\n"
