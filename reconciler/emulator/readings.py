"""Readings: each plausible behaviour of the real service where the sources leave it open,
as a named switch (``b2ckeys emulator --reading NAME``, ``POST /_emulator/config
{"readings": [...]}``, ``Emulator(readings=[...])``).

A reading is a name, what it changes on the wire, why it is plausible (its source), and
the settings (``config.py``) it sets. Two take an argument: ``read-lag=SECONDS`` and
``page-size=N``. The defaults follow the evidence (``ASSUMPTIONS.md``); a reading
switches to the other side of one open question. A set of readings replaces the previous
set: every setting a reading drives goes back to its start value first.

``load_readings_file`` reads the file ``b2ckeys probe --out FILE`` writes:
``{"version": 1, "readings": ["not-found-404", "read-lag=3", ...], ...}`` (other keys
are ignored).
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

FILE_VERSION = 1
MAX_READ_LAG = 3600.0


@dataclass(frozen=True)
class Reading:
    name: str
    argument: Optional[str]                      # "SECONDS", "N", or None (a plain switch)
    meaning: str
    source: str
    settings: tuple[str, ...]                    # the settings it changes (config.Settings)
    apply: Callable[[Any], dict[str, Any]]       # its argument (None for a switch) -> settings

    @property
    def usage(self) -> str:
        return f"{self.name}={self.argument}" if self.argument else self.name


def _switch(**values: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda _: dict(values)


REGISTRY: dict[str, Reading] = {r.name: r for r in (
    Reading("getactivekey-404", None,
            "getActiveKey of a key set with no valid key answers 404 (code AADB2C90019) "
            "instead of 400.",
            "Not documented: trustframeworkkeyset-getactivekey shows only the 200 answer, and "
            "the B2C error-codes page gives AADB2C90019 without its HTTP status.",
            ("no_active_key_status",), _switch(no_active_key_status=404)),
    Reading("getactivekey-no-kid", None,
            "getActiveKey's answer carries no 'kid'; its other fields are as usual.",
            "The example answer of trustframeworkkeyset-getactivekey has no kid (k, x5c, x5t, "
            "kty, use, exp only).",
            ("active_key_kid",), _switch(active_key_kid=False)),
    Reading("list-without-keys", None,
            "The list's items carry only 'id', no 'keys' property at all; GET of one key set "
            "still has its keys.",
            "trustframework-list-keysets shows keys in the list, but whether the service fills "
            "them there is not known; collections that leave out nested data are common in "
            "Graph.",
            ("list_keys",), _switch(list_keys=False)),
    Reading("default-dates", None,
            "A key added by generateKey or uploadSecret without nbf gets nbf = now; without "
            "exp, exp = now + 2 years (730 days); each independently.",
            "nbf and exp are optional in trustframeworkkeyset-generatekey and -uploadsecret; "
            "whether the service fills them in is not documented (policy-keys-overview says "
            "a key without dates is allowed).",
            ("default_dates",), _switch(default_dates=True)),
    Reading("read-lag", "SECONDS",
            "A write becomes visible to reads (list, GET of a key set, getActiveKey, keys_v2 "
            "GETs, $count) only SECONDS after it was made; writes always see the true state.",
            "Azure/azure-saas policy-module.sh waits '10 seconds for key-set to settle' after "
            "a create; the B2C error code AADB2C95052 ('is not created. Please use Create "
            "api') suggests a set may be missing for a while.",
            ("read_lag",), lambda seconds: {"read_lag": seconds}),
    Reading("not-found-404", None,
            "A missing key set (AADB2C90073) is answered 404 instead of 400.",
            "Graph's generic errors page gives 404 for a missing resource; mrochon/IEFPolicies "
            "(IefPolicies.psm1) treats a missing key set as 400, which is the default.",
            ("not_found_status",), _switch(not_found_status=404)),
    Reading("conflict-409", None,
            "Creating a key set that exists (AADB2C95028) is answered 409 instead of 400.",
            "Graph's generic errors page gives 409 for a conflict; mrochon/IEFPolicies "
            "(IefPolicies.psm1, and its report mrochon/IEFPolicies#58) shows the code "
            "AADB2C95028 but not its status.",
            ("conflict_status",), _switch(conflict_status=409)),
    Reading("relative-next-link", None,
            "@odata.nextLink is a relative reference ('keySets?$skiptoken=...', resolved "
            "against the request URL) instead of an absolute URL.",
            "Graph's paging page says to use the nextLink as given; the OData JSON format "
            "(4.01, 'Relative URLs') allows relative URLs in a payload.",
            ("next_link",), _switch(next_link="relative")),
    Reading("prefix-doubled", None,
            "A create whose id already starts with B2C_1A_ gets the prefix again "
            "(B2C_1A_Foo becomes B2C_1A_B2C_1A_Foo).",
            "The older reading of trustframework-post-keysets ('the ID can be modified by the "
            "service'); code run against real tenants shows the prefix kept.",
            ("double_prefix",), _switch(double_prefix=True)),
    Reading("delete-without-bak", None,
            "DELETE leaves no '<id>.bak' copy.",
            "trustframeworkkeyset-delete mentions no backup; the .bak copy is documented for "
            "the portal (policy-keys-overview).",
            ("backup_on_delete",), _switch(backup_on_delete=False)),
    Reading("vault-versions-empty", None,
            "Key Vault: listing the versions of a secret that does not exist answers 200 with "
            "an empty list instead of 404 SecretNotFound.",
            "Key Vault's REST reference (GetSecretVersions) documents only the 200 answer; what "
            "it answers for a missing secret is not documented.",
            ("vault_versions_empty",), _switch(vault_versions_empty=True)),
    Reading("page-size", "N",
            "The list answers N key sets per page (1 to 1000; the same as --page-size).",
            "Graph's paging page: page sizes vary from API to API; not documented for keySets.",
            ("page_size",), lambda n: {"page_size": n}),
)}

DRIVEN: frozenset[str] = frozenset(s for r in REGISTRY.values() for s in r.settings)


def _known() -> str:
    return ", ".join(r.usage for r in REGISTRY.values())


def _argument(reading: Reading, text: str) -> Any:
    if reading.argument == "SECONDS":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= MAX_READ_LAG):
            raise ValueError(f"reading {reading.name}: SECONDS must be a number from 0 to "
                             f"{MAX_READ_LAG:g}, not {text!r}")
        return int(value) if value.is_integer() else value
    if not (text.isdigit() and 1 <= int(text) <= 1000):
        raise ValueError(f"reading {reading.name}: N must be an integer from 1 to 1000, "
                         f"not {text!r}")
    return int(text)


def parse(text: Any) -> tuple[Reading, Any]:
    """``"name"`` or ``"name=value"`` -> (the reading, its argument or None); ValueError
    naming the known readings otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a reading must be a string, not {text!r}")
    name, has_value, value = text.strip().partition("=")
    reading = REGISTRY.get(name.strip().lower())
    if reading is None:
        raise ValueError(f"unknown reading {text!r}; known: {_known()}")
    if bool(reading.argument) != bool(has_value):
        raise ValueError(f"reading {reading.name} " + (
            f"needs a value: {reading.usage}" if reading.argument else "takes no value"))
    return reading, (_argument(reading, value.strip()) if reading.argument else None)


