"""`rg.webhooks`: receiving quire's webhooks (see `quire.client.receiver`).

    event = rg.webhooks.verify(body, headers, secret)      # -> rg.webhooks.WebhookEvent

    @rg.webhook_handler("record.completed")                # = rg.webhooks.webhook_handler
    def on_completed(event): ...
    app = rg.webhooks.app(secret)                          # ASGI; or rg.webhooks.router(secret) for FastAPI

Lower-case `rg.webhooks` is this module; `rg.Webhook` / `rg.Webhooks` (and `client.webhooks`) are
the resources that create and manage the webhooks on the server.
"""

# The receiver package's public names, re-exported as they are (its `__all__` is the one list).
from quire.client.receiver import *  # noqa: F403
from quire.client.receiver import __all__ as __all__
