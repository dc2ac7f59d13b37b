"""The Bolt app factory: `create_app(ctx, config, client)` → a `SlackApp`.

Nothing is built at import time: the entry point (`trialbot serve`) builds the service
context, the checked `SlackConfig` and the `WebClient` (`client.build_client`), and tests
pass a client pointed at their fake Slack.

Ack first: every listener calls `ack()` before anything slow, then hands the work to
`work`, a pool of its own, so acks never queue behind database writes in Bolt's listener
pool (the default pool of 5 threads is shared by both: at 20 concurrent users acks waited
behind the work). Tests pass an inline executor and `process_before_response=True`, so a
request returns after its work is done, with no sleeping or polling.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.commands import dispatch
from bot.commands.registry import Registry, build_registry
from bot.commands.reply import Reply
from bot.services.context import Request, ServiceContext
from bot.transports.notifier import Delivery, drain_outbox
from bot.transports.slack import blocks as kit
from bot.transports.slack.config import SlackConfig
from bot.transports.slack.notifier import SlackNotifier
from bot.transports.slack.surfaces import Place, place_of, pointer

log = logging.getLogger("trialbot.slack")

# Bolt's listener threads only ack and hand over; the work pool does the database writes.
# Two cores and one database: more writers than this only queue on the database's locks.
LISTENER_THREADS = 16
# Work is mostly Python (parsing, grading, deciding, rendering): with the GIL, more threads
# than this only slow the acks down, which share the interpreter with the work.
WORK_THREADS = 2
SWEEP_SECONDS = 30.0
RETRY_SECONDS = 1.0


class InlineExecutor(Executor):
    """Runs each task at once in the caller's thread (tests: deterministic dispatch)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, as a pool's would
            future.set_exception(exc)
        return future


def default_owner() -> str:
    return f"slack:{socket.gethostname()}:{os.getpid()}"


@dataclass
class SlackTransport:
    """What every listener works with: the services, the command language, Slack."""

    ctx: ServiceContext
    config: SlackConfig
    client: WebClient
    notifier: SlackNotifier
    work: Executor
    registry: Registry = field(default_factory=build_registry)
    owner: str = field(default_factory=default_owner)

    def submit(self, what: str, fn: Callable[..., Any], *args: Any) -> Future:
        """Run `fn` after the ack; a failure is logged (what failed, never patient data)."""

        def guarded() -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                log.error("slack %s failed after the ack: %s", what, type(exc).__name__)
                raise

        return self.work.submit(guarded)

    def place(self, channel: str | None, channel_type: str | None = None) -> Place:
        return place_of(self.ctx, channel, channel_type)

    def pointer(self) -> str:
        return pointer(self.ctx)

    def run(
        self, user: str, text: str, *, source: str, key: str | None, site: str | None = None
    ) -> Reply:
        """One command through the same dispatcher the console uses (`site`: the study
        channel's site, for the commands that act for a site)."""
        request = Request(user=user, source=source, key=key, site=site)
        return dispatch.run(self.ctx, request, text, self.registry)

    delivery: Deliverer | None = None

    def deliver(self) -> list[Delivery]:
        """Deliver what the outbox holds now, in this thread."""
        return drain_outbox(self.ctx.db, self.notifier, now=self.ctx.now(), owner=self.owner)

    def posted(self) -> None:
        """A command may have queued posts: the delivery thread sends them now (without
        one — tests — they are sent here, before the listener returns)."""
        if self.delivery is None:
            self.deliver()
        else:
            self.delivery.wake()


class Deliverer:
    """One thread that drains the outbox whenever a listener queued posts (and every
    `sweep` seconds, so a post that failed is retried without waiting for the next
    command). One drainer per process: concurrent drains would only contend for the
    outbox rows; the posts of a burst of commands go out in one pass."""

    def __init__(self, transport: SlackTransport, *, sweep: float = SWEEP_SECONDS) -> None:
        self._transport = transport
        self._sweep = sweep
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slack-delivery", daemon=True)

    def start(self) -> Deliverer:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        wait = self._sweep
        while not self._stop.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._transport.deliver()
                wait = self._sweep
            except Exception as exc:  # e.g. the database busy or away: try again soon
                log.error("slack delivery failed: %s; retrying", type(exc).__name__)
                wait = RETRY_SECONDS


@dataclass
class SlackApp:
    app: App
    transport: SlackTransport


def create_app(
    ctx: ServiceContext,
    config: SlackConfig,
    client: WebClient,
    *,
    work: Executor | None = None,
    listener_executor: Executor | None = None,
    process_before_response: bool = False,
    token_verification: bool = True,
) -> SlackApp:
    from bot.transports.slack import listeners

    app = App(
        client=client,
        signing_secret=config.signing_secret or "",
        request_verification_enabled=config.mode == "http",
        token_verification_enabled=token_verification,
        process_before_response=process_before_response,
        listener_executor=listener_executor
        or ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"),
        logger=logging.getLogger("trialbot.slack.bolt"),
    )
    transport = SlackTransport(
        ctx=ctx,
        config=config,
        client=client,
        notifier=SlackNotifier(client, ctx.db, ctx.clock, ctx.renderer),
        work=work or ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="slack-work"),
    )
    if work is None:  # a real pool: deliver from a thread of its own
        transport.delivery = Deliverer(transport).start()
    listeners.register(app, transport)

    @app.error
    def _on_error(error: Exception, body: dict) -> None:
        kind = body.get("type") if isinstance(body, dict) else None
        log.error(
            "slack listener error (%s): %s", kind or "?", type(error).__name__, exc_info=error
        )

    return SlackApp(app, transport)


def send_reply(send: Callable[..., Any], reply: Reply | str) -> None:
    """`send(text=…, blocks=…)` once per message the reply needs."""
    text = reply.text if isinstance(reply, Reply) else reply
    for fallback, blocks in kit.reply_messages(text):
        send(text=fallback or " ", blocks=blocks)
