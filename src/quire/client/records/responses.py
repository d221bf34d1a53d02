"""`Response`: one user's answer to one question of a record.

    rg.Response("label", "positive", user_id=user.id, status="submitted")

On the wire a user's responses to a record travel together (`{"user_id", "status", "values"}`): the
SDK groups them per user. Their status is the one status they share; mixed or missing statuses
give `draft` (with a warning when mixed), as in the argilla SDK.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from quire.client.errors import RecordError

if TYPE_CHECKING:
    from quire.client.records.record import Record

__all__ = ["RecordResponses", "Response", "ResponseStatus", "UserResponse"]


class ResponseStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    discarded = "discarded"


class Response:
    """`value` answers `question_name` for user `user_id`; `status` is `draft`, `submitted` or
    `discarded` (None: draft)."""

    __slots__ = ("_record", "question_name", "status", "user_id", "value")

    def __init__(
        self,
        question_name: str,
        value: Any,
        user_id: uuid.UUID | str,
        status: ResponseStatus | str | None = None,
    ) -> None:
        if question_name is None or question_name == "":
            raise ValueError("question_name is required: Response(question_name, value, user_id, status)")
        if user_id is None:
            raise ValueError("user_id is required: Response(question_name, value, user_id, status)")
        parsed = ResponseStatus(status) if status is not None else None
        if value is None and parsed is ResponseStatus.submitted:
            raise ValueError(f"a submitted response needs a value (question {question_name!r})")
        self.question_name = question_name
        self.value = value
        self.user_id = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
        self.status = parsed
        self._record: Record | None = None

    def __repr__(self) -> str:
        return (
            f"Response({self.question_name!r}, {self.value!r}, user_id={str(self.user_id)!r}, "
            f"status={self.status.value if self.status else None!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.question_name, self.value, self.user_id, self.status) == (
            other.question_name,
            other.value,
            other.user_id,
            other.status,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def record(self) -> Record | None:
        return self._record

    def serialize(self) -> dict[str, Any]:
        return {
            "question_name": self.question_name,
            "value": self.value,
            "user_id": str(self.user_id),
            "status": self.status.value if self.status else None,
        }


class UserResponse:
    """The responses of one user to one record (what the server stores as one response)."""

    def __init__(self, responses: list[Response]) -> None:
        if not responses:
            raise ValueError("a UserResponse needs at least one response")
        users = {r.user_id for r in responses}
        if len(users) > 1:
            raise ValueError(f"a UserResponse holds the responses of one user, got {sorted(map(str, users))}")
        self.responses = responses
        self.user_id = responses[0].user_id

    @property
    def status(self) -> ResponseStatus:
        statuses = {r.status for r in self.responses}
        if len(statuses) == 1:
            (only,) = statuses
            return only or ResponseStatus.draft
        if statuses - {None}:
            warnings.warn(
                f"responses of user {self.user_id} to one record have different statuses "
                f"{sorted(str(s) for s in statuses)}: they are sent as draft",
                stacklevel=3,
            )
        return ResponseStatus.draft


class RecordResponses:
    """The responses of one record: `record.responses["label"]` is the list of responses to that
    question (one per user, empty when there is none)."""

    def __init__(self, responses: Iterable[Response] | None, record: Record) -> None:
        self._record = record
        self._responses: list[Response] = []
        for response in responses or ():
            self.add(response)

    def __getitem__(self, question_name: str) -> list[Response]:
        return [r for r in self._responses if r.question_name == question_name]

    def __iter__(self) -> Iterator[Response]:
        return iter(list(self._responses))

    def __len__(self) -> int:
        return len(self._responses)

    def __bool__(self) -> bool:
        return bool(self._responses)

    def __contains__(self, question_name: object) -> bool:
        return any(r.question_name == question_name for r in self._responses)

    def __repr__(self) -> str:
        return repr(self.to_dict())

    def add(self, response: Response) -> Response:
        """Add a response; a second one of the same user to the same question is refused."""
        if not isinstance(response, Response):
            raise TypeError(f"responses must be rg.Response objects, got {type(response).__name__}")
        for existing in self._responses:
            if existing.question_name == response.question_name and existing.user_id == response.user_id:
                raise RecordError(
                    f"user {response.user_id} already has a response to question {response.question_name!r} "
                    "on this record"
                )
        response._record = self._record
        self._responses.append(response)
        return response

    def by_user(self) -> list[UserResponse]:
        grouped: dict[uuid.UUID, list[Response]] = {}
        for response in self._responses:
            grouped.setdefault(response.user_id, []).append(response)
        return [UserResponse(responses) for responses in grouped.values()]

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self._responses:
            out.setdefault(r.question_name, []).append(
                {"value": r.value, "user_id": str(r.user_id), "status": r.status.value if r.status else None}
            )
        return out
