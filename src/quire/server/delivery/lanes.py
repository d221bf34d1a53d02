"""A lane: one webhook's claims inside a dispatcher — a queue, the senders working through it (at
most `QUIRE_DELIVERY_CONCURRENCY_PER_WEBHOOK` requests in flight), and what it has learned about
its receiver. Lanes are what keep one slow or dead receiver from delaying the others: each has its
own queue, its own senders and its own claims.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

from quire.server.delivery import store
from quire.server.delivery.sender import Target

FAST_LANE_DEPTH = 16
SLOW_LANE_DEPTH = 2
SLOW_ATTEMPT_SECONDS = 0.25
"""A lane holds up to depth × concurrency claims (in flight + queued), refilled a chunk of at least
`concurrency` at a time. A receiver that answers fast gets a deep lane, so sending never waits for
a claim; one that is slow (its attempts average more than SLOW_ATTEMPT_SECONDS) a shallow one, so
its claims do not sit queued past their lease (a claim that cannot cover its attempt any more is
given back instead of sent)."""


@dataclass
class Lane:
    """One webhook's claims: a queue and the senders working through it."""

    webhook: store.WebhookState
    queue: deque[store.Claim] = field(default_factory=deque)
    in_flight: dict[uuid.UUID, store.Claim] = field(default_factory=dict)
    senders: int = 0
    backlog: bool = False
    """The last claim got all it asked for: more may be due (refill when the queue runs low)."""
    claiming: bool = False
    failing: int = 0
    """Deliveries that ended failed in a row, here (the database keeps the real count)."""
    seconds_per_attempt: float = 0.0
    """Moving average of the attempts' duration."""

    _target: tuple[store.WebhookState, Target] | None = None

    def target(self, timeout_scale: float) -> Target:
        """Where to send, built once per state of the webhook."""
        if self._target is None or self._target[0] is not self.webhook:
            webhook = self.webhook
            target = Target(
                url=webhook.url,
                secrets=webhook.secrets,
                timeout=webhook.policy.timeout_seconds * timeout_scale,
                headers=webhook.headers,
            )
            self._target = (webhook, target)
        return self._target[1]

    def capacity(self, concurrency: int) -> int:
        slow = self.seconds_per_attempt > SLOW_ATTEMPT_SECONDS
        return (SLOW_LANE_DEPTH if slow else FAST_LANE_DEPTH) * concurrency

    @property
    def busy(self) -> int:
        return len(self.queue) + len(self.in_flight)
