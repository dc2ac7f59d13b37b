"""APScheduler 3.x as an in-process timer, nothing more.

Every replica registers the same jobs (tick, and deliver unless the transport delivers
itself) in code at start-up, in a memory job store (no
persistent store: 3.x job stores must never be shared between processes), in UTC, with
coalescing and one instance per job. The jobs only call the services: `tick(now)` writes
the outbox, `deliver` drains it; the database decides which replica does what (dedupe
keys, leases). Missing a run is harmless: the next one does whatever is due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC

from bot.clock import Clock
from bot.services.context import ServiceContext
from bot.services.tick import tick
from bot.transports.delivery import deliver
from bot.transports.notifier import Notifier

log = logging.getLogger("trialbot.scheduler")

TICK_SECONDS = 30
DELIVER_SECONDS = 5


def build_scheduler(
    ctx: ServiceContext,
    notifier: Notifier | None,
    *,
    owner: str,
    tick_seconds: float = TICK_SECONDS,
    deliver_seconds: float = DELIVER_SECONDS,
    lease_clock: Clock | None = None,
    after_tick: Callable[[], None] | None = None,
):
    """A BackgroundScheduler (not started) with the tick and delivery jobs. Leases are
    measured with `lease_clock` (default: the database server's time on PostgreSQL).
    With `notifier` None there is no delivery job: the transport delivers what a tick
    queued (`trialbot serve`: the Slack app's delivery thread, woken by `after_tick`)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    lease_clock = lease_clock or ctx.db.clock()

    def run_tick() -> None:
        try:
            tick(ctx, ctx.now())
            if after_tick is not None:
                after_tick()
        except Exception:  # the next run retries; never kill the timer thread
            log.exception("tick failed")

    def run_delivery() -> None:
        try:
            deliver(ctx.db, notifier, lease_clock, owner=owner, sleep=time.sleep)
        except Exception:
            log.exception("delivery failed")

    scheduler.add_job(
        run_tick,
        IntervalTrigger(seconds=tick_seconds, jitter=min(5, tick_seconds / 4)),
        id="tick",
        replace_existing=True,
    )
    if notifier is None:
        return scheduler
    scheduler.add_job(
        run_delivery,
        IntervalTrigger(seconds=deliver_seconds),
        id="deliver",
        replace_existing=True,
    )
    return scheduler
