"""The SDK's exceptions. Everything it raises on purpose derives from `QuireError`:

    QuireError
    ├── APIError                    the server answered with an error status
    │   │                           (.status_code, .message, .body, .response)
    │   ├── BadRequestError             400
    │   ├── AuthenticationError         401  missing or wrong API key
    │   ├── PermissionDeniedError       403  the key's role may not do this
    │   ├── NotFoundError               404
    │   ├── ConflictError               409  e.g. a name that is already taken
    │   ├── ValidationError             422  the server refused the content
    │   │   └── RecordValidationError       a 422 from `records.log`, pointed at the caller's row (.index)
    │   ├── RateLimitError              429  (retried first, honouring Retry-After)
    │   └── ServerError                 5xx  (retried first)
    ├── APIConnectionError          no answer: refused, reset, DNS… (retried first)
    │   └── APITimeoutError             no answer within the timeout
    └── RecordError                 a record the SDK refuses before sending it (.index); also a ValueError
        └── SuggestionError             unknown question, or arguments in the wrong order

Statuses without a class of their own (405, 413, …) raise `APIError` itself.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuireError",
    "RateLimitError",
    "RecordError",
    "RecordValidationError",
    "ServerError",
    "SuggestionError",
    "ValidationError",
    "error_for_response",
]


class QuireError(Exception):
    """Base class of every error the SDK raises on purpose."""


class APIError(QuireError):
    """The server answered with an error status. `message` is the server's own explanation
    (its `detail`), `body` the decoded response body (or its text), `status_code` the HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.response = response

    def __str__(self) -> str:
        return f"{self.status_code}: {self.message}"


class BadRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class ValidationError(APIError):
    pass


class RecordValidationError(ValidationError):
    """The server refused a record of a `records.log` call. `index` is the record's position in the
    caller's input (not in the batch); `record` is that input item."""

    def __init__(
        self,
        message: str,
        *,
        index: int,
        record: Any,
        status_code: int,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, response=response)
        self.index = index
        self.record = record


class RateLimitError(APIError):
    pass


class ServerError(APIError):
    pass


class APIConnectionError(QuireError):
    """The request got no HTTP answer (connection refused or reset, DNS failure, …)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout."""


class RecordError(QuireError, ValueError):
    """A record the SDK refuses before sending it. `index` is its position in the caller's input
    when known (a `records.log` call), else None."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


class SuggestionError(RecordError):
    """A suggestion for a question the dataset does not have (or with its arguments swapped)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def server_message(body: Any) -> str:
    """The human part of an Argilla/quire error body: `{"detail": "text"}`, or
    `{"detail": {"code": …, "params": {"message" | "detail": …}}}`."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        params = detail.get("params")
        if isinstance(params, dict):
            for key in ("message", "detail"):
                if isinstance(params.get(key), str):
                    return str(params[key])
        code = detail.get("code")
        if isinstance(code, str):
            return code.rsplit("::", 1)[-1]
    if isinstance(detail, list):  # FastAPI's plain validation errors
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
        if parts:
            return "; ".join(parts)
    return str(detail) if detail not in (None, "") else "(no details)"


def error_for_response(response: httpx.Response) -> APIError:
    """The exception for an error response (status >= 400)."""
    status = response.status_code
    body = _decode(response)
    if status >= 500:
        cls: type[APIError] = ServerError
    else:
        cls = _BY_STATUS.get(status, APIError)
    message = server_message(body)
    request = response.request
    message = f"{message} ({request.method} {request.url.path})"
    return cls(message, status_code=status, body=body, response=response)
