"""The second half of manifest YAML loading: from pyyaml's composed node tree to plain
data (dicts, lists, scalars) and the location index that make a `Document`.

Limits and checks act here, on nodes: the number of values (aliases and merge keys
counted at each use), recursive aliases, duplicate keys, tags other than JSON's, and
unquoted values YAML 1.1 reads as something else than their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..core.diagnostics import Diagnostic, Location, Severity, shown

Path = tuple  # a JSON path: str keys and int indexes

_CORE = "tag:yaml.org,2002:"
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = _CORE + "map", _CORE + "seq", _CORE + "merge"
_STR_TAG, _INT_TAG, _FLOAT_TAG, _BOOL_TAG = _CORE + "str", _CORE + "int", _CORE + "float", _CORE + "bool"
_SCALAR_TAGS = {_STR_TAG, _INT_TAG, _FLOAT_TAG, _BOOL_TAG, _CORE + "null"}
MAX_NODES = 20_000  # values, parsed and after alias and merge expansion ("billion laughs")
_TOO_LARGE = f"the document is too large (more than {MAX_NODES} values; aliases?)"
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")


@dataclass
class Document:
    """One loaded YAML file: the data and where each part of it was written."""

    path: str
    data: Any = None
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def at(self, path: Path) -> Location:
        """Location of the value at `path`, or of its nearest located ancestor."""
        path = tuple(path)
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Location(self.path, 1, 1))

    def key_at(self, path: Path) -> Location:
        """Location of the key of a mapping entry (the value's when there is none)."""
        path = tuple(path)
        return self.keys.get(path) or self.at(path)


class _Failed(Exception):
    def __init__(self, location: Location, message: str):
        self.location, self.message = location, message


def _location(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


class _Builder:
    """Walks the composed node tree, building data and the location index.

    Merge keys are resolved here, not by pyyaml's `flatten_mapping` (which copies
    merged entries eagerly: nested merges grow exponentially before any limit can
    act). Each mapping's winning entries are computed once and every use is counted.
    """

    def __init__(self, loader: Any, doc: Document):  # loader: a `yamlload.ManifestLoader` that composed the tree
        self.loader, self.doc = loader, doc
        self.diagnostics: list[Diagnostic] = []
        self.count = 0
        self.stack: set[int] = set()
        self._entries: dict[int, dict[str, tuple[Node, Node]]] = {}

    def _visit(self, node: Node, weight: int = 1) -> None:
        self.count += weight
        if self.count > MAX_NODES:
            raise _Failed(self._loc(node), _TOO_LARGE)

    def build(self, node: Node, path: Path) -> Any:
        self._visit(node)
        self.doc.values[path] = self._loc(node)
        if id(node) in self.stack:
            raise _Failed(self._loc(node), "a recursive alias is not supported")
        self.stack.add(id(node))
        try:
            if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
                return self._mapping(node, path)
            if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._scalar(node, path)
        finally:
            self.stack.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> dict:
        result: dict[str, Any] = {}
        for key, (key_node, value_node) in self._winners(node).items():
            self.doc.keys[path + (key,)] = self._loc(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result

    def _winners(self, node: MappingNode) -> dict[str, tuple[Node, Node]]:
        """key → (key node, value node) after merges: explicit keys win, then later `<<`
        entries, and within one `<<: [a, b]` the earlier mapping (YAML merge rules)."""
        known = self._entries.get(id(node))
        if known is not None:
            return known
        merged: dict[str, tuple[Node, Node]] = {}
        explicit: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in reversed(sources):
                    if not isinstance(source, MappingNode) or source.tag != _MAP_TAG:
                        raise _Failed(self._loc(source), "a merge key (<<) takes a mapping or a list of mappings")
                    if id(source) in self.stack:
                        raise _Failed(self._loc(source), "a merge key (<<) refers to its own mapping")
                    self.stack.add(id(source))  # (a failure ends the whole load: no finally needed)
                    entries = self._winners(source)
                    self.stack.discard(id(source))
                    self._visit(source, len(entries))
                    merged.update(entries)
                continue
            key = self._key(key_node)
            if key in explicit:
                first = explicit[key][0].start_mark.line + 1
                self.diagnostics.append(_error(self._loc(key_node), f"duplicate key '{shown(key)}' (first at line "
                                                                    f"{first}): a key may appear once in a mapping; "
                                                                    "remove one"))
            else:
                explicit[key] = (key_node, value_node)
        merged.update(explicit)
        self._entries[id(node)] = merged
        return merged

    def _key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise _Failed(self._loc(node), "a mapping key must be a plain value, not a list or mapping")
        if id(node) in self.loader.plain:
            return node.value  # `on:` is the key "on", `1:` the key "1", as YAML 1.2 and JSON read them
        return str(self._scalar(node, None))

    def _scalar(self, node: Node, path: Path | None) -> Any:
        if not isinstance(node, ScalarNode) or node.tag not in _SCALAR_TAGS:
            tag = shown(node.tag.replace(_CORE, "!!"))
            self.diagnostics.append(_error(self._loc(node), f"the tag {tag} is not allowed in a manifest "
                                                            "(only plain values, lists and mappings)"))
            return None
        if id(node) in self.loader.plain:
            surprise = self._surprise(node, path)
            if surprise:
                self.diagnostics.append(_error(self._loc(node), surprise))
                return node.value
        return self._construct(node)

    def _construct(self, node: ScalarNode) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception:  # pyyaml lets int(), float() … errors through; their text may hold the value
            raise _Failed(self._loc(node), f"invalid YAML: the value does not fit its tag {node.tag.replace(_CORE, '!!')}") from None

    def _surprise(self, node: ScalarNode, path: Path | None) -> str | None:
        """Why YAML 1.1 reads this unquoted value as something else than its text, if it does."""
        text = node.value
        if node.tag == _BOOL_TAG and text.lower() not in ("true", "false"):
            what = f"the boolean {'true' if text.lower() in ('yes', 'on') else 'false'}"
        elif node.tag in (_INT_TAG, _FLOAT_TAG) and not _DECIMAL.match(text) and (
                node.tag == _INT_TAG or ":" in text or "_" in text):
            how = ("base 60" if ":" in text else "digit separators" if "_" in text
                   else "hexadecimal" if "x" in text.lower() else "binary" if "b" in text.lower() else "octal")
            number = self._construct(node)
            big = isinstance(number, int) and number.bit_length() > 64  # too long to show
            what = f"{'a huge number' if big else f'the number {number}'} ({how})"
        else:
            return None
        if path is not None and "value" in path:  # may be a literal secret: don't echo it
            return "this unquoted value is not read as text by YAML 1.1; quote it"
        return f"unquoted {shown(text)} is read as {what} by YAML 1.1; quote it ('{shown(text)}') if you mean the text"

    def _loc(self, node: Node) -> Location:
        return _location(self.doc.path, node.start_mark)


def _error(location: Location, message: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, location)
