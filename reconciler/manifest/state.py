"""The desired state as every command needs it: manifests, certificate facts and
policy references, with every error and warning as a located `Diagnostic`.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from ..core.diagnostics import Diagnostic, Severity
from ..core.errors import ManifestError
from ..core.model import DesiredState
from .certificates import with_certificate_facts
from .confine import SECRETS_ROOT_VARIABLE
from .environments import Scope
from .policies import scan_policies, undeclared
from .reader import load_manifests


def load_state(
    paths: Sequence[str], environ: Mapping[str, str], *, policies: Sequence[str] = (), validating: bool = False,
    scope: Scope | None = None,
) -> tuple[DesiredState, list[Diagnostic]]:
    """The desired state and its warnings; ManifestError with every error.

    `validating` (the offline `validate`): a PKCS#12 file or password that is not
    available is a warning, and a policy reference to an undeclared key set an error.
    `{file: PATH}` references must stay inside B2CKEYS_SECRETS_ROOT when `environ` sets
    it, else inside each manifest's repository (`reconciler.manifest.confine`).
    Otherwise (plan, apply, drift) the first is an error, before any call to Graph,
    and the second a warning (plan keeps such key sets from being deleted).
    `scope`: the environment (`environments`) to load the manifests for, if there is one.
    """
    result = load_manifests(paths, secrets_root=environ.get(SECRETS_ROOT_VARIABLE), scope=scope)
    state, diagnostics = with_certificate_facts(result.state, environ, strict=not validating)
    diagnostics = list(result.warnings) + diagnostics
    if policies:
        references, notes = scan_policies(policies)
        state = dataclasses.replace(state, references=references)
        diagnostics += notes + undeclared(state, Severity.ERROR if validating else Severity.WARNING)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:  # the warnings too: they may say why
        raise ManifestError(errors + [d for d in diagnostics if d.severity is not Severity.ERROR])
    return state, diagnostics
