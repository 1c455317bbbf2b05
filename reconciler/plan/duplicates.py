"""TEMPORARY stand-in until the planner's duplicate detection lands."""

from __future__ import annotations


def find_duplicates(keyset, desired):
    seen, found = {}, []
    for key in keyset.keys:
        identity = (key.kty, key.use, key.nbf, key.exp, key.x5t)
        if identity in seen:
            found.append((keyset.id, seen[identity], key.kid))
        else:
            seen[identity] = key.kid
    return found


def describe_duplicate(d):
    return f"key set {d[0]} holds the same key twice: kids {d[1]}, {d[2]}"
