"""The one error the search package raises for bad queries."""

from __future__ import annotations

from quire.server.errors import Invalid


class QueryError(Invalid):
    """A query that cannot run: malformed syntax, an unknown name, a value of the wrong kind.

    Rendered by the API as 422 `{"detail": "<message>"}`; the message names what was wrong and,
    where there is a closed set, what is allowed.
    """
