"""Receiving quire's webhooks: verify Standard Webhooks signatures and serve typed handlers.

Exposed as `rg.webhooks` (the module `quire.webhooks`), beside the resource classes `rg.Webhook` /
`rg.Webhooks` that create and manage webhooks on the server.
"""

from quire.client.receiver.events import WebhookEvent, WebhookVerificationError, parse_event
from quire.client.receiver.handlers import (
    SECRET_ENV,
    WebhookApp,
    WebhookHandlers,
    app,
    handlers,
    router,
    webhook_handler,
)
from quire.client.receiver.verify import DEFAULT_TOLERANCE_SECONDS, verify

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRET_ENV",
    "WebhookApp",
    "WebhookEvent",
    "WebhookHandlers",
    "WebhookVerificationError",
    "app",
    "handlers",
    "parse_event",
    "router",
    "verify",
    "webhook_handler",
]
