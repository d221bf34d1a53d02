"""How many answers may wait to be recorded: 8 × concurrency per webhook being sent to
(`Dispatcher._max_unrecorded`), so busy receivers do not share one small allowance; and how many
results a round records at most, per store."""

from __future__ import annotations

import asyncio

from quire.server.db import Database
from quire.server.delivery.dispatcher import MAX_UNRECORDED, MAX_WRITE_BATCH
from tests.server.delivery.conftest import StartDispatcher, add_webhook, queue_messages, settled, wait_until
from tests.server.delivery.receiver import Receiver


async def test_the_bound_on_unrecorded_answers_grows_with_the_webhooks_being_sent_to(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    hooks = [
        await add_webhook(database, receiver.url(f"/slow/300?hook={n}"), policy="argilla") for n in range(3)
    ]
    for hook in hooks:
        await queue_messages(database, hook, [{"n": n} for n in range(4)])
    dispatcher = await start_dispatcher(database, delivery_concurrency_per_webhook=2)
    bounds: list[int] = []

    async def all_lanes_sending() -> bool:
        bounds.append(dispatcher._max_unrecorded())
        return dispatcher._lanes_sending == len(hooks)

    await wait_until(all_lanes_sending, what="every webhook's lane to be sending")
    assert bounds[-1] == MAX_UNRECORDED * 2 * len(hooks)
    for hook in hooks:
        assert len(await settled(database, hook)) == 4
    await wait_until(lambda: asyncio.sleep(0, dispatcher._lanes_sending == 0), what="senders to finish")
    assert dispatcher._max_unrecorded() == MAX_UNRECORDED * 2  # never below one lane's allowance


async def test_rounds_take_the_batch_size_of_their_store(
    database: Database, start_dispatcher: StartDispatcher
) -> None:
    dispatcher = await start_dispatcher(database)
    assert dispatcher._batch == MAX_WRITE_BATCH[database.dialect]
