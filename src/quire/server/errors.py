"""The server's error hierarchy, rendered into Argilla's wire bodies in one place.

    QuireError (500)
    ├── BadRequest (400)
    ├── Unauthorized (401)      {"detail": {"code": "argilla.api.errors::UnauthorizedError", "params": {...}}}
    ├── Forbidden (403)         {"detail": {"code": "argilla.api.errors::ForbiddenOperationError", ...}}
    ├── NotFound (404)          {"detail": "<message>"}
    ├── Conflict (409)          {"detail": "<message>"}
    └── Invalid (422)           {"detail": "<message>"}

Request bodies that fail schema validation get Argilla's 422 shape
`{"detail": {"code": "argilla.api.errors::ValidationError", "params": {"errors": [...]}}}`, plus a
`message` param that spells out every error as `location: problem` for people reading it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quire.server.json_depth import MAX_JSON_DEPTH
from quire.server.wire import JSON

logger = logging.getLogger("quire.server")


class QuireError(Exception):
    status_code = 500
    code = "argilla.api.errors::GenericServerError"

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def body(self) -> dict[str, Any]:
        return {"detail": {"code": self.code, "params": {"detail": self.message, **self.params}}}


class BadRequest(QuireError):
    status_code = 400
    code = "argilla.api.errors::BadRequestError"


class Unauthorized(QuireError):
    status_code = 401
    code = "argilla.api.errors::UnauthorizedError"


class Forbidden(QuireError):
    status_code = 403
    code = "argilla.api.errors::ForbiddenOperationError"


class _PlainDetail(QuireError):
    def body(self) -> dict[str, Any]:
        return {"detail": self.message}


class NotFound(_PlainDetail):
    status_code = 404


class Conflict(_PlainDetail):
    status_code = 409


class Invalid(_PlainDetail):
    """The request is well-formed but breaks a rule of the domain."""

    status_code = 422


def format_location(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "items", 3, "fields", "text")` -> `items[3].fields.text`."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path") and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_body(errors: list[Any]) -> dict[str, Any]:
    cleaned = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
    message = "; ".join(f"{format_location(e['loc'])}: {e['msg']}" for e in errors)
    return {
        "detail": {
            "code": "argilla.api.errors::ValidationError",
            "params": {"errors": cleaned, "message": message},
        }
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QuireError)
    async def _quire_error(_request: Request, exc: QuireError) -> JSON:
        return JSON(exc.body(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSON:
        return JSON(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSON:
        return JSON({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(InputLimitErrors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSON:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {
            "detail": {
                "code": "argilla.api.errors::GenericServerError",
                "params": {"type": type(exc).__name__, "message": "internal server error"},
            }
        }
        return JSON(body, status_code=500)


# JSON values are encoded with orjson, which (like most JSON stores) holds integers of 64 bits. An
# integer beyond that, anywhere in a stored JSON value (metadata, fields, settings), fails the
# encoding inside the unit of work, which rolls back; it is the client's input, so a 422.
_TOO_LARGE = {
    "type": "value_error",
    "loc": ("body",),
    "msg": "an integer in the request does not fit in 64 bits (allowed: -2**63 to 2**64-1; "
    "send larger numbers as floats or strings)",
    "input": None,
}


# The same for JSON nested deeper than the encoder (254 levels) or a parser (Python's recursion
# limit) takes, wherever `json_depth`'s checks at the entrances did not already refuse it.
_TOO_DEEP = {
    "type": "value_error",
    "loc": ("body",),
    "msg": f"the request nests JSON objects and arrays too deeply (allowed: {MAX_JSON_DEPTH} levels)",
    "input": None,
}


def _caused_by(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if test(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


def _integer_too_large(exc: BaseException) -> bool:
    return _caused_by(exc, lambda e: isinstance(e, TypeError) and "Integer exceeds 64-bit range" in str(e))


def _nested_too_deeply(exc: BaseException) -> bool:
    return _caused_by(
        exc,
        lambda e: (
            isinstance(e, RecursionError)
            or (isinstance(e, TypeError) and "Recursion limit reached" in str(e))
        ),
    )


def _input_limit_error(exc: BaseException) -> dict[str, Any] | None:
    if _integer_too_large(exc):
        return _TOO_LARGE
    if _nested_too_deeply(exc):
        return _TOO_DEEP
    return None


class InputLimitErrors:
    """ASGI middleware: the errors that input beyond the encoders' limits raises deep inside a unit
    of work (which has rolled back by then) become 422s here, inside the app. Left to the
    `Exception` handler they would be answered too, but Starlette re-raises what that handler
    answers and uvicorn then closes the connection, so a client's next request on it fails."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            error = _input_limit_error(exc)
            if error is None or started:
                raise
            await JSON(validation_body([error]), status_code=422)(scope, receive, send)
