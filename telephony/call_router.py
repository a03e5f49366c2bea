"""The calls feature's routing side: decide where a held call goes, and keep the lease.

Two tasks, neither on the AMI event path:

- `route_loop`: per `RouteJob` (a held call, queued by `telephony.call_tracker`), reads
  the caller's facts from the store, asks the pure router (`telephony.routing.decide`,
  presence for "is the last operator ready"), then sends `Setvar HOTLINE_ROUTE` and
  `Redirect` to `hotline-route`. The call is committed as routed (`CallTracker.
  commit_route`: bus and store) between the two actions, so the events the Redirect
  causes find it routed, in order. The time from the AMI event to the Redirect's answer
  is the decision latency (`latencies`). A failed action is logged; the dialplan's own
  timer then sends the call to the default queue. At most `ROUTE_CONCURRENCY` decisions
  run at once.
- `lease_loop`: renews the global HOTLINE_ROUTER_UNTIL (now + lease_seconds) every
  lease/3 s; the dialplan holds calls only while the lease is valid, and clears it when
  the server stops. So with no server, calls go straight to the default queue; with a
  dead one, they wait at most hold_seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CallsSettings
from telephony import ami_actions, call_repo
from telephony.ami import AmiClient
from telephony.ami_errors import AmiError
from telephony.call_tracker import CallTracker, RouteJob
from telephony.calls import Call
from telephony.catalogue import Catalogue
from telephony.presence import Presence
from telephony.routing import (
    CallerFacts,
    IncomingCall,
    RouteDecision,
    RoutingPolicy,
    decide,
    is_withheld,
)

log = structlog.get_logger("telephony.calls")

ROUTE_CONTEXT = "hotline-route"
ROUTE_CONCURRENCY = 32


class CallRouter:
    def __init__(
        self,
        *,
        settings: CallsSettings,
        catalogue: Catalogue,
        ami: AmiClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        presence: Presence,
        tracker: CallTracker,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._ami = ami
        self._sessionmaker = sessionmaker
        self._presence = presence
        self._tracker = tracker
        self._clock = clock
        self._policy = RoutingPolicy(
            preferred_days=settings.preferred_days,
            key_caller_threshold=settings.key_caller_threshold,
            key_caller_days=settings.key_caller_days,
            key_caller_boost=settings.key_caller_boost,
            preferred_ring_seconds=settings.preferred_ring_seconds,
        )
        self.latencies: deque[float] = deque(maxlen=100_000)  # seconds, event -> Redirect
        self.routed = 0
        self.route_failures = 0

    async def route_loop(self) -> None:
        limit = asyncio.Semaphore(ROUTE_CONCURRENCY)
        async with asyncio.TaskGroup() as tg:
            while True:
                job = await self._tracker.holding.get()
                await limit.acquire()
                task = tg.create_task(self._route(job))
                task.add_done_callback(lambda _t: limit.release())

    async def _route(self, job: RouteJob) -> None:
        call = job.call
        bind = log.bind(call_id=call.linkedid)
        try:
            facts = await self._facts(call)
            decided = time.monotonic()
            decision = decide(
                IncomingCall(call.dnis, call.caller_number, call.caller_name),
                facts, self._catalogue, self._policy, self._presence.is_ready,
                staffed=self._tracker.roster.staffed,
            )  # fmt: skip
            await self._ami.send(ami_actions.setvar(job.channel, "HOTLINE_ROUTE",
                                                    self._route_value(decision)))  # fmt: skip
            # Committed from here: the call is routed before the Redirect goes out, so the
            # events it causes (QueueCallerJoin, ...) find it routed, in order.
            if not self._tracker.commit_route(call, decision):
                return
            await self._ami.send(ami_actions.redirect(job.channel, ROUTE_CONTEXT, "s"))
        except (AmiError, TimeoutError) as err:
            self.route_failures += 1
            bind.warning("route.failed", error=str(err))  # the dialplan's timer takes over
            return
        except Exception:
            self.route_failures += 1
            bind.exception("route.failed")
            return
        done = time.monotonic()
        latency = done - job.received
        self.latencies.append(latency)
        self.routed += 1
        bind.info("call.routed", queue=decision.queue, priority=decision.priority,
                  preferred=decision.preferred_operator, flags=list(decision.flags),
                  reasons=decision.summary(), latency_ms=round(latency * 1000, 2),
                  decide_ms=round((decided - job.received) * 1000, 2),
                  actions_ms=round((done - decided) * 1000, 2))  # fmt: skip

    async def _facts(self, call: Call) -> CallerFacts:
        if is_withheld(call.caller_number):
            return CallerFacts()
        assert call.caller_number is not None
        async with self._sessionmaker() as session:
            count, last = await call_repo.routing_facts(
                session=session, number=call.caller_number,
                key_caller_days=self._settings.key_caller_days,
                preferred_days=self._settings.preferred_days,
                now=self._clock(), exclude_linkedid=call.linkedid,
            )  # fmt: skip
        return CallerFacts(recent_calls=count, last_operator=last)

    def _route_value(self, d: RouteDecision) -> str:
        overflow = self._settings.overflow_seconds or d.overflow_seconds
        if d.queue == d.overflow_queue:
            overflow = 0  # no wider group to go to: wait in the queue itself
        operator = d.preferred_operator
        preferred = self._tracker.interfaces.interface(operator) if operator else ""
        ring = d.preferred_ring_seconds if preferred else 0
        return f"{d.queue}|{d.priority}|{overflow}|{d.overflow_queue}|{preferred}|{ring}"

    async def lease_loop(self) -> None:
        lease = self._settings.lease_seconds
        try:
            while True:
                until = int(time.time()) + lease
                try:
                    await self._ami.send(ami_actions.setvar(None, "HOTLINE_ROUTER_UNTIL",
                                                            str(until)))  # fmt: skip
                except (AmiError, TimeoutError) as err:
                    log.warning("route.lease_not_renewed", error=str(err))
                await asyncio.sleep(lease / 3)  # a timer: renew well before the lease ends
        finally:
            try:
                async with asyncio.timeout(1.0):
                    await self._ami.send(ami_actions.setvar(None, "HOTLINE_ROUTER_UNTIL", "0"))
            except (AmiError, TimeoutError, asyncio.CancelledError):
                log.warning("route.lease_not_released")
