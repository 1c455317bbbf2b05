"""The library face: `reconciler.Session` plans and applies against the emulator as the
README shows, returns data, and prints nothing."""

import pytest

from helpers.cli import STARTER, writes
from reconciler import Action, ReconcilerError, Session
from reconciler.core.diagnostics import Severity

SECRET = "session-canary-4b1d"


@pytest.fixture
def environ(emu):
    return {**emu.env, "FACEBOOK_APP_SECRET": SECRET}


def test_plan_then_apply_returns_data_and_prints_nothing(emu, environ, capsys):
    session = Session(environ)
    planned = session.plan([STARTER])
    assert [c.action for c in planned.plan.changes].count(Action.CREATE_KEYSET) == 3
    assert planned.plan.keys_to_add == 3
    report = session.apply(planned)
    assert report.ok and len(report.outcomes) == 6
    assert session.plan([STARTER]).plan.is_empty
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    assert SECRET not in repr(planned) + repr(report)


def test_warnings_reach_the_callback_and_the_session(emu, environ, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("version: 1\nkeySets:\n  - name: Old\n    keys:\n      - kind: generate\n"
                        "        kty: RSA\n        use: sig\n        exp: 2001-01-01T00:00:00Z\n")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.xml").write_text('<TrustFrameworkPolicy><Key StorageReferenceId="B2C_1A_Nowhere" />'
                                    '</TrustFrameworkPolicy>')
    heard = []
    session = Session(environ, on_diagnostics=heard.extend)
    planned = session.plan([str(manifest)], policies=[str(policies)])
    assert heard and heard == session.diagnostics  # found while loading: told at once
    assert all(d.severity is Severity.WARNING for d in heard)
    assert any("B2C_1A_Nowhere" in d.message for d in heard)
    assert any("expired" in d.message for d in planned.plan.warnings)  # the plan's own: part of the plan


def test_errors_are_raised_with_their_location_not_printed(emu, environ, tmp_path, capsys):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("version: 1\nkeySets:\n  - name: X\n    keys:\n      - kind: nope\n")
    with pytest.raises(ReconcilerError) as caught:
        Session(environ).plan([str(manifest)])
    assert f"{manifest}:5:" in "\n".join(caught.value.lines())
    assert capsys.readouterr().err == ""


def test_apply_after_plan_checks_secrets_and_the_write_permission_before_any_write(emu, environ):
    session = Session({k: v for k, v in environ.items() if k != "FACEBOOK_APP_SECRET"})
    planned = session.plan([STARTER])
    with pytest.raises(ReconcilerError) as caught:
        session.apply(planned)
    assert "FACEBOOK_APP_SECRET" in "\n".join(caught.value.lines())
    assert writes(emu) == []

    emu.config.update({"roles": ["TrustFrameworkKeySet.Read.All"]})  # a read-only app can plan, not apply
    session = Session(environ)
    planned = session.plan([STARTER])
    with pytest.raises(ReconcilerError) as caught:
        session.apply(planned)
    assert "TrustFrameworkKeySet.ReadWrite.All" in "\n".join(caught.value.lines())
    assert writes(emu) == []
