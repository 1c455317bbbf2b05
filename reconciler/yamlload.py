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

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .confine import read_regular_file
from .model import Diagnostic, Location, Severity, shown

Path = tuple  # a JSON path: str keys and int indexes

_CORE = "tag:yaml.org,2002:"
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = _CORE + "map", _CORE + "seq", _CORE + "merge"
_STR_TAG, _INT_TAG, _FLOAT_TAG, _BOOL_TAG = _CORE + "str", _CORE + "int", _CORE + "float", _CORE + "bool"
_SCALAR_TAGS = {_STR_TAG, _INT_TAG, _FLOAT_TAG, _BOOL_TAG, _CORE + "null"}
MAX_BYTES = 1024 * 1024  # per manifest file, checked before parsing
MAX_DEPTH = 32  # nesting levels; a manifest needs 7
MAX_NODES = 20_000  # values, parsed and after alias and merge expansion ("billion laughs")
_TOO_LARGE = f"the document is too large (more than {MAX_NODES} values; aliases?)"
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")


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
        where = _location(path, mark) if mark else Location(path)
        return doc, [_error(where, _yaml_message(e))]
    except yaml.reader.ReaderError as e:
        where = _position_location(path, text, e.position)
        return doc, [_error(where, f"invalid YAML: {e.reason} (character #x{e.character:04x})")]
    except yaml.YAMLError as e:  # pragma: no cover - pyyaml raises the kinds above
        return doc, [_error(Location(path), f"invalid YAML: {e}")]


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    problem = e.problem or e.context or "syntax error"
    if "'\\t'" in problem:
        problem += " (YAML does not allow tabs for indentation: use spaces)"
    message = f"invalid YAML: {problem}"
    if e.context and e.problem and e.context_mark:
        message += f" ({e.context} at line {e.context_mark.line + 1})"
    return message


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
            raise _Failed(_location(doc.path, node.start_mark),
                          "the top level must be a mapping (version: 1, keySets: ...)")
        builder = _Builder(loader, doc)
        doc.data = builder.build(node, ())
        return doc, builder.diagnostics
    finally:
        loader.dispose()


class _Builder:
    """Walks the composed node tree, building data and the location index.

    Merge keys are resolved here, not by pyyaml's `flatten_mapping` (which copies
    merged entries eagerly: nested merges grow exponentially before any limit can
    act). Each mapping's winning entries are computed once and every use is counted.
    """

    def __init__(self, loader: ManifestLoader, doc: Document):
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
                self.diagnostics.append(_error(self._loc(key_node), f"duplicate key '{shown(key)}' (first at line {first})"))
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
