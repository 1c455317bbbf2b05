"""JSON and Markdown plans, and drift reports in all three formats, against reviewed
golden files built from fixed model objects and a fixed `now`.

Regenerate on purpose with:  UPDATE_GOLDEN=1 pytest tests/test_render_gitops.py
then read the diff before committing it.
"""

import json
import re

from helpers.golden import check_golden, starter_plan
from helpers.model import DAY, NOW, desired, gen, key, live, sec, tenant
from reconciler.core.changes import Action, Change, Plan, Unmanaged
from reconciler.core.diagnostics import Diagnostic, Location, Severity
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse, LiveKey, SecretRef
from reconciler.plan.data import FORMAT_VERSION, drift_data, dumps, plan_data
from reconciler.plan.drift import drift
from reconciler.plan.planner import plan
from reconciler.render.drift_text import render_drift_text
from reconciler.render.markdown import code, render_drift_markdown, render_plan_markdown, text


def sample_drift():
    return drift(
        desired(
            A=[gen()],
            Fb=[sec(env="FACEBOOK_APP_SECRET", nbf=NOW - 10 * DAY, exp=NOW + 10 * DAY),
                sec(env="OLD_FB", nbf=NOW - 20 * DAY, exp=NOW - 12 * DAY)],
        ),
        tenant(
            Fb=[live("fb1", "oct", nbf=NOW - 10 * DAY, exp=NOW + 10 * DAY)],
            Legacy=[key("old", exp=NOW - DAY)],
            Soon=[key("s1", nbf=NOW + 3 * DAY)],
        ),
        NOW,
    )


def test_plan_json():
    check_golden("plan_changes.json", dumps(plan_data(starter_plan())))


def test_plan_markdown():
    check_golden("plan_changes.md", render_plan_markdown(starter_plan()))


def test_empty_plan_markdown():
    check_golden("plan_no_changes.md", render_plan_markdown(Plan()))


def test_drift_text():
    check_golden("drift.txt", render_drift_text(sample_drift()))


def test_drift_json():
    check_golden("drift.json", dumps(drift_data(sample_drift())))


def test_drift_markdown():
    check_golden("drift.md", render_drift_markdown(sample_drift()))


def test_clean_drift_text():
    clean = drift(desired(A=[gen()]), tenant(A=[live("k")]), NOW)
    check_golden("drift_clean.txt", render_drift_text(clean))


def test_json_is_versioned_and_round_trips():
    data = json.loads(dumps(plan_data(starter_plan())))
    assert data["format_version"] == FORMAT_VERSION == 1
    assert data["summary"] == {"keySetsToCreate": 2, "keysToAdd": 2, "keysToDisable": 0, "keySetsToDelete": 0,
                               "unmanaged": 1, "duplicates": 1, "empty": False, "needsAllowDestroy": False}
    upload = next(c for c in data["changes"] if c["action"] == "upload_secret")
    assert upload["key"]["secret"] == {"env": "FACEBOOK_APP_SECRET"}
    assert upload["key"]["nbf"] == "2027-01-15T08:00:00Z"
    report = json.loads(dumps(drift_data(sample_drift())))
    assert report["exitCode"] == 14 and report["format_version"] == 1


HOSTILE = "B2C_1A_x|y<script>alert(1)</script>`*_[a](b)"


def hostile_plan():
    where = Location("manifests/a|b<i>.yaml", 3, 5)
    ref = SecretRef("file", "s|`</pre><img src=x onerror=alert(1)>.txt", where)
    k = DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.SIG, NOW, None, ref, where)
    return Plan(
        changes=(Change(Action.CREATE_KEYSET, HOSTILE, location=where), Change(Action.UPLOAD_SECRET, HOSTILE, k, where)),
        unmanaged=(Unmanaged(HOSTILE), Unmanaged(HOSTILE, "kid|<b>", LiveKey("kid|<b>", KeyType.OCT, KeyUse.SIG))),
        warnings=(Diagnostic(Severity.WARNING, "bad </details> | <script>x</script>", where),),
    )


