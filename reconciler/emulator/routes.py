"""The path grammar of ``/beta/trustFramework/keySets``: which resource a path names.

Every form Microsoft's SDK sends is accepted (msgraph-beta-sdk-python,
``msgraph_beta/generated/trust_framework/key_sets/**``: the request builders' URL
templates), besides the documented ones:

    keySets                          list, create          (shape "collection")
    keySets/$count                   count                 ("count")
    keySets/{id}, keySets('{id}')    get, PUT, delete      ("item")
    keySets/{id}/generateKey | uploadSecret | uploadCertificate | uploadPkcs12
    keySets/{id}/getActiveKey, keySets/{id}/getActiveKey()   (the SDK's function call)
    keySets/{id}/keys_v2             ("keys_v2"), keys_v2/$count ("keys_v2_count")
    keySets/{id}/keys_v2/{kid}, keys_v2('{kid}')   ("key_v2")

Segments are percent-decoded; names compare case-insensitively. Query options
(``$select``, ``$top``, ...) are not part of the path and are ignored.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .odata import GraphError

_KEY_PREDICATE = re.compile(r"^(keySets|keys_v2)\('(.*)'\)$", re.IGNORECASE)
_ACTIONS = {"generatekey": "generatekey", "uploadsecret": "uploadsecret",
            "uploadcertificate": "uploadcertificate", "uploadpkcs12": "uploadpkcs12",
            "getactivekey": "getactivekey", "getactivekey()": "getactivekey",
            "keys_v2": "keys_v2"}


def _not_a_segment(segment: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _split_predicates(segments: list[str]) -> list[str]:
    """``keySets('x')`` and ``keys_v2('k')`` become two segments each."""
    out: list[str] = []
    for segment in segments:
        match = _KEY_PREDICATE.match(segment)
        out += [match.group(1), match.group(2)] if match else [segment]
    return out


def resolve(path: str) -> tuple[str, tuple[str, ...]]:
    """(shape, arguments) of a Graph path; 404 outside /beta and /v1.0, 400 for a segment
    Graph does not know (as real Graph answers a typo: never "key set not found")."""
    segs = [unquote(s) for s in path.rstrip("/").split("/")[1:]]
    if not segs or segs[0].lower() not in ("beta", "v1.0"):
        raise GraphError(404, "NotFound", "The requested resource was not found.")
    rest = _split_predicates(segs[1:])
    for i, fixed in enumerate(("trustFramework", "keySets")):
        if len(rest) <= i or rest[i].lower() != fixed.lower() or segs[0].lower() != "beta":
            raise _not_a_segment(rest[i] if len(rest) > i else segs[0])
    tail = rest[2:]
    if not tail:
        return "collection", ()
    if len(tail) == 1:
        return ("count", ()) if tail[0] == "$count" else ("item", (tail[0],))
    action = _ACTIONS.get(tail[1].lower())
    if len(tail) == 2 and action:
        return action, (tail[0],)
    if len(tail) == 3 and action == "keys_v2":
        if tail[2] == "$count":
            return "keys_v2_count", (tail[0],)
        return "key_v2", (tail[0], tail[2])
    raise _not_a_segment(tail[-1])
