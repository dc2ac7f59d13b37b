"""The worker process of `TRIALBOT_SLACK_WORKER=process` (the default of `trialbot serve`).

`trialbot serve` splits in two: the **front** (its own process: the server, Bolt's
signature check, every listener's `ack()`, the type-ahead answers) and this **worker**,
which does everything the listeners defer — commands, mentions, DMs, clicks, opening
forms, a form's submission — and owns the outbox's delivery thread and the scheduler.
The acks then never wait for the GIL behind a command's work (docs/benchmarks.md).

The front forwards each verified request that needs work as it arrived (mode, raw body
or Socket Mode payload, headers) over a pipe; the worker replays it through a Bolt app of
its own with the same listeners in thread mode (verification off: the front checked the
signature), so what a request does is the same code in both modes. A request forwarded
as a *call* (a view submission, whose answer rides on the ack) sends Bolt's response
back. Idempotency lives in the database (event ids, the commands' and clicks' keys), so a
request replayed here acts once, as in one process.

The pipe's messages are JSON (`encode`, `decode`): a request is data, never pickled code.
Start-up and shutdown: the worker says `ready` once its app is built; end of the
request pipe (the front closed it, or died) means stop — finish what was received,
stop the scheduler, deliver what is queued, exit. SIGINT and SIGTERM are the front's to
act on (a terminal's Ctrl-C and systemd's stop reach the whole process group).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_bolt.request import BoltRequest

from bot.clock import Clock
from bot.settings import Settings
from bot.transports.slack.config import SlackConfig

log = logging.getLogger("trialbot.slack")

# Replaying a request is an ack and a hand-over to the work pool (a form's submission:
# its write, inline); a few threads keep a slow submission from holding up the rest.
REPLAY_THREADS = 4


@dataclass(frozen=True)
class WorkerSpec:
    """What the worker is built from: the settings `trialbot serve` checked (pickled to
    the new process), whether it runs the scheduler, and the clock (None: the system's;
    tests and the benchmark pin it)."""

    settings: Settings
    config: SlackConfig
    scheduler: bool = True
    clock: Clock | None = None


def encode(kind: str, req: BoltRequest, number: int = 0) -> bytes:
    """A verified request as the worker replays it: HTTP mode's raw body (the form or
    JSON Slack signed), Socket Mode's payload (a dict), and the headers (content type,
    retry number)."""
    body: Any = req.raw_body if req.mode == "http" else req.body
    headers = {name: list(values) for name, values in req.headers.items()}
    message = {"kind": kind, "id": number, "mode": req.mode, "body": body, "headers": headers}
    return json.dumps(message).encode()


def decode(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode())


def request_of(message: dict[str, Any]) -> BoltRequest:
    return BoltRequest(body=message["body"], headers=message["headers"], mode=message["mode"])


def run_worker(spec: WorkerSpec, requests: Any, answers: Any) -> None:
    """The worker process's main: build, say ready, replay until the pipe ends, stop."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    from bot.transports.console import log_to_stderr

    log_to_stderr()
    from bot.services import build_context
    from bot.transports.slack.app import create_app, settle, tune_interpreter
    from bot.transports.slack.client import build_client
    from bot.transports.slack.serve import start_scheduler

    ctx = build_context(spec.settings, clock=spec.clock)
    slack = create_app(ctx, spec.config, build_client(spec.config), verify=False)
    tune_interpreter()
    scheduler = start_scheduler(slack) if spec.scheduler else None
    settle()
    answers.send_bytes(json.dumps({"kind": "ready", "scheduler": scheduler is not None}).encode())
    # the replay threads share the answer pipe: a Connection is not safe for several writers
    shared = _Answers(answers, threading.Lock())
    replay = ThreadPoolExecutor(REPLAY_THREADS, thread_name_prefix="slack-replay")
    try:
        while True:
            try:
                data = requests.recv_bytes()
            except (EOFError, OSError):  # the front closed the pipe (or is gone): stop
                break
            replay.submit(_replay, slack.app, decode(data), shared)
    finally:
        replay.shutdown(wait=True)
        _stop(slack, scheduler)
        answers.close()


@dataclass(frozen=True)
class _Answers:
    pipe: Any
    lock: threading.Lock


def _replay(app: Any, message: dict[str, Any], answers: _Answers) -> None:
    try:
        response = app.dispatch(request_of(message))
    except Exception as exc:  # Bolt answers errors itself; this is a bug — keep serving
        log.error("slack worker: replaying a request failed: %s", type(exc).__name__)
        return
    if message.get("kind") != "call":
        return
    answer = {
        "kind": "answer",
        "id": message.get("id"),
        "status": response.status,
        "body": response.body,
        "headers": {name: list(values) for name, values in response.headers.items()},
    }
    # the front gone: nobody waits for the answer
    with answers.lock, contextlib.suppress(OSError, ValueError):
        answers.pipe.send_bytes(json.dumps(answer).encode())


def _stop(slack: Any, scheduler: Any) -> None:
    """In-flight work first (forms before the work they may hand over), then the
    scheduler, then one last drain of the outbox, so replies' posts leave before exit."""
    transport = slack.transport
    for pool in (transport.ui, transport.work):
        shutdown = getattr(pool, "shutdown", None)
        if shutdown is not None:
            shutdown(wait=True)
    if scheduler is not None:
        scheduler.shutdown(wait=True)
    try:
        transport.deliver()
    except Exception as exc:  # the sweep of the next start retries what is left
        log.error("slack worker: last delivery failed: %s", type(exc).__name__)
    if transport.delivery is not None:
        transport.delivery.stop()
    if transport.lanes is not None:
        transport.lanes.shutdown(wait=True)
    transport.ctx.db.dispose()