def canonical(texts: Iterable[Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The readings' canonical names (``read-lag=3``) and the settings they make together.
    Naming one reading twice is an error."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, (list, tuple)):
        raise ValueError("readings must be a list of names")
    names: list[str] = []
    settings: dict[str, Any] = {}
    seen: set[str] = set()
    for text in texts:
        reading, value = parse(text)
        if reading.name in seen:
            raise ValueError(f"reading {reading.name} is given twice")
        seen.add(reading.name)
        names.append(f"{reading.name}={value}" if reading.argument else reading.name)
        settings.update(reading.apply(value))
    return tuple(names), settings


def merge_readings(first: Iterable[str], then: Iterable[str]) -> list[str]:
    """``first`` (e.g. a probe's file) with ``then`` (e.g. ``--reading``) on top: a reading
    named in ``then`` replaces the one of the same name in ``first``."""
    later = list(then)
    named = {parse(text)[0].name for text in later}
    return [text for text in first if parse(text)[0].name not in named] + later


def describe() -> str:
    """Every reading, its meaning, source and settings: ``--reading help``."""
    lines = ["Readings (b2ckeys emulator --reading NAME, repeatable; defaults follow the "
             "evidence in reconciler/emulator/ASSUMPTIONS.md):", ""]
    indent = " " * 6
    for reading in REGISTRY.values():
        lines += [f"  {reading.usage}",
                  *textwrap.wrap(reading.meaning, 96, initial_indent=indent, subsequent_indent=indent),
                  *textwrap.wrap("source: " + reading.source, 96, initial_indent=indent,
                                 subsequent_indent=indent + "  "),
                  f"{indent}settings: {', '.join(reading.settings)}", ""]
    return "\n".join(lines)


def load_readings_file(path: str) -> list[str]:
    """The readings of a ``b2ckeys probe --out`` file, checked; ValueError names the file
    and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except OSError as e:
        raise ValueError(f"readings file {path}: cannot be read ({e.strerror or e})") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"readings file {path}: not JSON ({e})") from None
    if not isinstance(document, dict):
        raise ValueError(f"readings file {path}: must be a JSON object with \"version\" and "
                         "\"readings\"")
    version = document.get("version")
    if version != FILE_VERSION or isinstance(version, bool):
        raise ValueError(f"readings file {path}: \"version\" must be {FILE_VERSION}, "
                         f"not {version!r}")
    texts = document.get("readings")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"readings file {path}: \"readings\" must be a list of strings")
    try:
        canonical(texts)
    except ValueError as e:
        raise ValueError(f"readings file {path}: {e}") from None
    return list(texts)
