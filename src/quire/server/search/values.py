"""Turning user-supplied filter values (strings from JSON or a query string) into typed values."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, date, datetime, timedelta

from quire.server.search.errors import QueryError

Scalar = str | int | float | bool
Bound = str | int | float | datetime

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_text(value: str) -> str:
    """Refuse what no stored text can contain (PostgreSQL would fail on it with an error)."""
    if "\x00" in value:
        raise QueryError(f"filter values must not contain NUL characters; got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"filter values must be valid Unicode; got {value!r}") from None
    return value


def as_number(value: object) -> float | None:
    """The number a value stands for (`3`, `"3"`, `"2.5"`), or None; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def require_number(value: object, what: str) -> float:
    number = as_number(value)
    if number is None:
        raise QueryError(f"{what} takes numbers; got {value!r}")
    return number


def as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise QueryError(f"record id must be a UUID; got {value!r}") from None


def as_timestamp(value: object, *, what: str, lower: bool, inclusive: bool) -> tuple[datetime, bool]:
    """A bound on a timestamp as `(instant, inclusive)`, UTC-aware.

    A date without a time covers its whole day, as in Elasticsearch: `le 2024-01-31` keeps all of
    the 31st (`< 2024-02-01`) and `gt 2024-01-31` starts on the 1st.
    """
    try:
        return _timestamp_bound(value, what=what, lower=lower, inclusive=inclusive)
    except OverflowError:  # 9999-12-31 as an inclusive upper bound, year 1 with a positive offset
        raise QueryError(f"{what}: {value!r} is out of range in UTC (years 1 to 9999)") from None


def _timestamp_bound(value: object, *, what: str, lower: bool, inclusive: bool) -> tuple[datetime, bool]:
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return instant.astimezone(UTC), inclusive
    if not isinstance(value, str):
        raise QueryError(f"{what} bounds must be ISO 8601 dates or date-times; got {value!r}")
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{what}: invalid date {value!r}") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        next_day = start + timedelta(days=1)
        if lower:
            return (start, True) if inclusive else (next_day, True)
        return (next_day, False) if inclusive else (start, False)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise QueryError(f"{what} bounds must be ISO 8601 dates or date-times; got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), inclusive
