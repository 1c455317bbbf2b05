"""Fault rules: which requests fail, and how.

A rule matches requests by HTTP method (``*`` for any) and path (the path without the
query, percent-decoded, compared case-insensitively): a glob (``*/uploadSecret``; ``*``
also matches ``/``) or, after ``re:``, a regular expression searched in the path. It
has one effect:

* ``status``: answer with that status and an error body (OData for Graph, AAD for the
  token service), optional ``code``, ``message`` and ``retry_after``; nothing is done.
* ``delay``: sleep ``delay`` seconds, then handle the request as usual.
* ``reset``: close the connection abruptly (TCP RST), no answer; nothing is done.
* ``commit_then_drop``: handle the request; if it changed the state, reset the
  connection instead of answering. Only requests that changed the state count.

``delay`` with another effect sleeps first. ``times`` (default 1) is how many matching
requests the rule hits, ``null`` for no limit; with ``probability`` (default no
limit) each matching request is hit with that chance, drawn from a ``Random(seed)``
of the rule's own (seed default 0), so a schedule is the same on every run for the
same order of requests. Rules are tried in the order they were added; the first that
hits wins. Faults never apply to ``/_emulator/``.

JSON form (``POST /_emulator/faults``), the same keys as the compact spec::

    {"method": "POST", "path": "*/uploadSecret", "status": 400, "code": "AADB2C90063",
     "times": 2}
    {"path": "*/generateKey", "commit_then_drop": true, "probability": 0.3, "seed": 7}

Compact spec (``b2ckeys emulator --fault``), see ``SPEC_HELP``.
"""

from __future__ import annotations

import copy
import fnmatch
import http
import math
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Union
from urllib.parse import unquote

EFFECTS = ("status", "delay", "reset", "commit_then_drop")
SPEC_HELP = (
    "METHOD:PATH:EFFECT[:OPTION...]. METHOD is an HTTP method or *; PATH a glob on the "
    "path (* matches across /) or re:REGEX; EFFECT one of status=CODE, delay=SECONDS, "
    "reset, commit_then_drop; OPTIONs code=TEXT, message=TEXT, retry_after=SECONDS, "
    "delay=SECONDS (sleep first), times=N or times=* (default 1), p=PROBABILITY, seed=N. "
    "Example: POST:*/uploadSecret:status=400:code=AADB2C90063:times=2")
_KEYS = {"method", "path", "effect", "status", "reset", "commit_then_drop", "code", "message",
         "retry_after", "delay", "times", "probability", "seed"}
_DEFAULT_ERRORS = {
    400: ("AADB2C90063", "There is a problem with the service."),
    429: ("AADB2C95043", "There are too many requests at this moment. "
                         "Please wait for some time and try again."),
    500: ("InternalServerError", "The service encountered an internal error."),
    502: ("BadGateway", "The service could not reach a back end."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. "
                                "Please try again later."),
    504: ("GatewayTimeout", "The service did not answer in time."),
}


def default_error(status: int) -> tuple[str, str]:
    """(code, message) of an injected ``status`` when the rule names none."""
    if status in _DEFAULT_ERRORS:
        return _DEFAULT_ERRORS[status]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase.title().replace(" ", "").replace("-", ""), phrase + "."


def _number(name: str, value: Any, *, integer: bool = False) -> Union[int, float]:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (integer and not float(value).is_integer()):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}")
    return int(value) if integer else float(value)


