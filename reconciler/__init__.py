"""b2ckeys: declarative management of Azure AD B2C policy keys.

The library face is `Session` (load → sign in → guards → read live → plan → apply);
the plan and report types come with it. Names are imported on first use, so that
`b2ckeys --help` (which imports this package) stays fast.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "Session": "reconciler.session.session",
    "Planned": "reconciler.session.session",
    "Plan": "reconciler.core.changes",
    "Change": "reconciler.core.changes",
    "Action": "reconciler.core.changes",
    "ApplyReport": "reconciler.core.report",
    "DriftReport": "reconciler.plan.drift",
    "Diagnostic": "reconciler.core.diagnostics",
    "ReconcilerError": "reconciler.core.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib  # lazily: see the module docstring

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
