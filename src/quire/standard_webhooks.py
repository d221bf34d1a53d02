"""Standard Webhooks (https://www.standardwebhooks.com/) signing and verifying, standard library only.

    webhook-id:        msg_… (unique per message; the same on every retry of it)
    webhook-timestamp: seconds since the epoch when the attempt was signed
    webhook-signature: v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")> [v1,… …]

Secrets are `whsec_` + base64 of the key (quire makes 32 random bytes). During a secret rotation
both secrets sign and the header carries both signatures, space-separated; a receiver accepts a
message when any signature matches any of its secrets.

The server signs with this module and the SDK's receiver helper (`rg.webhooks.verify`) verifies
with it, so both sides share one implementation. It imports nothing outside the standard library.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRET_PREFIX",
    "SignatureError",
    "generate_secret",
    "headers",
    "secret_key",
    "sign",
    "signature_header",
    "verify_signature",
]

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 5 * 60
"""How far `webhook-timestamp` may be from the receiver's clock (either way): the specification's
suggestion, wide enough for retries signed just before a slow network, narrow against replays."""

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class SignatureError(ValueError):
    """A message that does not verify. `reason` is one of `missing_header`, `invalid_timestamp`,
    `timestamp_too_old`, `timestamp_in_future`, `invalid_secret`, `no_matching_signature`."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@functools.lru_cache(maxsize=1024)
def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (`whsec_` prefix optional, as receivers accept both)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<signature>` of one message with one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


def headers(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed JSON message."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets_, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def _header(values: Mapping[str, str], name: str) -> str:
    value = values.get(name)
    if value is None:  # a plain dict with other capitalisation (`Webhook-Id`)
        value = next((v for k, v in values.items() if k.lower() == name), None)
    if value is None or not str(value).strip():
        raise SignatureError(f"the {name} header is missing", reason="missing_header")
    return str(value).strip()


def verify_signature(
    secrets_: str | Iterable[str],
    message_headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> tuple[str, int]:
    """Check a message's signature against one secret or several (any may match) and its timestamp
    against the clock (`now`, default the current time, ± `tolerance` seconds). Signatures are
    compared in constant time; signature versions other than `v1` are ignored.

    Returns `(webhook-id, webhook-timestamp)`; raises `SignatureError` saying what is wrong."""
    msg_id = _header(message_headers, ID_HEADER)
    raw_timestamp = _header(message_headers, TIMESTAMP_HEADER)
    signature_value = _header(message_headers, SIGNATURE_HEADER)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} {raw_timestamp!r} is not a number of seconds", reason="invalid_timestamp"
        ) from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {current - timestamp:.0f}s old, more than the {tolerance:g}s tolerance "
            "(a replayed message, or this machine's clock is wrong)",
            reason="timestamp_too_old",
        )
    if timestamp > current + tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {timestamp - current:.0f}s in the future, more than the "
            f"{tolerance:g}s tolerance (check the clocks)",
            reason="timestamp_in_future",
        )
    candidates = [secrets_] if isinstance(secrets_, str) else list(secrets_)
    if not candidates:
        raise SignatureError("no secret to verify with", reason="invalid_secret")
    expected: list[bytes] = []
    for secret in candidates:
        try:
            key = secret_key(secret)
        except (binascii.Error, ValueError):
            raise SignatureError(
                f"the secret is not {SECRET_PREFIX} followed by base64", reason="invalid_secret"
            ) from None
        signed = f"{msg_id}.{timestamp}.".encode() + body
        expected.append(hmac.new(key, signed, hashlib.sha256).digest())
    matched = False
    for part in signature_value.split():
        version, _, encoded = part.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        for digest in expected:  # no early exit: the time taken does not depend on which matched
            matched |= hmac.compare_digest(digest, given)
    if not matched:
        raise SignatureError(
            "no signature in webhook-signature matches the secret (wrong secret, or the body was altered)",
            reason="no_matching_signature",
        )
    return msg_id, timestamp
