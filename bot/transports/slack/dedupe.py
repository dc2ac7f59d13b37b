"""Events API deliveries, once each: Slack redelivers an event it thinks we missed (with
`X-Slack-Retry-Num`), so the first delivery of an `event_id` is processed and every later
one is dropped — judged by the id alone, never by the retry header (a first delivery may
carry one when the first attempt never reached us).

The mark is an idempotency key of its own (`slack:event-seen:<event_id>`), committed
before the work starts: a retry arriving while the first delivery is still being worked on
is dropped too. The work itself carries `slack:event:<event_id>` as its request key, so
even a second run would record once.
"""

from __future__ import annotations

from bot.services.context import ServiceContext
from bot.storage.idempotency import remember, remembered

OPERATION = "slack_event"


def first_delivery(ctx: ServiceContext, event_id: str | None) -> bool:
    """True the first time `event_id` is seen (and marks it seen); False afterwards.
    An event without an id (never sent by Slack) is processed."""
    if not event_id:
        return True
    key = f"slack:event-seen:{event_id}"
    with ctx.db.transaction() as session:
        if remembered(session, key, OPERATION) is not None:
            return False
        remember(session, key, OPERATION, {}, now=ctx.now())
    return True
