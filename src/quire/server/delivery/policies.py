"""Delivery policies: how long to wait for a receiver, and what to retry when. A policy is data.

| policy     | timeout | attempts | waits between attempts      | retried                                   |
|------------|---------|----------|-----------------------------|-------------------------------------------|
| `argilla`  | 20 s    | 4        | 10 s, 60 s, 180 s (±10%)    | any error, timeout or non-2xx status      |
| `langsmith`| 5 s     | 3        | 2 s, 4 s (±10%)             | connection failures and 5xx; not timeouts or 4xx |
| custom     | you say | you say  | you say                     | you say                                   |

Everywhere: redirects are not followed (a 3xx is a non-2xx answer), `Retry-After` on a retried
answer is honoured (up to `max_retry_after_seconds`), and `410 Gone` fails the delivery and disables
the webhook.
"""

from __future__ import annotations

import random
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

StatusPattern = Annotated[str, Field(pattern=r"^(any|[1-5]xx|[1-5][0-9]{2})$")]


class DeliveryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["argilla", "langsmith", "custom"] = "custom"
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    max_attempts: int = Field(default=4, ge=1, le=25)
    schedule_seconds: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 180.0],
        description="Wait before attempt 2, 3, …; the last value repeats",
    )
    jitter: float = Field(default=0.1, ge=0, le=1, description="± this fraction of each wait, at random")
    retry_statuses: list[StatusPattern] = Field(
        default_factory=lambda: ["any"], description='Statuses that retry: "any", "5xx", "429", …'
    )
    retry_on_timeout: bool = True
    retry_on_connect_error: bool = True
    max_retry_after_seconds: float = Field(default=3600.0, ge=0)

    @field_validator("schedule_seconds")
    @classmethod
    def _non_negative(cls, waits: list[float]) -> list[float]:
        if any(w < 0 for w in waits):
            raise ValueError("waits must be zero or more seconds")
        return waits

    def retries_status(self, status: int) -> bool:
        if 200 <= status < 300 or status == 410:
            return False
        for pattern in self.retry_statuses:
            if (
                pattern == "any"
                or pattern == str(status)
                or (pattern.endswith("xx") and pattern[0] == str(status)[0])
            ):
                return True
        return False

    def wait_before(self, attempt: int, *, scale: float = 1.0, rng: random.Random | None = None) -> float:
        """Seconds to wait before `attempt` (2 for the first retry), with jitter, times `scale`."""
        if not self.schedule_seconds:
            return 0.0
        base = self.schedule_seconds[min(attempt - 2, len(self.schedule_seconds) - 1)]
        spread = base * self.jitter
        jittered = base + (rng or random).uniform(-spread, spread)
        return max(0.0, jittered) * scale


ARGILLA = DeliveryPolicy(
    name="argilla",
    timeout_seconds=20.0,
    max_attempts=4,
    schedule_seconds=[10.0, 60.0, 180.0],
    retry_statuses=["any"],
    retry_on_timeout=True,
    retry_on_connect_error=True,
)
LANGSMITH = DeliveryPolicy(
    name="langsmith",
    timeout_seconds=5.0,
    max_attempts=3,
    schedule_seconds=[2.0, 4.0],
    retry_statuses=["5xx"],
    retry_on_timeout=False,
    retry_on_connect_error=True,
)
PRESETS: dict[str, DeliveryPolicy] = {"argilla": ARGILLA, "langsmith": LANGSMITH}


def resolve(
    policy: str | DeliveryPolicy | dict[str, object] | None, *, default: str = "argilla"
) -> DeliveryPolicy:
    """A preset name, a full custom policy, or None (the default preset)."""
    if policy is None:
        return PRESETS[default]
    if isinstance(policy, DeliveryPolicy):
        return policy
    if isinstance(policy, str):
        if policy not in PRESETS:
            raise ValueError(
                f"unknown delivery policy {policy!r}: use 'argilla', 'langsmith' or a custom object"
            )
        return PRESETS[policy]
    return DeliveryPolicy.model_validate({**policy, "name": "custom"})
