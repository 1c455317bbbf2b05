"""What changed in the tenant between two live states, in sentences a person reads.

Input is the metadata form of `plan.data.live_data` (as saved in a plan file and
as read now); deepdiff finds the differences, each becomes one line such as
"key set B2C_1A_X was created" or "key abc in B2C_1A_Y was added: oct sig, exp …",
`printable`: a kid holding a line break cannot add a line to the refusal. Pure.
"""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff

from ..core.diagnostics import printable


def _by_id(live: dict) -> dict[str, dict[str, dict]]:
    return {
        ks["id"]: {k["kid"]: {f: v for f, v in k.items() if f != "kid"} for k in ks.get("keys", ())}
        for ks in live.get("keySets", ())
    }


def describe_key(key: dict) -> str:
    parts = [f"{key.get('kty')} {key.get('use')}"]
    for field in ("nbf", "exp"):
        if key.get(field) is not None:
            parts.append(f"{field} {key[field]}")
    if key.get("status"):
        parts.append(str(key["status"]))
    if key.get("x5t"):
        parts.append(f"x5t {key['x5t']}")
    return ", ".join(parts)


def _deepdiff(old: dict, new: dict) -> DeepDiff:
    """Item by item, never "the whole mapping was replaced" (deepdiff >= 8.1 does that for
    mappings with few keys in common unless told not to)."""
    try:
        return DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    except TypeError:  # an older deepdiff: it always goes deeper
        return DeepDiff(old, new, view="tree")


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value)


def live_changes(then: dict, now: dict) -> list[str]:
    """One sentence per difference between two `live_data` dicts; empty when they are equal."""
    old, new = _by_id(then), _by_id(now)
    diff = _deepdiff(old, new)
    lines: list[tuple[tuple, str]] = []
    for level in diff.get("dictionary_item_added", ()):
        path = level.path(output_format="list")
        if len(path) == 1:
            keyset = path[0]
            keys = new[keyset]
            lines.append(((keyset, ""), f"key set {keyset} was created"
                          + (f" with {len(keys)} key{'s' if len(keys) != 1 else ''}" if keys else "")))
            lines += [((keyset, kid), f"key {kid} in {keyset} was added: {describe_key(k)}")
                      for kid, k in keys.items()]
        elif len(path) == 2:
            keyset, kid = path
            lines.append(((keyset, kid), f"key {kid} in {keyset} was added: {describe_key(new[keyset][kid])}"))
        else:
            keyset, kid, field = path[:3]
            lines.append(((keyset, kid), f"key {kid} in {keyset}: {field} is now {_shown(level.t2)}"))
    for level in diff.get("dictionary_item_removed", ()):
        path = level.path(output_format="list")
        if len(path) == 1:
            lines.append(((path[0], ""), f"key set {path[0]} was deleted"))
        elif len(path) == 2:
            keyset, kid = path
            lines.append(((keyset, kid), f"key {kid} in {keyset} is gone: {describe_key(old[keyset][kid])}"))
        else:
            keyset, kid, field = path[:3]
            lines.append(((keyset, kid), f"key {kid} in {keyset}: {field} is no longer given"))
    for kind in ("values_changed", "type_changes"):
        for level in diff.get(kind, ()):
            path = level.path(output_format="list")
            if len(path) < 3:  # not expected with the deeper-diff setting; still say something true
                lines.append(((str(path[0]) if path else "", ""), "the key sets changed"))
                continue
            keyset, kid, field = path[:3]
            lines.append(((keyset, kid), f"key {kid} in {keyset}: {field} changed from "
                                         f"{_shown(level.t1)} to {_shown(level.t2)}"))
    return [printable(line) for _, line in sorted(lines, key=lambda item: (item[0][0].upper(), item[0][1], item[1]))]
