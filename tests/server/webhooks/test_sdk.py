"""The official argilla 2.8.0 SDK's webhook calls against a live `quire server`."""

from __future__ import annotations

import argilla as rg
import pytest
from argilla._exceptions import ArgillaAPIError
from tests.compat.conftest import LiveServer, user_with_key

pytestmark = pytest.mark.compat


def test_create_list_update_ping_delete(client: rg.Argilla, quire_server: LiveServer) -> None:
    webhook = rg.Webhook(
        url="http://127.0.0.1:9/sdk-hook",
        events=["record.created", "response.created"],
        description="from the SDK",
    ).create()
    assert webhook.id is not None and webhook.secret.startswith("whsec_")
    assert webhook.enabled is True and webhook.description == "from the SDK"
    assert [str(e.value) for e in webhook.events] == ["record.created", "response.created"]

    listed = {w.id: w for w in client.webhooks}
    assert webhook.id in listed and listed[webhook.id].secret == webhook.secret
    assert len(client.webhooks) == len(listed) and client.webhooks.list()

    # update() PATCHes the SDK's whole model back (id, secret, timestamps included)
    webhook.events = ["record.updated"]
    webhook.enabled = False
    webhook.description = "changed"
    webhook.update()
    again = next(w for w in client.webhooks if w.id == webhook.id)
    assert [str(e.value) for e in again.events] == ["record.updated"]
    assert again.enabled is False and again.description == "changed" and again.secret == webhook.secret

    # GET /webhooks/{id} is served (the SDK's own `client.webhooks(id=…)` never calls it: its
    # WebhooksAPI has no `get` and raises NotImplementedError before any request)
    response = client.http_client.get(f"/api/v1/webhooks/{webhook.id}")
    assert response.status_code == 200 and response.json()["description"] == "changed"
    with pytest.raises(NotImplementedError):
        client.webhooks(id=webhook.id)

    client.api.webhooks.ping(webhook.id)  # 204 although nothing listens on port 9
    pings = client.http_client.get(f"/api/v1/webhooks/{webhook.id}/deliveries").json()
    assert [d["event_type"] for d in pings["items"]] == ["ping"] and pings["items"][0]["status"] == "failed"

    webhook.delete()
    assert webhook.id not in {w.id for w in client.webhooks}


def test_owner_only_through_the_sdk(client: rg.Argilla, quire_server: LiveServer) -> None:
    _, key = user_with_key(client, role="admin")
    admin = rg.Argilla(api_url=quire_server.url, api_key=key)
    with pytest.raises(ArgillaAPIError):
        admin.webhooks.list()
    rg.Argilla(api_url=quire_server.url, api_key=quire_server.api_key)  # the owner is the default again
