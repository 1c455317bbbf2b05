"""The planner as tables: desired + live + now -> the changes, unmanaged and warnings."""

import pytest

from helpers.model import DAY, LOC, NOW, desired, gen, live, sec, tenant
from reconciler.core.changes import Action
from reconciler.core.model import KeyType, KeyUse, LiveKey, LiveKeySet, LiveState
from reconciler.plan.planner import SECRETS_NOT_COMPARED, plan


def summary(p):
    return [(c.action, c.keyset_id, c.key.nbf if c.key else None) for c in p.changes]


CASES = {
    "empty tenant: create then add": (
        desired(Sign=[gen()], Fb=[sec()]),
        tenant(),
        [
            (Action.CREATE_KEYSET, "B2C_1A_Fb", None),
            (Action.CREATE_KEYSET, "B2C_1A_Sign", None),
            (Action.UPLOAD_SECRET, "B2C_1A_Fb", None),
            (Action.GENERATE_KEY, "B2C_1A_Sign", None),
        ],
    ),
    "all present: no changes": (
        desired(Sign=[gen()], Fb=[sec(nbf=NOW - DAY, exp=NOW + DAY)]),
        tenant(Sign=[live("k1")], Fb=[live("k2", "oct", nbf=NOW - DAY, exp=NOW + DAY)]),
        [],
    ),
    "present key set, missing key: only the key": (
        desired(Sign=[gen()]),
        tenant(Sign=[]),
        [(Action.GENERATE_KEY, "B2C_1A_Sign", None)],
    ),
    "a date left out matches any date the service gave the key": (
        desired(Fb=[sec()], Sign=[gen(nbf=NOW - DAY)]),
        tenant(Fb=[live("k", "oct", nbf=NOW - 9, exp=NOW + DAY)], Sign=[live("s", nbf=NOW - DAY, exp=NOW + DAY)]),
        [],
    ),
    "a date given must be the live key's": (
        desired(Fb=[sec(exp=NOW + DAY)]),
        tenant(Fb=[live("k", "oct", exp=NOW + 2 * DAY), live("none", "oct")]),
        [(Action.UPLOAD_SECRET, "B2C_1A_Fb", None)],
    ),
    "use must match": (
        desired(Sign=[gen(use="enc")]),
        tenant(Sign=[live("k", use="sig")]),
        [(Action.GENERATE_KEY, "B2C_1A_Sign", None)],
    ),
    "keys added in ascending nbf, no nbf first": (
        desired(Fb=[sec(nbf=NOW + 2 * DAY), sec(), sec(nbf=NOW + DAY)]),
        tenant(Fb=[]),
        [
            (Action.UPLOAD_SECRET, "B2C_1A_Fb", None),
            (Action.UPLOAD_SECRET, "B2C_1A_Fb", NOW + DAY),
            (Action.UPLOAD_SECRET, "B2C_1A_Fb", NOW + 2 * DAY),
        ],
    ),
    "one live key matches one desired key only": (
        desired(Fb=[sec(env="A"), sec(env="B")]),
        tenant(Fb=[live("k", "oct")]),
        [(Action.UPLOAD_SECRET, "B2C_1A_Fb", None)],
    ),
    "expired desired key is skipped": (
        desired(Fb=[sec(nbf=NOW - 2 * DAY, exp=NOW - DAY), sec(nbf=NOW, exp=NOW + DAY)]),
        tenant(Fb=[]),
        [(Action.UPLOAD_SECRET, "B2C_1A_Fb", NOW)],
    ),
    "kty matches case-insensitively via parsing (OCT from Graph)": (
        desired(Fb=[sec()]),
        LiveState((LiveKeySet("B2C_1A_Fb", (LiveKey("k", KeyType.parse("OCT"), KeyUse.SIG),)),)),
        [],
    ),
    "key set ids compare case-insensitively; live id is used": (
        desired(Sign=[gen()]),
        LiveState((LiveKeySet("b2c_1a_sign", ()),)),
        [(Action.GENERATE_KEY, "b2c_1a_sign", None)],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_plan_table(case):
    want_desired, want_live, expected = CASES[case]
    assert summary(plan(want_desired, want_live, NOW)) == expected


def test_unmanaged_key_sets_and_keys_are_reported_not_changed():
    p = plan(
        desired(Sign=[gen(nbf=NOW - DAY)]),
        tenant(Sign=[live("k1", nbf=NOW - DAY), live("extra", nbf=NOW)], Legacy=[live("x")]),
        NOW,
    )
    assert p.changes == () and p.duplicates == ()
    assert [(u.keyset_id, u.kid) for u in p.unmanaged] == [
        ("B2C_1A_Sign", "extra"),
        ("B2C_1A_Legacy", None),
    ]


def test_expired_key_gives_a_located_warning():
    p = plan(desired(Fb=[sec(nbf=NOW - 2 * DAY, exp=NOW - DAY)]), tenant(), NOW)
    assert [c.action for c in p.changes] == [Action.CREATE_KEYSET]
    (warning,) = p.warnings
    assert warning.location == LOC
    assert "expired" in warning.message and "will not be uploaded" in warning.message


def test_secret_note_appears_once_and_only_with_secrets():
    assert plan(desired(A=[sec()], B=[sec(), sec(nbf=NOW)]), tenant(), NOW).notes == (SECRETS_NOT_COMPARED,)
    assert plan(desired(A=[gen()]), tenant(), NOW).notes == ()


def test_plan_is_pure_and_deterministic():
    d, l = desired(B=[gen()], A=[sec()]), tenant(C=[live("k")])
    assert plan(d, l, NOW) == plan(d, l, NOW)


def test_plan_holds_references_not_values():
    p = plan(desired(Fb=[sec(env="FACEBOOK_APP_SECRET")]), tenant(), NOW)
    upload = p.changes[-1]
    assert str(upload.key.secret) == "env:FACEBOOK_APP_SECRET"
