"""What an attempt's result means for its delivery, under the webhook's policy (DESIGN §5).

- 2xx: succeeded.
- `410 Gone`: failed, and the webhook is disabled (the receiver says it is gone for good).
- refused by the network guard, or an error that cannot heal (a malformed URL): failed.
- another status, a timeout or a connection failure: retried if the policy retries it and attempts
  remain, after the policy's wait (times `QUIRE_DELIVERY_SCHEDULE_SCALE`) or, when the receiver
  sent `Retry-After` with a retried status, after that many seconds (capped by the policy);
  otherwise failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from quire.server.delivery.policies import DeliveryPolicy
from quire.server.delivery.sender import AttemptResult

Verdict = Literal["succeeded", "retry", "failed"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    next_attempt_at: datetime | None = None
    disable_reason: str | None = None
    """Set when this answer disables the webhook by itself (410 Gone)."""

    @property
    def final(self) -> bool:
        return self.verdict != "retry"


def retryable(policy: DeliveryPolicy, result: AttemptResult) -> bool:
    if result.kind == "status":
        return result.status_code is not None and policy.retries_status(result.status_code)
    if result.kind == "timeout":
        return policy.retry_on_timeout
    if result.kind == "connect_error":
        return policy.retry_on_connect_error
    return False


def decide(
    policy: DeliveryPolicy,
    *,
    attempt: int,
    result: AttemptResult,
    now: datetime,
    schedule_scale: float = 1.0,
    rng: random.Random | None = None,
) -> Decision:
    """`attempt` is the number of the attempt that produced `result` (1 for the first)."""
    if result.ok:
        return Decision("succeeded")
    if result.kind == "status" and result.status_code == 410:
        when = now.strftime("%Y-%m-%d %H:%M:%S UTC")
        return Decision("failed", disable_reason=f"the receiver answered 410 Gone at {when}")
    if not retryable(policy, result) or attempt >= policy.max_attempts:
        return Decision("failed")
    if result.kind == "status" and result.retry_after is not None:
        wait = min(result.retry_after, policy.max_retry_after_seconds)
    else:
        wait = policy.wait_before(attempt + 1, scale=schedule_scale, rng=rng)
    return Decision("retry", next_attempt_at=now + timedelta(seconds=wait))