@dataclass
class FaultRule:
    """One validated rule, with its own random source and counters."""
    method: str
    path: str
    effect: str
    status: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None
    retry_after: Optional[str] = None
    delay: float = 0.0
    times: Optional[int] = 1
    probability: Optional[float] = None
    seed: int = 0
    id: int = 0
    hits: int = 0
    _matcher: Any = field(default=None, repr=False)
    _random: Any = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "FaultRule":
        if not isinstance(raw, dict):
            raise ValueError("a fault rule must be a JSON object or a spec string")
        unknown = set(raw) - _KEYS
        if unknown:
            raise ValueError(f"unknown fault key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
        method = str(raw.get("method") or "*").upper()
        if method != "*" and not re.fullmatch(r"[A-Z]+", method):
            raise ValueError(f"method must be an HTTP method or *, not {method!r}")
        path = raw.get("path") or "*"
        if not isinstance(path, str):
            raise ValueError("path must be a string")
        if path.startswith("re:"):
            try:
                matcher = re.compile(path[3:], re.IGNORECASE).search
            except re.error as exc:
                raise ValueError(f"path regex {path[3:]!r} is not valid: {exc}") from None
        else:
            glob = path.lower()
            matcher = lambda p: fnmatch.fnmatchcase(p.lower(), glob)  # noqa: E731
        chosen = [e for e in ("status", "reset", "commit_then_drop") if raw.get(e) not in
                  (None, False)]
        effect = raw.get("effect") or (chosen[0] if len(chosen) == 1 else
                                       "delay" if not chosen and raw.get("delay") else None)
        if effect not in EFFECTS or len(chosen) > 1 or (chosen and chosen != [effect]):
            raise ValueError(f"a fault needs exactly one effect of {list(EFFECTS)}")
        rule = cls(method, path, effect, _matcher=matcher)
        rule.delay = _number("delay", raw.get("delay") or 0)
        if rule.delay < 0 or (effect == "delay" and rule.delay <= 0):
            raise ValueError("delay must be a positive number of seconds")
        if effect == "status":
            rule.status = _number("status", raw.get("status"), integer=True)
            if not 400 <= rule.status <= 599:
                raise ValueError("status must be from 400 to 599")
            code, message = default_error(rule.status)
            rule.code = str(raw.get("code") or code)
            rule.message = str(raw.get("message") or message)
            after = raw.get("retry_after")
            if isinstance(after, str) and after.strip() and not _is_number(after):
                rule.retry_after = after.strip()          # e.g. an HTTP date, sent verbatim
            elif after is not None:
                seconds = _number("retry_after", after)
                if seconds < 0:
                    raise ValueError("retry_after must not be negative")
                rule.retry_after = f"{seconds:g}"
        elif {"code", "message", "retry_after"} & {k for k in raw if raw[k] is not None}:
            raise ValueError("code, message and retry_after go with a status effect only")
        if raw.get("probability") is not None:
            rule.probability = _number("probability", raw["probability"])
            if not 0 < rule.probability <= 1:
                raise ValueError("probability must be above 0 and at most 1")
        default_times = 1 if rule.probability is None else None
        times = raw.get("times", default_times)
        if times is not None and times != "*":
            times = _number("times", times, integer=True)
            if times < 1:
                raise ValueError("times must be at least 1 (or * / null for no limit)")
        rule.times = None if times == "*" else times
        rule.seed = _number("seed", raw.get("seed") or 0, integer=True)
        rule._random = random.Random(rule.seed)
        return rule

    @property
    def remaining(self) -> Optional[int]:
        return None if self.times is None else max(0, self.times - self.hits)

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "method": self.method, "path": self.path, "effect": self.effect}
        for name in ("status", "code", "message", "retry_after"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out.update(delay=self.delay, times=self.times, probability=self.probability,
                   seed=self.seed, hits=self.hits, remaining=self.remaining)
        return out

    def try_hit(self, method: str, path: str) -> bool:
        """Whether this request is hit (and counted); caller holds the set's lock."""
        if self.remaining == 0 or self.method not in ("*", method.upper()) \
                or not self._matcher(path):
            return False
        if self.probability is not None and self._random.random() >= self.probability:
            return False
        self.hits += 1
        return True


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_fault_spec(spec: str) -> dict[str, Any]:
    """The JSON form of a compact spec (see ``SPEC_HELP``); ValueError says what is wrong."""
    def bad(reason: str, syntax: bool = True) -> ValueError:
        return ValueError(f"bad fault spec {spec!r}: {reason}"
                          + (f". Expected {SPEC_HELP}" if syntax else ""))

    parts = spec.strip().split(":")
    is_effect = re.compile(r"^(status=.*|delay=.*|reset|commit_then_drop)$")
    start = next((i for i in range(2, len(parts)) if is_effect.match(parts[i])), None)
    if len(parts) < 3 or start is None:
        raise bad("no effect found after METHOD:PATH")
    raw: dict[str, Any] = {"method": parts[0], "path": ":".join(parts[1:start])}
    names = {"p": "probability", "probability": "probability", "code": "code",
             "message": "message", "retry_after": "retry_after", "delay": "delay",
             "times": "times", "seed": "seed"}
    for index, part in enumerate(parts[start:]):
        name, eq, value = part.partition("=")
        if index == 0 and name in ("reset", "commit_then_drop") and not eq:
            raw[name] = True
        elif index == 0:
            raw[name] = value
        elif name in names and eq and names[name] not in raw:
            raw[names[name]] = value
        else:
            raise bad(f"unknown or repeated option {part!r}")
    try:
        FaultRule.from_dict(raw)
    except ValueError as exc:
        raise bad(str(exc), syntax=False) from None
    return raw


class FaultSet:
    """The live rules, thread-safe. ``reset`` brings back the start rules, re-armed."""

    def __init__(self, start: Iterable[Union[str, dict[str, Any]]] = ()):
        self._lock = threading.Lock()
        self._start = [self._as_raw(rule) for rule in start]
        for raw in self._start:
            FaultRule.from_dict(raw)                       # fail at start, not on reset
        self.reset()

    @staticmethod
    def _as_raw(rule: Union[str, dict[str, Any]]) -> dict[str, Any]:
        return parse_fault_spec(rule) if isinstance(rule, str) else copy.deepcopy(rule)

    def reset(self) -> None:
        with self._lock:
            self._rules: list[FaultRule] = []
            self._counts: dict[str, int] = {}
            self._next_id = 1
        self.add_all(self._start)

    def add(self, rule: Union[str, dict[str, Any], None] = None, **fields: Any) -> dict[str, Any]:
        """Add one rule: a spec string, a dict, or keyword fields. Returns its listing."""
        return self.add_all([fields if rule is None else rule])[0]

    def add_all(self, rules: Iterable[Union[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Add all rules or none (ValueError names the problem)."""
        built = [FaultRule.from_dict(self._as_raw(rule)) for rule in rules]
        with self._lock:
            for rule in built:
                rule.id, self._next_id = self._next_id, self._next_id + 1
                self._rules.append(rule)
            return [rule.as_dict() for rule in built]

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule.id != rule_id]
            found, self._rules = len(kept) != len(self._rules), kept
            return found

    def clear(self) -> None:
        """Drop every rule (the start rules too, until the next reset)."""
        with self._lock:
            self._rules = []

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def counts(self) -> dict[str, int]:
        """Faults injected since the last reset, by effect."""
        with self._lock:
            return dict(self._counts)

    def take(self, method: str, path: str, *, committed: bool) -> Optional[FaultRule]:
        """The first rule that hits this request, counted. ``committed`` False asks for
        status/delay/reset rules (before handling), True for commit_then_drop rules."""
        path = unquote(path)
        with self._lock:
            for rule in self._rules:
                if (rule.effect == "commit_then_drop") == committed \
                        and rule.try_hit(method, path):
                    self._counts[rule.effect] = self._counts.get(rule.effect, 0) + 1
                    return copy.copy(rule)
        return None