def test_markdown_cannot_be_broken_out_of():
    md = render_plan_markdown(hostile_plan())
    # no live HTML from the input: every < that is not ours is escaped
    ours = {"<details>", "</details>", "<summary>", "</summary>", "<pre>", "</pre>"}
    outside_code = re.sub(r"`[^`\n]*`", "", md.replace("\\`", ""))  # an escaped ` opens no span
    assert {m for m in re.findall(r"</?[a-z][^>]*>", outside_code)} <= ours
    assert md.count("<pre>") == 1 and md.count("</pre>") == 1 and md.count("</details>") == 1
    # every table row keeps its five cells: a | from the input is escaped
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(rows) == 3
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row


def test_escaping_helpers():
    assert text("a<b>&c|*d*_e_") == "a&lt;b&gt;&amp;c\\|\\*d\\*\\_e\\_"  # `_e_` would be emphasis
    assert text("B2C_1A_X") == "B2C_1A_X"  # an underscore inside a word emphasises nothing
    assert code("B2C_1A_X") == "`B2C_1A_X`"
    assert code("a|b", table=True) == "`a\\|b`"
    assert code("a`b") == "a\\`b"  # no code span can hold it: plain escaped text
    assert code("two\nlines") == "`two\\nlines`"  # a line break shown escaped, as in the text plan
    assert text("a\u202eb\x1b[31m") == "a\\\\u202eb\\\\x1b\\[31m"  # escaped, then Markdown's escaping


def lifecycle_plan():
    """Every kind of change: certificate and PKCS#12 uploads, a rotation successor, a disable,
    deletes (too many: needs --allow-destroy), protected and policy-referenced key sets kept."""
    import dataclasses

    from reconciler.core.model import PolicyReference, Rotation

    where = Location("m.yaml", 7, 9)
    cert = DesiredKey(KeyKind.CERTIFICATE, KeyType.RSA, KeyUse.SIG, NOW - DAY, NOW + 365 * DAY, None, where,
                      file=SecretRef("file", "certs/saml.cer", where), x5t="1K1u7qigXtdOuBklqLQ_VWZACrU")
    pfx = dataclasses.replace(cert, kind=KeyKind.PKCS12, secret=SecretRef("env", "IDP_PFX_PASSWORD", where),
                              file=SecretRef("file", "certs/idp.pfx", where), x5t="xP9rkHLVlnx0Ujj9mKUrb-TlU7Y")
    rot = DesiredKey(KeyKind.GENERATE, KeyType.RSA, KeyUse.SIG, location=where, rotate=Rotation(180 * DAY, 30 * DAY))
    state = desired(Saml=[cert], Idp=[pfx], TokenSigningKeyContainer=[rot], Fb=[sec(env="FB_SECRET")])
    sets = [dataclasses.replace(ks, disable_unmanaged=ks.name == "TokenSigningKeyContainer") for ks in state.keysets]
    state = dataclasses.replace(state, keysets=tuple(sets), prune=True, protected=("B2C_1A_Keep",), references=(
        PolicyReference("B2C_1A_FacebookSecret", Location("policies/Base.xml", 576, 57)),))
    return plan(state, tenant(
        TokenSigningKeyContainer=[live("sig1", nbf=NOW - 160 * DAY, exp=NOW + 20 * DAY), live("stray")],
        Saml=[], Keep=[], FacebookSecret=[], **{f"Old{i}": [] for i in range(6)}, **{"Old0.bak": []}), NOW)


def test_lifecycle_plan_text():
    from reconciler.render.text import render_plan_text

    check_golden("plan_lifecycle.txt", render_plan_text(lifecycle_plan()))


def test_lifecycle_plan_json():
    check_golden("plan_lifecycle.json", dumps(plan_data(lifecycle_plan())))


def test_lifecycle_plan_markdown():
    check_golden("plan_lifecycle.md", render_plan_markdown(lifecycle_plan()))


def test_every_action_round_trips_through_a_plan_file(tmp_path):
    from reconciler.plan import planfile

    p = lifecycle_plan()
    assert {c.action for c in p.changes} == set(Action)
    data = json.loads(dumps({"plan": plan_data(p)}))
    assert planfile.changes(data) == p.changes
    assert [c.location for c in planfile.changes(data)] == [c.location for c in p.changes]
