"""The library face and the steps it runs: `Session` (load → sign in → guards → read live
→ plan → apply), the live state as plans need it (`live`), the applier (`applier`), and
the check of a saved plan (`saved`)."""

from .session import Planned, Session

__all__ = ["Session", "Planned"]
