"""`trialbot serve`: check every setting, build the app, run Socket Mode or HTTP mode.

Start-up problems (a missing token, a malformed URL, an unknown site in
TRIALBOT_SITE_CHANNELS, a database that cannot be reached, a token Slack refuses) are
collected and printed one per line, and the process exits 2 — no traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import RulesError, UserError
from bot.transports.slack.config import DEFAULT_HOST, DEFAULT_PORT, SlackConfigError

log = logging.getLogger("trialbot.slack")
EXIT_REFUSED = 2


@dataclass(frozen=True)
class ServeOptions:
    http: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    scheduler: bool = True


def check_options(options: ServeOptions) -> list[str]:
    problems = []
    if not 0 <= options.port <= 65535:
        problems.append(f"--port: {options.port} is not a port (0–65535)")
    if not options.host.strip():
        problems.append("--host: empty (e.g. 127.0.0.1)")
    return problems


def prepare(options: ServeOptions, env: Mapping[str, str]):
    """Settings, context, Slack config and client — or SlackConfigError with every problem."""
    from bot.settings import load_settings

    problems = check_options(options)
    settings = None
    try:
        settings = load_settings()
    except UserError as exc:
        problems.append(exc.message)
    if settings is not None and not settings.admins:
        problems.append(
            "TRIALBOT_ADMINS: not set — Slack needs at least one admin (a Slack user id "
            "such as U012ABCDEF) to grant the team's roles"
        )
    ctx = None
    known_sites: list[str] = []
    if settings is not None:
        from bot.services import build_context

        try:
            ctx = build_context(settings)
            known_sites = [s.id for s in ctx.rules.sites.sites]
        except UserError as exc:
            problems.append(exc.message)
        except RulesError as exc:
            problems.extend(f"rules: {p}" for p in exc.problems)
    from bot.transports.slack.config import load_slack_config

    config = None
    try:
        config = load_slack_config(env, http=options.http, known_sites=known_sites)
    except SlackConfigError as exc:
        problems.extend(exc.problems)
    several = config is not None and (config.workers or 1) > 1
    if several and ctx is not None and ctx.db.dialect == "sqlite":
        problems.append(
            f"TRIALBOT_SLACK_WORKERS: {config.workers} worker processes need PostgreSQL "
            "(SQLite takes one writing process: 1, or auto)"
        )
    if problems:
        if ctx is not None:
            ctx.db.dispose()
        raise SlackConfigError(problems)
    assert ctx is not None and config is not None
    from bot.transports.slack.client import build_client

    client = build_client(config)
    try:
        identity = client.auth_test()
    except Exception as exc:
        ctx.db.dispose()
        raise SlackConfigError(
            [f"SLACK_BOT_TOKEN: Slack did not accept it ({_slack_error(exc)})"]
        ) from None
    if config.site_channels:
        from bot.services.sites import configure_channels

        configure_channels(ctx, config.site_channels)
    return ctx, config, client, identity


def _slack_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return str(response.get("error") or response.status_code)
        except Exception:
            pass
    return f"{type(exc).__name__}: {exc}"[:200]


def run(
    options: ServeOptions,
    env: Mapping[str, str] | None = None,
    *,
    stop: threading.Event | None = None,
    ready: Callable[[int], None] | None = None,
    timer: Callable[[Any], Any] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or `stop` is set); `ready(port)` once listening.
    `timer(slack)` builds the scheduler beside the app (default `scheduler_for`; tests
    inject their own); it is started before serving and shut down after, unless
    `options.scheduler` is False (`--no-scheduler`)."""
    _log_to_stderr()
    try:
        ctx, config, client, identity = prepare(options, env if env is not None else os.environ)
    except SlackConfigError as exc:
        print("trialbot serve: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED
    from bot.transports.slack.app import create_app, settle, tune_interpreter

    worker = None
    if config.worker == "process":
        try:
            worker = start_worker(ctx, config, options)
        except Exception as exc:  # WorkerError, or the process could not be created
            print("trialbot serve: cannot start:", file=sys.stderr)
            print(f"  TRIALBOT_SLACK_WORKER=process: {exc}", file=sys.stderr)
            ctx.db.dispose()
            return EXIT_REFUSED
    slack = create_app(ctx, config, client, worker=worker)
    tune_interpreter()
    stop = stop or threading.Event()
    _on_signals(stop)
    bot = identity.get("user_id")
    # process mode: the scheduler runs in the worker, beside the delivery thread
    scheduler = start_scheduler(slack, timer) if options.scheduler and worker is None else None
    settle()  # start-up is done: freeze what it loaded (app.settle)
    state = worker.state if worker is not None else (lambda: {"mode": "thread"})
    try:
        if options.http:
            return _serve_http(slack, options, stop, bot, ready, state)
        return _serve_socket(slack, config, stop, bot)
    finally:
        if worker is not None:
            worker.stop()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        if slack.transport.delivery is not None:
            slack.transport.delivery.stop()
        ctx.db.dispose()


def start_worker(ctx, config, options: ServeOptions):
    """Process mode: the worker processes (each its own context from the same settings
    and clock, and its own delivery thread; the first runs the scheduler unless
    `--no-scheduler`), once ready. How many: TRIALBOT_SLACK_WORKERS (`worker_count`)."""
    from bot.transports.slack.config import worker_count
    from bot.transports.slack.front import Worker, WorkerPool
    from bot.transports.slack.worker import WorkerSpec

    count = worker_count(config, ctx.db.dialect, os.cpu_count())
    specs = [
        WorkerSpec(ctx.settings, config, scheduler=options.scheduler and n == 0, clock=ctx.clock)
        for n in range(count)
    ]
    worker = Worker(specs[0]).start() if count == 1 else WorkerPool(specs).start()
    log.warning(
        "trialbot serve: acks here, the work in %s (pid %s%s; "
        "TRIALBOT_SLACK_WORKER=thread for one process)",
        "a worker process" if count == 1 else f"{count} worker processes",
        ", ".join(str(pid) for pid in worker.pids),
        ", with the scheduler" if worker.scheduler else "",
    )
    return worker


def scheduler_for(slack):
    """The scheduler (bot/scheduler/timer.py) beside the app, not started: its tick
    queues digests, reminders, escalations and time-based reviews; the app's one delivery
    thread sends them (woken after each tick)."""
    from bot.cli.tick import owner_name
    from bot.scheduler.timer import build_scheduler

    return build_scheduler(
        slack.transport.ctx, None, owner=owner_name("serve"), after_tick=slack.transport.posted
    )


def start_scheduler(slack, timer: Callable[[Any], Any] | None = None):
    """Build (`timer`, default `scheduler_for`) and start the scheduler. Any number of
    replicas may run it against one PostgreSQL; on SQLite exactly one
    (docs/operations.md)."""
    ctx = slack.transport.ctx
    if ctx.db.dialect == "sqlite":
        log.warning("trialbot serve: SQLite — run exactly one scheduler replica")
    scheduler = (timer or scheduler_for)(slack)
    scheduler.start()
    log.warning("trialbot serve: scheduler running (--no-scheduler for a bot-only replica)")
    return scheduler


def _serve_http(
    slack,
    options: ServeOptions,
    stop: threading.Event,
    bot: Any,
    ready: Callable | None,
    worker: Callable[[], dict[str, Any]],
) -> int:
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.transports.slack.http_mode import HttpServer, wsgi_app

    app = wsgi_app(
        SlackRequestHandler(slack.app),
        slack.transport.ctx.db,
        lambda: {"mode": "http"},
        worker=worker,
    )
    try:
        server = HttpServer(app, options.host, options.port)
    except OSError as exc:
        print(
            f"trialbot serve: cannot listen on {options.host}:{options.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    threading.Thread(target=lambda: (stop.wait(), server.stop()), daemon=True).start()
    log.warning(
        "trialbot serve: HTTP mode as <@%s> on http://%s:%s/slack/events",
        bot,
        options.host,
        server.port,
    )
    if ready is not None:
        ready(server.port)
    server.serve()
    return 0


def _serve_socket(slack, config, stop: threading.Event, bot: Any) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(slack.app, app_token=config.app_token, proxy=config.proxy)
    try:
        handler.connect()
    except Exception as exc:
        print(
            f"trialbot serve: cannot open the Socket Mode connection "
            f"(SLACK_APP_TOKEN, {_slack_error(exc)})",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    log.warning("trialbot serve: Socket Mode as <@%s>", bot)
    stop.wait()
    handler.close()
    return 0


def _on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


def _log_to_stderr() -> None:
    from bot.transports.console import log_to_stderr

    log_to_stderr()
