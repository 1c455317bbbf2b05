"""Safe YAML loading that remembers where every value was written.

The octoDNS ContextLoader idea, as an index instead of wrapped dicts: a loaded
`Document` holds plain data (dicts, lists, scalars) plus, for every JSON path
such as ``("keySets", 1, "keys", 0, "nbf")``, the `Location` of the value node,
and for mapping entries the location of the key node too.

Manifests come from pull requests: the loader expects hostile input. Only
JSON-like tags are accepted (no ``!!python/...``, ``!!binary``, ``!!set``). A
file has at most `MAX_BYTES` (checked before parsing), `MAX_DEPTH` levels and
`MAX_NODES` values, aliases and merge keys counted at each use ("billion
laughs"). A key written twice in one mapping is an error. Unquoted values YAML
1.1 reads as something else than their text are errors saying to quote them
(``no``/``on``: booleans; ``1:30``: base 60; ``0755``: octal; ``0x1F``, ``0b1``,
``1_000``); timestamps stay strings (the manifest parses dates); keys are their
text (``on:`` is "on"). Every problem is a located `Diagnostic`, never a traceback.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode

from ..core.diagnostics import Diagnostic, Location
from .confine import read_regular_file
from .yamlhints import explain
from .yamltree import _CORE, _MAP_TAG, _TOO_LARGE, MAX_NODES, Document, _Builder, _error, _Failed, _location

MAX_BYTES = 1024 * 1024  # per manifest file, checked before parsing
MAX_DEPTH = 32  # nesting levels; a manifest needs 7

class _Checks:
    """The limits and bookkeeping both loaders share: run in our Python composer."""

    path: str
    depth: int
    composed: int
    plain: set[int]

    def _start(self, path: str) -> None:
        self.path = path
        self.depth = self.composed = 0
        self.plain = set()  # ids of plain scalar nodes

    def compose_node(self, parent, index):
        self.depth += 1
        self.composed += 1  # aliases too: parsing is the slow part, stop it early
        try:
            if self.depth > MAX_DEPTH or self.composed > MAX_NODES:
                raise _Failed(_location(self.path, self.peek_event().start_mark),
                              f"the document nests too deeply (more than {MAX_DEPTH} levels)"
                              if self.depth > MAX_DEPTH else _TOO_LARGE)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_scalar_node(self, anchor):
        event = self.peek_event()
        node = super().compose_scalar_node(anchor)
        if event.tag is None and event.implicit[0]:  # plain: unquoted, untagged
            self.plain.add(id(node))
        return node


class ManifestLoader(_Checks, yaml.SafeLoader):
    """SafeLoader without the implicit timestamp resolver, with a nesting limit,
    and knowing which scalars were written plain (unquoted, untagged)."""

    def __init__(self, stream, path: str = "<manifest>"):
        super().__init__(stream)
        self._start(path)


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _CORE + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FastLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(_Checks, yaml.composer.Composer, yaml.constructor.SafeConstructor,
                      yaml.resolver.Resolver, yaml.cyaml.CParser):
        """ManifestLoader with libyaml's C scanner and parser producing the events.

        Only events come from C (`check_event`, `peek_event`, `get_event`,
        `dispose`): `CParser` comes last in the MRO, so the Python `Composer`'s
        `get_single_node`, `compose_node`, ... (with the checks above), the safe
        constructor and our resolver table are the ones used, as in ManifestLoader.
        """

        def __init__(self, stream, path: str = "<manifest>"):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._start(path)

    _FastLoader.yaml_implicit_resolvers = ManifestLoader.yaml_implicit_resolvers
    for _name in ("get_single_node", "get_node", "check_node", "compose_node", "compose_scalar_node"):
        assert getattr(_FastLoader, _name) is getattr(ManifestLoader, _name), _name


def _position_location(path: str, text: str, index: int) -> Location:
    before = text[:index]
    return Location(path, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def load_document(path: str) -> tuple[Document, list[Diagnostic]]:
    """Read and parse `path`. With an error in the list, `data` may be partial or None."""
    doc = Document(path)
    try:
        raw = read_regular_file(path, MAX_BYTES)
    except OSError as e:
        return doc, [_error(Location(path), f"cannot read the file: {e.strerror or e}")]
    except ValueError as e:
        return doc, [_error(Location(path), f"the file is {e}; a manifest must be a regular file "
                                            f"of at most {MAX_BYTES // 1024} KiB")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        good = raw[: e.start].decode("utf-8-sig")
        where = _position_location(path, good, len(good))
        return doc, [_error(where, f"the file is not valid UTF-8 (byte 0x{raw[e.start]:02x})")]
    try:
        return _load_text(doc, text)
    except _Failed as f:
        return doc, [_error(f.location, f.message)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where, message = explain(path, e.problem, e.problem_mark, e.context, e.context_mark)  # in plain words
        return doc, [_error(where or (_location(path, mark) if mark else Location(path)), message)]
    except yaml.reader.ReaderError as e:
        where = _position_location(path, text, e.position)
        return doc, [_error(where, f"invalid YAML: {e.reason} (character #x{e.character:04x})")]
    except yaml.YAMLError as e:  # pragma: no cover - pyyaml raises the kinds above
        return doc, [_error(Location(path), f"invalid YAML: {e}")]


def _load_text(doc: Document, text: str) -> tuple[Document, list[Diagnostic]]:
    if _FastLoader is not None and "\t" not in text:  # libyaml accepts tabs pyyaml refuses
        try:
            return _load_with(_FastLoader, doc, text)
        except (yaml.YAMLError, _Failed):
            # Rare: load again with the pure-Python loader, so that every error (its
            # wording, its place, which of two comes first) is exactly what it was.
            doc.data = None
            doc.values.clear()
            doc.keys.clear()
    return _load_with(ManifestLoader, doc, text)


def _load_with(loader_class: Any, doc: Document, text: str) -> tuple[Document, list[Diagnostic]]:
    loader = loader_class(text, doc.path)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _Failed(Location(doc.path, 1, 1), "the file is empty: expected a manifest (version: 1, keySets: ...)")
        if not isinstance(node, MappingNode) or node.tag != _MAP_TAG:
            what = {yaml.SequenceNode: ", not a list", yaml.ScalarNode: ", not a single value"}.get(type(node), "")
            raise _Failed(_location(doc.path, node.start_mark),
                          f"the top level must be a mapping (version: 1, keySets: ...){what}")
        builder = _Builder(loader, doc)
        doc.data = builder.build(node, ())
        return doc, builder.diagnostics
    finally:
        loader.dispose()
