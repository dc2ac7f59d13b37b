"""The Bolt app factory: `create_app(ctx, config, client)` → a `SlackApp`.

Nothing is built at import time: the entry point (`trialbot serve`) builds the service
context, the checked `SlackConfig` and the `WebClient` (`client.build_client`), and tests
pass a client pointed at their fake Slack.

Ack first: every listener calls `ack()` and hands everything else — database reads
included — to a pool, then returns; Bolt runs the listener in the thread that received
the request and answers as soon as it returns (`process_before_response=True`), so the
ack never waits for Bolt's 10 ms poll of a listener thread, nor for a write. The work
goes to `work` (the commands' database writes); calls to Slack that must follow the ack
at once (opening a form with its trigger, which expires in about 3 s) go to `ui`, so
they never queue behind the work. Tests pass one inline executor for both, so a request
returns after its work is done, with no sleeping or polling.

Delivery: one thread drains the outbox (`Deliverer`), woken by the database each time a
transaction that queued posts commits (`Database.on_outbox_commit`) — a command's alert
leaves while its reply is still being rendered — and delivering one lane per target at
once (the channel copy and the on-call DM copy of an alert in parallel).

Process mode (`worker=`, `TRIALBOT_SLACK_WORKER=process`): this app is the acking front —
`submit` and `soon` forward the request to the worker process instead of running
anything (`front.py`), and there is no work pool, delivery thread or scheduler here; the
worker runs this same factory in thread mode, with verification off (`verify=False`).
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from bot.transports.slack.front import Worker, WorkerPool

log = logging.getLogger("trialbot.slack")

# Bolt's listener threads (Socket Mode) only ack and hand over.
LISTENER_THREADS = 16
# The work is mostly Python (parsing, grading, deciding, rendering) and one database
# writer at a time on SQLite; beyond the GIL's one core, threads only fill the waits
# for the database and for Slack (fsync on commit, response_url, chat.postMessage).
WORK_THREADS = 4
UI_THREADS = 4
DELIVERY_LANES = 4  # targets delivered at once by the delivery thread
# The listener returns right after `ack()` (everything else is handed over), so Bolt
# can answer in the receiving thread instead of polling a listener thread every 10 ms.
PROCESS_BEFORE_RESPONSE = True
# The ack path (waitress, signature check, Bolt) needs the GIL a few times per request;
# with work threads busy, each handover waits up to the switch interval (5 ms default).
SWITCH_INTERVAL = 0.001
SWEEP_SECONDS = 30.0
RETRY_SECONDS = 1.0


def tune_interpreter() -> None:
    """Called once by `trialbot serve`: hand the GIL over sooner, for the acks' sake."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def settle() -> None:
    """Called once by `trialbot serve` when start-up is done: the rules, CTCAE, templates
    and modules live as long as the process. Frozen, the collector stops walking them
    again on every full collection — a full collection stops every thread, the acks'
    included (measured: 50–100 ms unfrozen, benchmarks/slack_bench.py --trace)."""
    gc.collect()
    gc.freeze()


class InlineExecutor(Executor):
    """Runs each task at once in the caller's thread (tests: deterministic dispatch)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, as a pool's would
            future.set_exception(exc)
        return future


class _TokenGivenTwice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns, at every start, that the client given
    to it wins over that token — the client was built from that very token, so a new
    operator would only be alarmed by it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger("trialbot.slack.bolt")
    if not any(isinstance(f, _TokenGivenTwice) for f in logger.filters):
        logger.addFilter(_TokenGivenTwice())
    return logger


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
    ui: Executor = field(default_factory=InlineExecutor)
    registry: Registry = field(default_factory=build_registry)
    owner: str = field(default_factory=default_owner)
    # process mode's front: what a listener defers goes to the worker (front.forwarder)
    forward: Callable[[str], Future] | None = None

    def submit(self, what: str, fn: Callable[..., Any], *args: Any) -> Future:
        """Run `fn` after the ack; a failure is logged (what failed, never patient data)."""
        if self.forward is not None:
            return self.forward(what)
        return self.work.submit(_guarded, what, fn, args)

    def soon(self, what: str, fn: Callable[..., Any], *args: Any) -> Future:
        """Run `fn` right after the ack, never behind the work (e.g. `views.open` with a
        trigger that expires in about 3 s)."""
        if self.forward is not None:
            return self.forward(what)
        return self.ui.submit(_guarded, what, fn, args)

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

    lanes: Executor | None = None

    def deliver(self) -> list[Delivery]:
        """Deliver what the outbox holds now, from this thread."""
        return drain_outbox(
            self.ctx.db, self.notifier, now=self.ctx.now(), owner=self.owner, lanes=self.lanes
        )

    def posted(self) -> None:
        """A command may have queued posts: the delivery thread sends them now (it is
        woken by the commit already; without one — tests — they are sent here, before the
        listener returns). Never in process mode's front: it writes nothing."""
        if self.forward is not None:
            return
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
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> Deliverer:
        self._unsubscribe = self._transport.ctx.db.on_outbox_commit(self.wake)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
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
    process_before_response: bool = PROCESS_BEFORE_RESPONSE,
    ui: Executor | None = None,
    token_verification: bool = True,
    verify: bool = True,
    worker: Worker | WorkerPool | None = None,
) -> SlackApp:
    """`worker`: the app is process mode's front (see the module's docstring); `verify`
    False: the worker's app, replaying requests the front verified."""
    from bot.transports.slack import listeners

    app = App(
        client=client,
        signing_secret=config.signing_secret or "",
        request_verification_enabled=verify and config.mode == "http",
        token_verification_enabled=token_verification,
        process_before_response=process_before_response,
        listener_executor=listener_executor
        or ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"),
        logger=bolt_logger(),
    )
    if worker is not None:  # the front: nothing runs here after the ack
        from bot.transports.slack.front import FrontMiddleware, forwarder

        work = work or InlineExecutor()
        app.use(FrontMiddleware(worker))
    transport = SlackTransport(
        ctx=ctx,
        config=config,
        client=client,
        notifier=SlackNotifier(client, ctx.db, ctx.clock, ctx.renderer),
        work=work or ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="slack-work"),
        # given an (inline) work executor — tests — the rest follows it
        ui=ui or work or ThreadPoolExecutor(UI_THREADS, thread_name_prefix="slack-ui"),
        forward=forwarder(worker) if worker is not None else None,
    )
    if work is None:  # a real pool: deliver from a thread of its own, in lanes
        transport.lanes = ThreadPoolExecutor(DELIVERY_LANES, thread_name_prefix="slack-lane")
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


def _guarded(what: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run `fn(*args)` on a pool thread; a failure is logged by what failed and its type
    only (never its message: it may carry patient data), then re-raised to the future."""
    try:
        return fn(*args)
    except Exception as exc:
        log.error("slack %s failed after the ack: %s", what, type(exc).__name__)
        raise
