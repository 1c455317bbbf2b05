"""`b2ckeys probe`'s report: as text for people, and as the JSON data `--out` writes and
`b2ckeys emulator --readings-from FILE` reads (`version` 1: `readings`, the names of the
readings that differ from the emulator's defaults; the rest are facts for people).
Pure: the report in, a string or a JSON-safe dict out; it never holds a secret.
"""

from __future__ import annotations

from ..core import probe as q
from ..core.diagnostics import printable
from ..core.probe import Finding, ProbeReport
from .text import Style

FORMAT_VERSION = 1

LABELS = {
    q.PREFIX: "prefix",
    q.DUPLICATE: "duplicate create",
    q.NOT_FOUND: "missing key set",
    q.ACTIVE_NONE: "getActiveKey, none valid",
    q.ACTIVE_KID: "getActiveKey's kid",
    q.DATES: "dates filled in",
    q.LIST_SHAPE: "list shape",
    q.PAGE_SIZE: "page size",
    q.NEXT_LINK: "next link",
    q.READ_LAG: "read-after-write lag",
    q.BACKUP: ".bak on delete",
}
_WIDTH = max(len(label) for label in LABELS.values())


def _verdict(finding: Finding, style: Style) -> str:
    if not finding.determined:
        return style.yellow("not determined")
    return style.bold(printable(finding.reading)) if finding.reading else "default"


def render_probe(report: ProbeReport, *, color: bool = False) -> str:
    style = Style(color)
    lines = [printable(f"Probe of tenant {report.tenant} at {report.started}: {report.requests} Graph requests in "
                       f"{report.seconds:.1f} s, with the throw-away key set {report.keyset}."), ""]
    verdicts = [_verdict(f, Style(False)) for f in report.findings]
    width = max(len(v) for v in verdicts)
    for finding, plain in zip(report.findings, verdicts):
        shown = _verdict(finding, style) + " " * (width - len(plain))
        lines.append(f"  {printable(LABELS.get(finding.question, finding.question)):<{_WIDTH}}  {shown}  "
                     f"{printable(finding.observed)}")
    lines.append("")
    if report.readings:
        lines.append("Readings that differ from the emulator's defaults: " + printable(", ".join(report.readings)))
    else:
        lines.append("No reading differs from the emulator's defaults (of the questions determined).")
    if report.undetermined:
        lines.append("Not determined: " + printable(", ".join(LABELS.get(f.question, f.question)
                                                              for f in report.undetermined)) + ".")
    if report.deleted:
        lines.append("Deleted again: " + printable(", ".join(report.deleted)) + ".")
    if report.left:
        lines.append(style.red("Left in the tenant (delete by hand): " + printable("; ".join(report.left))))
    return "\n".join(lines)


def probe_data(report: ProbeReport) -> dict:
    """The `--out` file's content."""
    return {
        "version": FORMAT_VERSION,
        "readings": list(report.readings),
        "tenant": report.tenant,
        "probed_at": report.started,
        "seconds": report.seconds,
        "requests": report.requests,
        "keyset": report.keyset,
        "questions": {f.question: {
            "determined": f.determined,
            "reading": f.reading,
            "observed": f.observed,
            "facts": {name: _json_safe(value) for name, value in f.facts},
        } for f in report.findings},
        "undetermined": [f.question for f in report.undetermined],
        "deleted": list(report.deleted),
        "left": list(report.left),
        "failure": report.failure,
    }


def _json_safe(value):
    return [_json_safe(v) for v in value] if isinstance(value, tuple) else value
