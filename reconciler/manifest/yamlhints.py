"""YAML syntax errors in plain words, with the fix for the common ones.

PyYAML says what its parser expected (`expected <block end>, but found '<block mapping
start>'`), which names no mistake a person made. `explain` turns the errors a manifest's
author meets most into one sentence that names the mistake and its fix, located where
the fix goes (an unclosed quote or bracket: where it opens; a key without its ':': where
the key starts). PyYAML's words follow only for errors not recognised here.
"""

from __future__ import annotations

from typing import Any

from ..core.diagnostics import Location

_OPENERS = {"flow mapping": "'{'", "flow sequence": "'['"}


def explain(path: str, problem: str | None, problem_mark: Any, context: str | None,
            context_mark: Any) -> tuple[Location | None, str]:
    """Where and what: the location to report (None: PyYAML's own) and the message."""
    where, message = _plain(path, problem or "", problem_mark, context or "", context_mark)
    return where, message if message.startswith("invalid YAML: ") else f"invalid YAML: {message}"


def _plain(path: str, problem: str, problem_mark: Any, context: str, context_mark: Any) -> tuple[Location | None, str]:
    def at(mark: Any) -> Location | None:
        return Location(path, mark.line + 1, mark.column + 1) if mark is not None else None

    opened = f"line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark is not None else ""
    if "'\\t'" in problem:
        return at(problem_mark), ("a tab character here: YAML indents with spaces only; replace the tab "
                                  "with spaces")
    if context == "while scanning a quoted scalar":
        return at(context_mark), ("a quoted value is not closed: the quote that opens here has no closing quote "
                                  "of the same kind (\" or ') before the end of the file; close it, or write "
                                  "the value without quotes")
    for kind, opener in _OPENERS.items():
        if context == f"while parsing a {kind}":
            return at(context_mark), (f"the {opener} that opens here is not closed (the parser stumbled at "
                                      f"line {problem_mark.line + 1}, column {problem_mark.column + 1}): close "
                                      "it, or put a ',' between its entries")
    if context == "while parsing a flow node" and "<stream end>" in problem:
        return at(problem_mark), "a '[' or '{' is never closed: the file ends inside it; close it"
    if "could not find expected ':'" in problem:
        return at(context_mark), ("a key without its ':': write it as 'key: value' (a space after the ':'), "
                                  "or, for a list item, start the line with '- '")
    if problem.startswith("expected <block end>"):
        return at(problem_mark), (f"wrong indentation: this line does not line up with the lines of the list "
                                  f"or mapping that starts at {opened}; indent every key of one mapping, and "
                                  "every '- ' of one list, by the same number of spaces (the keys of a list "
                                  "item line up with the first key after its '- ')")
    if problem == "mapping values are not allowed here":
        return at(problem_mark), ("a ':' where no key can start: either this line is indented more than the key "
                                  "above it (line up the keys of one mapping), or a value holds ': ' (quote the "
                                  "value, e.g. name: \"a: b\"), or a space is missing after a key's ':' on the "
                                  "line above")
    message = f"invalid YAML: {problem or context or 'syntax error'}"
    if context and problem and context_mark is not None:
        message += f" ({context} at line {context_mark.line + 1})"
    return None, message
