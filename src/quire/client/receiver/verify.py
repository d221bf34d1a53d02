"""`rg.webhooks.verify(body, headers, secret)`: check a delivery's Standard Webhooks signature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from quire.client.receiver.events import WebhookEvent, WebhookVerificationError, parse_event
from quire.standard_webhooks import DEFAULT_TOLERANCE_SECONDS, SignatureError, verify_signature

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "verify"]


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> WebhookEvent:
    """Verify one delivery and return its event.

    `body` is the request body exactly as received (bytes; text is encoded as UTF-8), `headers`
    the request headers (any mapping; names are matched case-insensitively), `secret` the
    webhook's `whsec_…` secret, or several (during a rotation, either one verifies). The
    signature is compared in constant time and `webhook-timestamp` must be within `tolerance`
    seconds of this machine's clock (`now`, for tests), either way.

    Raises `WebhookVerificationError` (a `QuireError`) with a `reason` when the delivery does not
    verify or is not an event.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    try:
        msg_id, signed_at = verify_signature(secret, headers, raw, tolerance=tolerance, now=now)
    except SignatureError as exc:
        raise WebhookVerificationError(str(exc), reason=exc.reason) from None
    return parse_event(raw, msg_id=msg_id, signed_at=signed_at)
