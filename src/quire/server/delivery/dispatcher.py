"""The dispatcher: a long-lived service that claims due deliveries, sends them, records every
attempt and schedules retries. One per process (`quire server`, or each `quire worker` process).

    claim loop ──claims──▶ lane per webhook (queue + N senders) ──answers──▶ round loop
        ▲  wake: commit here, NOTIFY, retry due, poll                   │  one transaction: record
        └───────────────────────────────────────────────────────────────┘  answers, refill lanes

- **Claims** are per webhook (`lanes.py`), so a slow or dead receiver fills only its own lane. A
  full cycle — on a commit in this process (`Database.outbox_listeners`), PostgreSQL `NOTIFY
  quire_outbox` from any process, the time the next retry is due, or the safety poll
  (`QUIRE_DELIVERY_POLL_SECONDS`) — reads in one write transaction which enabled webhooks have due
  deliveries and claims them with their bodies (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
  workers claim disjoint sets). Lanes working through a backlog are refilled by the rounds.
- **Rounds** (group commit): answers queue up while the previous round commits; one transaction
  records them (every attempt, the delivery's new state, the webhook's failure streak, disabling),
  gives back claims that will not be sent, and refills busy lanes.
- **Leases**: a claim's lease outlives two policy timeouts + 15 s (at least
  `QUIRE_DELIVERY_LEASE_SECONDS`); a claim is only sent while its lease covers the whole attempt,
  and its result only written while the lease is ours (`lease_owner = :me`), so two workers never
  run the same attempt concurrently. Every poll, claims whose lease expired, or whose owner is a
  dead process of this machine, go back to pending. On SQLite one dispatcher per database works at
  a time (`leadership.py`).
- **Crash duplicates** are bounded: a crash re-sends what was in flight or answered but not yet
  recorded, and senders pause when too many answers wait for a slow database (`MAX_UNRECORDED`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

from quire.server.db import Database
from quire.server.delivery import store
from quire.server.delivery.lanes import Lane
from quire.server.delivery.leadership import Leadership
from quire.server.delivery.listener import listen_forever
from quire.server.delivery.metrics import DeliveryMetrics
from quire.server.delivery.outcomes import decide
from quire.server.delivery.sender import AttemptResult, Sender, guard_of
from quire.server.delivery.workers import is_dead, worker_id
from quire.server.models import utcnow
from quire.server.settings import Settings

logger = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 15.0
SEND_MARGIN_SECONDS = 5.0
MAX_WRITE_BATCH = {"sqlite": 1000, "postgresql": 200}
"""Results recorded per round, at most. PostgreSQL's round statement slows down more than in
proportion past a few hundred rows (ten receivers: 22-25% of the bare client with rounds of up to
1,000, 31-36% with 200)."""
WRITE_GATHER_SECONDS = 0.005
MAX_UNRECORDED = 8
SLOW_MAX_UNRECORDED = 2
SLOW_ROUND_SECONDS = 0.25
"""Senders pause while more than MAX_UNRECORDED × concurrency × (lanes sending) answers wait to be
recorded — only SLOW_MAX_UNRECORDED × … while rounds take longer than SLOW_ROUND_SECONDS (the
database is busy, e.g. an API write holds SQLite's lock): a crash re-sends what was sent but not yet
recorded, so that stays bounded, in proportion to what is in flight, instead of growing with the
database's delay. (A bound that ignored the number of lanes held ten busy receivers' 160 senders
to 128 answers between them: they spent their time waiting for rounds and waking each other.)"""


class Dispatcher:
    """`await start()`, `wake()` (thread-safe), `await stop()`; see the module docstring."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        metrics: DeliveryMetrics | None = None,
        owner: str | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.metrics = metrics or DeliveryMetrics()
        self.owner = owner or worker_id()
        self.concurrency = settings.delivery_concurrency_per_webhook
        self._batch = MAX_WRITE_BATCH[database.dialect]
        self._leadership: Leadership | None = None
        if database.dialect == "sqlite":
            self._leadership = Leadership(
                database,
                owner=self.owner,
                seconds=settings.delivery_lease_seconds,
                poll_seconds=settings.delivery_poll_seconds,
                on_gain=self._gained,
                on_lose=self._lost,
            )
        self._sender = Sender(guard_of(settings))
        self._lanes: dict[uuid.UUID, Lane] = {}
        self._wake = asyncio.Event()
        self._next_due = 0.0
        self._results: list[store.Finished] = []
        self._releases: list[uuid.UUID] = []
        self._results_ready = asyncio.Event()
        self._recorded = asyncio.Event()
        self._recording = 0
        self._slow_rounds = False
        self._round_began: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._senders: set[asyncio.Task[None]] = set()
        self._lanes_sending = 0  # lanes with at least one sender
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._next_sweep = 0.0
        self._rng = random.Random()

    # ----- life cycle -----

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._sender.start()
        self.database.outbox_listeners.append(self.wake)
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="quire-dispatch-claims"),
            asyncio.create_task(self._round_loop(), name="quire-dispatch-rounds"),
        ]
        if self._leadership is None:
            self._tasks.append(asyncio.create_task(listen_forever(self.database.url, self.wake)))
        else:
            self._tasks.append(asyncio.create_task(self._leadership.run(), name="quire-dispatch-lease"))
        logger.info("dispatcher %s started", self.owner)

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Stop claiming, let requests in flight finish (up to `grace_seconds`), record them, give
        back what was claimed but not sent."""
        if self._stopping:
            return
        self._stopping = True
        self._recorded.set()  # senders waiting for the writer stop waiting
        if self.wake in self.database.outbox_listeners:
            self.database.outbox_listeners.remove(self.wake)
        claim_loop, writer, *others = self._tasks
        self._wake.set()  # the claim loop ends after its current cycle (a claim is never cut in half)
        try:
            await asyncio.wait_for(asyncio.shield(claim_loop), timeout=grace_seconds)
        except (TimeoutError, Exception):
            claim_loop.cancel()
        for task in others:
            task.cancel()
        await asyncio.gather(claim_loop, *others, return_exceptions=True)
        if self._senders:  # each finishes the request it is making, then stops
            _done, pending = await asyncio.wait(set(self._senders), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for lane in self._lanes.values():
            self._give_back(lane)
        self._results_ready.set()
        try:
            await asyncio.wait_for(writer, timeout=grace_seconds)
        except (TimeoutError, Exception):
            logger.exception("dispatcher %s: could not record the last attempts", self.owner)
            writer.cancel()
        if self._leadership is not None:
            await self._leadership.release()
        await self._sender.close()
        logger.info("dispatcher %s stopped", self.owner)

    @property
    def dispatching(self) -> bool:
        """PostgreSQL: always; SQLite: while this dispatcher holds the lease."""
        return self._leadership is None or self._leadership.held

    def _gained(self, _previous: str | None) -> None:
        self._next_sweep = 0.0
        self.wake()

    def _lost(self) -> None:
        for lane in self._lanes.values():
            self._give_back(lane)

    def wake(self) -> None:
        """Claim now (thread-safe; called after commits that wrote deliveries)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    # ----- claiming -----

    async def _claim_loop(self) -> None:
        """Full cycles: on a commit, NOTIFY, a scheduled retry or the poll, read which webhooks have
        due deliveries and claim for them. (Lanes that are busy working through a backlog are
        refilled by the rounds of `_round_loop`, in the transaction that records results.)"""
        poll = self.settings.delivery_poll_seconds
        delay = 0.0
        while not self._stopping:
            if delay > 0 and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            if self._stopping:
                return
            self._wake.clear()
            if not self.dispatching:
                delay = poll
                continue
            try:
                delay = await self._cycle()
            except Exception:
                logger.exception("dispatcher %s: claim failed; retrying", self.owner)
                delay = min(poll, 1.0)

    async def _cycle(self) -> float:
        """Read which webhooks have due deliveries, claim; returns seconds until more will be due."""
        now = utcnow()
        poll = self.settings.delivery_poll_seconds
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + poll
            await self._sweep()
        wants: list[store.Want] = []
        try:  # one transaction reads what is due and claims it
            async with self.database.transaction() as session:
                webhooks = {w.id: w for w in await store.enabled_webhooks(session, now=now)}
                next_due, due = self._due(webhooks, now)
                wants = self._wants(due)
                claims = await store.claim(
                    session, dialect=self.database.dialect, owner=self.owner, wants=wants, now=now
                )
        except BaseException:
            self._claimed(wants, [])
            raise
        self._claimed(wants, claims, states=webhooks)
        seconds = max(0.0, (next_due - utcnow()).total_seconds())
        self._next_due = time.monotonic() + seconds
        return seconds

    def _due(
        self, webhooks: dict[uuid.UUID, store.WebhookState], now: datetime
    ) -> tuple[datetime, list[tuple[store.WebhookState, Lane | None]]]:
        """Refresh the lanes' webhooks (dropping the disabled and deleted); which webhooks have due
        deliveries, and when the next scheduled one is due."""
        for webhook_id, lane in list(self._lanes.items()):
            if webhook_id in webhooks:
                lane.webhook = webhooks[webhook_id]
            else:  # disabled or deleted: send nothing more
                self._give_back(lane)
                if not lane.in_flight and not lane.senders and not lane.claiming:
                    del self._lanes[webhook_id]
        next_due = now + timedelta(seconds=self.settings.delivery_poll_seconds)
        due = []
        for webhook in webhooks.values():
            if webhook.next_due is None:
                continue
            if webhook.next_due > now:
                next_due = min(next_due, webhook.next_due)
            else:
                due.append((webhook, self._lanes.get(webhook.id)))
        return next_due, due

    def _wants(self, candidates: list[tuple[store.WebhookState, Lane | None]]) -> list[store.Want]:
        """Claims to make: for each webhook whose lane has room for at least `concurrency` more
        (and is not being claimed for already), as many as fit."""
        now = utcnow()
        wants = []
        for webhook, lane in candidates:
            if lane is not None and lane.claiming:
                continue
            room = self._room(lane)
            if room >= self.concurrency:
                wants.append((webhook.id, room, now + timedelta(seconds=self._lease_seconds(webhook))))
                if lane is not None:
                    lane.claiming = True
        return wants

    def _claimed(
        self,
        wants: list[store.Want],
        claims: list[store.Claim],
        *,
        states: dict[uuid.UUID, store.WebhookState] | None = None,
    ) -> None:
        """Put claims in their lanes and start sending (with no claims: only end the claiming)."""
        for claimed in claims:
            if claimed.webhook_id not in self._lanes:
                assert states is not None
                self._lanes[claimed.webhook_id] = Lane(states[claimed.webhook_id])
            self._lanes[claimed.webhook_id].queue.append(claimed)
        got = Counter(claimed.webhook_id for claimed in claims)
        for webhook_id, limit, _until in wants:
            lane = self._lanes.get(webhook_id)
            if lane is not None:
                lane.claiming = False
                if states is not None or claims:
                    lane.backlog = got[webhook_id] >= limit
                self._spawn_senders(lane)

    def _lease_seconds(self, webhook: store.WebhookState) -> float:
        timeout = webhook.policy.timeout_seconds * self.settings.delivery_timeout_scale
        return max(self.settings.delivery_lease_seconds, 2 * timeout + LEASE_MARGIN_SECONDS)

    def _room(self, lane: Lane | None) -> int:
        if lane is None:
            return 2 * self.concurrency  # a first claim: no idea yet how fast it answers
        return lane.capacity(self.concurrency) - lane.busy

    async def _sweep(self) -> None:
        """Put back claims of crashed workers (expired leases, dead processes of this machine)."""
        now = utcnow()
        async with self.database.session(write=False) as session:
            holders = await store.lease_holders(session)
        dead = [owner for owner, _ in holders if owner and owner != self.owner and is_dead(owner)]
        expired = any(expires is not None and expires < now for _, expires in holders)
        if not dead and not expired:
            return
        async with self.database.transaction() as session:
            count = await store.release_stale(
                session, dialect=self.database.dialect, dead_owners=dead, now=now
            )
        if count:
            logger.warning("dispatcher %s: took back %d claims of crashed workers", self.owner, count)

    def _give_back(self, lane: Lane) -> None:
        while lane.queue:
            self._releases.append(lane.queue.popleft().id)
        self._results_ready.set()

    # ----- sending -----

    def _spawn_senders(self, lane: Lane) -> None:
        while lane.senders < self.concurrency and lane.senders < len(lane.queue):
            if lane.senders == 0:
                self._lanes_sending += 1
            lane.senders += 1
            task = asyncio.create_task(self._send_from(lane))
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)

    async def _send_from(self, lane: Lane) -> None:
        try:
            while lane.queue and not self._stopping:
                while len(self._results) + self._recording >= self._max_unrecorded() and not self._stopping:
                    self._recorded.clear()  # what a crash would send twice stays bounded
                    await self._recorded.wait()
                if not lane.queue or self._stopping:
                    break
                if lane.failing >= self.settings.delivery_failures_before_disable:
                    self._give_back(lane)  # about to be disabled: send no more meanwhile
                    break
                claimed = lane.queue.popleft()
                webhook = lane.webhook
                target = lane.target(self.settings.delivery_timeout_scale)
                latest_start = claimed.lease_expires_at - timedelta(
                    seconds=target.timeout + SEND_MARGIN_SECONDS
                )
                if utcnow() > latest_start:  # the claim may not outlive the attempt: let it go
                    self._releases.append(claimed.id)
                    self._results_ready.set()
                    continue
                lane.in_flight[claimed.id] = claimed
                try:
                    if claimed.body is None:
                        result = AttemptResult(utcnow(), 0.0, "error", error="the stored event is gone")
                    else:
                        result = await self._sender.send(target, claimed.body, claimed.msg_id)
                except asyncio.CancelledError:
                    self._releases.append(claimed.id)
                    raise
                finally:
                    lane.in_flight.pop(claimed.id, None)
                decision = decide(
                    webhook.policy,
                    attempt=claimed.attempt,
                    result=result,
                    now=utcnow(),
                    schedule_scale=self.settings.delivery_schedule_scale,
                    rng=self._rng,
                )
                if decision.verdict == "succeeded":
                    lane.failing = 0
                elif decision.verdict == "failed":
                    lane.failing += 1
                self.metrics.observe(result, decision)
                self._results.append(store.Finished(claimed, result, decision))
                self._results_ready.set()
                lane.seconds_per_attempt += (result.duration_ms / 1000 - lane.seconds_per_attempt) * 0.1
        finally:
            lane.senders -= 1
            if lane.senders == 0:
                self._lanes_sending -= 1

    # ----- recording (and refilling) -----

    async def _round_loop(self) -> None:
        """Rounds: one transaction records the finished attempts, gives back claims, and refills
        the lanes working through a backlog (one transaction, not three: on SQLite every
        transaction queues for the single writer)."""
        while True:
            await self._results_ready.wait()
            if not self._stopping and len(self._results) < self._batch and not self._starving():
                await asyncio.sleep(WRITE_GATHER_SECONDS)  # let a batch gather (group commit)
            self._results_ready.clear()
            while True:
                batch, self._results = self._results[: self._batch], self._results[self._batch :]
                self._recording = len(batch)
                releases, self._releases = self._releases, []
                refill: list[store.Want] = []
                if self.dispatching and not self._stopping:
                    refill = self._wants(
                        [(lane.webhook, lane) for lane in self._lanes.values() if lane.backlog]
                    )
                if not batch and not releases and not refill:
                    break
                try:
                    report, claims = await self._round(batch, releases, refill)
                except Exception:
                    self._recording = 0
                    logger.exception("dispatcher %s: recording attempts failed; retrying", self.owner)
                    self._claimed(refill, [])
                    self._results[:0] = batch
                    self._releases[:0] = releases
                    await asyncio.sleep(0.5)
                    continue
                self._recording = 0
                self._recorded.set()
                self._claimed(refill, claims)
                if report.lost:
                    self.metrics.claims_lost.inc(len(report.lost))
                    logger.warning(
                        "dispatcher %s: %d claims had passed to another worker", self.owner, len(report.lost)
                    )
                for webhook_id, reason in report.disabled.items():
                    logger.warning("webhook %s disabled: %s", webhook_id, reason)
                    lane = self._lanes.get(webhook_id)
                    if lane is not None:
                        self._give_back(lane)
                if report.disabled or releases or any(f.decision.verdict == "retry" for f in batch):
                    self.wake()  # a retry is scheduled, or claims went back: the timer must know
                if not self._stopping and len(self._results) < self._batch and not self._starving():
                    break  # the rest can wait for the next gathering
            if self._stopping and not self._senders:
                return

    def _max_unrecorded(self) -> int:
        slow = self._slow_rounds or (
            self._round_began is not None and time.monotonic() - self._round_began > SLOW_ROUND_SECONDS
        )
        lanes = max(1, self._lanes_sending)
        return self.concurrency * lanes * (SLOW_MAX_UNRECORDED if slow else MAX_UNRECORDED)

    def _starving(self) -> bool:
        """A lane with more to do has fewer queued than it can send at once: refill without delay."""
        return any(lane.backlog and len(lane.queue) < self.concurrency for lane in self._lanes.values())

    async def _round(
        self, batch: list[store.Finished], releases: list[uuid.UUID], refill: list[store.Want]
    ) -> tuple[store.FinishReport, list[store.Claim]]:
        now = utcnow()
        began = self._round_began = time.monotonic()
        try:
            async with self.database.transaction() as session:
                report = await store.finish(
                    session,
                    dialect=self.database.dialect,
                    owner=self.owner,
                    batch=batch,
                    failures_before_disable=self.settings.delivery_failures_before_disable,
                    now=now,
                )
                await store.release(session, owner=self.owner, ids=releases, now=now)
                claims = await store.claim(
                    session, dialect=self.database.dialect, owner=self.owner, wants=refill, now=now
                )
        finally:
            self._slow_rounds = time.monotonic() - began > SLOW_ROUND_SECONDS
            self._round_began = None
        return report, claims
