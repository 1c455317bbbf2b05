"""The manifests' `tenant`, read ahead of the full load: exactly, or not at all.

The tenant guard runs before any key-set call, so a command that wants to
read the tenant while its manifests are still loading (`background`) needs their
`tenant` first. `declared_tenant` reads only the top level of each file, from
libyaml's events, and answers only when the answer cannot differ from the full
load's `DesiredState.tenant`:

- a string: every file that declares `tenant` declares this one (the first, as the
  full load keeps it), written as a plain or quoted scalar that matches the schema;
- None: no file has a top-level `tenant` key, nor a merge key that could bring one;
- `UNKNOWN`: anything else (a YAML error, an alias, a tag, a merge key at the top,
  two tenants, a value the schema refuses, a file too large, no libyaml). The
  caller then waits for the full load, whose errors say what is wrong.
"""

from __future__ import annotations

import re
from typing import Sequence

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
)

from .confine import read_regular_file
from .schema import load_schema
from .yamlload import MAX_BYTES

UNKNOWN = "<unknown>"  # not a valid tenant (the schema's pattern refuses '<'), so never confused with one


def declared_tenant(files: Sequence[str]) -> str | None:
    """The tenant the manifests declare, None when none does, or `UNKNOWN`."""
    if not getattr(yaml, "__with_libyaml__", False):
        return UNKNOWN  # the pure-Python parser would cost as much as the load it runs ahead of
    found: list[str] = []
    for path in files:
        try:
            text = read_regular_file(path, MAX_BYTES).decode("utf-8-sig")
            tenant = _top_level_tenant(text)
        except (OSError, ValueError, yaml.YAMLError):
            return UNKNOWN
        if tenant is UNKNOWN:
            return UNKNOWN
        if tenant is not None:
            found.append(tenant)
    if len({t.lower() for t in found}) > 1:
        return UNKNOWN  # the full load reports the disagreement
    return found[0] if found else None


def _tenant_pattern() -> re.Pattern:
    return re.compile(load_schema()["properties"]["tenant"]["pattern"])


def _top_level_tenant(text: str) -> str | None:
    pattern = _tenant_pattern()
    documents, depth, key, tenant = 0, 0, None, None
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                return UNKNOWN
        elif depth == 0:
            if isinstance(event, MappingStartEvent):
                if event.tag is not None:
                    return UNKNOWN
                depth, key = 1, None
            elif isinstance(event, (CollectionStartEvent, ScalarEvent, AliasEvent)):
                return UNKNOWN  # not a mapping at the top: the full load says why
        elif depth == 1 and key is None:  # a key of the top-level mapping, or its end
            if isinstance(event, CollectionEndEvent):
                depth = 0
            elif not isinstance(event, ScalarEvent) or event.tag is not None:
                return UNKNOWN  # an alias, a tag or a complex key could spell anything
            elif event.value == "<<" and event.implicit[0]:
                return UNKNOWN  # a merge key may bring a tenant in
            else:
                key = event.value
        elif depth == 1:  # the value of `key`
            if key == "tenant":
                if tenant is not None or not isinstance(event, ScalarEvent) or event.tag is not None \
                        or not pattern.fullmatch(event.value):
                    return UNKNOWN
                tenant = event.value
            if isinstance(event, CollectionStartEvent):
                depth = 2
            key = None
        elif isinstance(event, CollectionStartEvent):
            depth += 1
        elif isinstance(event, CollectionEndEvent):
            depth -= 1  # back at 1: the next event is a key again (key is None)
    return tenant
