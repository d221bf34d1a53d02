"""Our signer against the Standard Webhooks test vector and the official library."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from quire.server.delivery.policies import ARGILLA, LANGSMITH, DeliveryPolicy, resolve
from quire.server.delivery.signing import SECRET_PREFIX, generate_secret, headers, sign


def test_standard_webhooks_vector() -> None:
    # the example from the Standard Webhooks specification
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_official_library_verifies_our_headers_including_two_secrets() -> None:
    old, new = generate_secret(), generate_secret()
    assert new.startswith(SECRET_PREFIX) and len(base64.b64decode(new.removeprefix(SECRET_PREFIX))) == 32
    body = b'{"type":"ping","version":1,"data":{}}'
    now = int(datetime.now(UTC).timestamp())
    signed = headers([new, old], "msg_abc", now, body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for secret in (new, old):  # during rotation a receiver with either secret verifies
        assert Webhook(secret).verify(body, signed) == {"type": "ping", "version": 1, "data": {}}
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + b" ", signed)


def test_policies() -> None:
    assert ARGILLA.retries_status(500) and ARGILLA.retries_status(404) and ARGILLA.retries_status(302)
    assert not ARGILLA.retries_status(410) and not ARGILLA.retries_status(204)
    assert LANGSMITH.retries_status(503) and not LANGSMITH.retries_status(404)
    assert (
        not LANGSMITH.retry_on_timeout and LANGSMITH.retry_on_connect_error and LANGSMITH.timeout_seconds == 5
    )
    custom = resolve(
        {"timeout_seconds": 1, "max_attempts": 2, "schedule_seconds": [0.5], "retry_statuses": ["429", "5xx"]}
    )
    assert custom.name == "custom" and custom.retries_status(429) and not custom.retries_status(400)
    assert ARGILLA.wait_before(2, scale=1.0) == pytest.approx(10, rel=0.11)
    assert ARGILLA.wait_before(4) == pytest.approx(180, rel=0.11)
    assert ARGILLA.wait_before(9) == pytest.approx(180, rel=0.11)  # last wait repeats
    assert ARGILLA.wait_before(3, scale=0.01) == pytest.approx(0.6, rel=0.11)
    with pytest.raises(ValueError):
        resolve("nope")
    with pytest.raises(ValueError):
        DeliveryPolicy(retry_statuses=["6xx"])
