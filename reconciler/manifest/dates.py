"""A manifest's `nbf` and `exp` → epoch seconds, within what B2C takes and b2ckeys can show.

A date is an RFC 3339 date-time with a time zone and whole seconds, or epoch seconds. Either
must fall from 1970-01-01T00:00:00Z (epoch 0: B2C's nbf and exp are Edm.Int64 from 0) to
9999-12-31T23:59:59Z (epoch `EPOCH_MAX`: the last second RFC 3339 writes in UTC, so that
every date a plan shows is a date). The schema's pattern keeps each field in its range and
the year from 1970 to 9999; the offset at either end of the range is checked here, and here
every refusal is worded (`schema` asks too, so that both say the same).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..core.model import EPOCH_MAX, EPOCH_MIN

# the shape alone, every field any two (four) digits: what is wrong with a value is then said
SHAPE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                   r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
TIME_FORMAT = (
    "must be an RFC 3339 date-time with a timezone and whole seconds "
    "(2026-01-01T00:00:00Z, 2026-01-01T01:00:00+01:00) or epoch seconds"
)
RANGE = (
    f"must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z (epoch seconds {EPOCH_MIN} to {EPOCH_MAX}): "
    "B2C takes no date before 1970, and b2ckeys shows dates in RFC 3339, whose years end at 9999"
)
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


class DateRefused(ValueError):
    """Why a date cannot be taken, worded to follow the field's name ("'nbf' ...")."""


def to_epoch(value) -> int:
    """Epoch seconds of a date as YAML read it (text, a whole number, a whole float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DateRefused(TIME_FORMAT)
    if isinstance(value, float) and not value.is_integer():
        raise DateRefused(TIME_FORMAT)  # NaN and infinities too
    seconds = _parse(value) if isinstance(value, str) else int(value)
    if not EPOCH_MIN <= seconds <= EPOCH_MAX:
        raise DateRefused(RANGE)
    return seconds


def _parse(text: str) -> int:
    match = SHAPE.fullmatch(text)
    if match is None:
        raise DateRefused(TIME_FORMAT)
    year, month, day, hour, minute, second, sign, offset_hours, offset_minutes = match.groups()
    if second == "60":
        raise DateRefused("is a leap second (:60), which epoch seconds cannot hold: write :59 or the next second")
    if sign and (int(offset_hours) > 23 or int(offset_minutes) > 59):
        raise DateRefused("has no such time zone offset (from -23:59 to +23:59)")
    if year < "1970":
        raise DateRefused(RANGE)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise DateRefused("is not a valid date-time (no such day or time)") from None
    offset = 0 if not sign else int(offset_hours) * 3600 + int(offset_minutes) * 60
    return (local - _EPOCH) // _SECOND - (offset if sign == "+" else -offset)
