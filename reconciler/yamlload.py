"""Safe YAML loading that remembers where every value was written.

The octoDNS ContextLoader idea, as an index instead of wrapped dicts: a loaded
`Document` holds plain data (dicts, lists, scalars) plus, for every JSON path
such as ``("keySets", 1, "keys", 0, "nbf")``, the `Location` of the value node,
and for mapping entries the location of the key node too.

Only safe tags are constructed (a `SafeLoader` subclass). Unquoted timestamps
stay strings: the manifest parses its dates itself. Problems (not UTF-8, YAML
syntax, a key written twice, an empty file, a top level that is not a mapping)
come back as located `Diagnostic`s, never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .model import Diagnostic, Location, Severity

Path = tuple  # a JSON path: str keys and int indexes

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
MAX_NODES = 100_000  # alias expansion guard ("billion laughs")


class ManifestLoader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp resolver."""


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# libyaml composes the node tree about three times as fast, with the same line and
# column marks. A file it refuses is read again by the pure-Python loader, so that a
# YAML error reads exactly as before.
_CSafeLoader = getattr(yaml, "CSafeLoader", None)
if _CSafeLoader is not None:

    class FastManifestLoader(_CSafeLoader):
        """CSafeLoader (libyaml) without the implicit timestamp resolver."""

    FastManifestLoader.yaml_implicit_resolvers = ManifestLoader.yaml_implicit_resolvers
    LOADERS: tuple[type, ...] = (FastManifestLoader, ManifestLoader)
else:  # pragma: no cover - PyYAML built without libyaml
    LOADERS = (ManifestLoader,)


@dataclass
class Document:
    """One loaded YAML file: the data and where each part of it was written."""

    path: str
    data: Any = None
    # (line, column) per JSON path; a Location is made only when one is asked for
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: Path) -> Location:
        """Location of the value at `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while path not in self.values and path:
            path = path[:-1]
        return Location(self.path, *self.values.get(path, (1, 1)))

    def key_at(self, path: Path) -> Location:
        """Location of the key of a mapping entry (the value's when there is none)."""
        path = tuple(path)
        found = self.keys.get(path)
        return Location(self.path, *found) if found else self.at(path)


class _Failed(Exception):
    def __init__(self, location: Location, message: str):
        self.location, self.message = location, message


def _location(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


def _position_location(path: str, text: str, index: int) -> Location:
    before = text[:index]
    return Location(path, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def load_document(path: str) -> tuple[Document, list[Diagnostic]]:
    """Read and parse `path`. With an error in the list, `data` may be partial or None."""
    doc = Document(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        return doc, [_error(Location(path), f"cannot read the file: {e.strerror or e}")]
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
        where = _location(path, mark) if mark else Location(path)
        return doc, [_error(where, _yaml_message(e))]
    except yaml.reader.ReaderError as e:
        where = _position_location(path, text, e.position)
        return doc, [_error(where, f"invalid YAML: {e.reason} (character #x{e.character:04x})")]
    except yaml.YAMLError as e:  # pragma: no cover - pyyaml raises the kinds above
        return doc, [_error(Location(path), f"invalid YAML: {e}")]


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    problem = e.problem or e.context or "syntax error"
    message = f"invalid YAML: {problem}"
    if e.context and e.problem and e.context_mark:
        message += f" ({e.context} at line {e.context_mark.line + 1})"
    return message


def _load_text(doc: Document, text: str) -> tuple[Document, list[Diagnostic]]:
    for fast in LOADERS[:-1]:
        try:
            return _compose(fast, Document(doc.path), text)
        except yaml.YAMLError:
            pass  # reported by the last loader, in its words
    return _compose(LOADERS[-1], doc, text)


def _compose(loader_class: type, doc: Document, text: str) -> tuple[Document, list[Diagnostic]]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _Failed(Location(doc.path, 1, 1), "the file is empty: expected a manifest (version: 1, keySets: ...)")
        if not isinstance(node, MappingNode) or node.tag != _MAP_TAG:
            raise _Failed(_location(doc.path, node.start_mark),
                          "the top level must be a mapping (version: 1, keySets: ...)")
        builder = _Builder(loader, doc)
        doc.data = builder.build(node, ())
        return doc, builder.diagnostics
    finally:
        loader.dispose()


class _Builder:
    """Walks the composed node tree, building data and the location index."""

    def __init__(self, loader: ManifestLoader, doc: Document):
        self.loader, self.doc = loader, doc
        self.diagnostics: list[Diagnostic] = []
        self.count = 0
        self.stack: set[int] = set()

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Failed(self._loc(node), f"the document is too large (more than {MAX_NODES} values; aliases?)")
        mark = node.start_mark
        self.doc.values[path] = (mark.line + 1, mark.column + 1)
        if id(node) in self.stack:
            raise _Failed(self._loc(node), "a recursive alias is not supported")
        self.stack.add(id(node))
        try:
            if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
                return self._mapping(node, path)
            if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._construct(node)
        finally:
            self.stack.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> dict:
        seen: dict[Any, Node] = {}
        keys = []
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                keys.append(None)
                continue
            key = self._key(key_node)
            keys.append(key)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.diagnostics.append(_error(self._loc(key_node), f"duplicate key '{key}' (first at line {first})"))
            else:
                seen[key] = key_node
        if None in keys:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys; explicit keys come last and win
            keys = [self._key(key_node) for key_node, _ in node.value]
        result: dict[str, Any] = {}
        for key, (key_node, value_node) in zip(keys, node.value):
            child = path + (key,)
            if child in self.doc.keys:  # a later entry (an override) wins: forget the earlier one
                self._forget(child)
            mark = key_node.start_mark
            self.doc.keys[child] = (mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _forget(self, prefix: Path) -> None:
        for index in (self.doc.values, self.doc.keys):
            for p in [p for p in index if p[: len(prefix)] == prefix]:
                del index[p]

    def _key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise _Failed(self._loc(node), "a mapping key must be a plain value, not a list or mapping")
        key = self._construct(node)
        return key if isinstance(key, str) else str(key)

    def _construct(self, node: Node) -> Any:
        if node.tag == _STR_TAG and isinstance(node, ScalarNode):
            return node.value  # what SafeConstructor makes of it, without its bookkeeping
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception:  # pyyaml lets int(), base64 … errors through; their text may hold the value
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Failed(self._loc(node), f"invalid YAML: the value does not fit its tag {tag}") from None

    def _loc(self, node: Node) -> Location:
        return _location(self.doc.path, node.start_mark)


def _error(location: Location, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, location)
