"""`trialbot serve` runs the scheduler beside the app — in Socket Mode (against the fake
Slack and a local Socket Mode server) and in HTTP mode — and `--no-scheduler` does not.
The timer is injected: the real one is built (its jobs are checked) but never left to
fire on its own; nothing waits on wall time except bounded handshakes."""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
from pathlib import Path

import pytest

from bot.transports.slack.serve import ServeOptions, run, scheduler_for

BOUND = 60  # seconds; a bound for a broken test, not a timing assertion

_spec = importlib.util.spec_from_file_location(
    "trialbot_socket_server", Path(__file__).with_name("test_socket_mode.py")
)
_socket = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _socket
_spec.loader.exec_module(_socket)


class RecordingTimer:
    """The real scheduler `serve` would run, recorded instead of started."""

    def __init__(self) -> None:
        self.built: list = []
        self.started = threading.Event()
        self.shut_down = threading.Event()

    def __call__(self, slack):
        real = scheduler_for(slack)
        self.built.append((slack, real))
        timer = self

        class Handle:
            def start(self) -> None:
                timer.started.set()

            def shutdown(self, wait: bool = True) -> None:
                timer.shut_down.set()

        return Handle()

    def jobs(self) -> dict:
        ((_, real),) = self.built
        return {job.id: job for job in real.get_jobs()}


@pytest.fixture
def serve_env(db, monkeypatch, tmp_path, fake_slack):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0ADMIN01")
    return {
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_APP_TOKEN": "xapp-1-test",
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd990000ff85a5",
        "SLACK_API_URL": fake_slack.url,
        "TRIALBOT_SITE_CHANNELS": "main=C0STUDY01",
        # the timer is injected into this process; process mode's runs in its worker
        # (tests/slack/test_process_mode.py)
        "TRIALBOT_SLACK_WORKER": "thread",
    }


def _serve(options: ServeOptions, env, timer, until):
    """Run `serve` in a thread until `until()` has happened, then stop it; its exit code.
    The thread's outcome (a code or an exception) is read once it has ended — nothing is
    read against a short timeout."""
    stop, ports, outcome = threading.Event(), queue.Queue(), []

    def serve() -> None:
        try:
            outcome.append(run(options, env, stop=stop, ready=ports.put, timer=timer))
        except BaseException as exc:  # reported below, not lost in the thread
            outcome.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        until(ports)
    finally:
        stop.set()
        thread.join(timeout=BOUND)
    assert not thread.is_alive(), "serve did not stop when asked"
    [result] = outcome
    if isinstance(result, BaseException):
        raise result
    return result


def _check_the_real_timer(timer: RecordingTimer) -> None:
    ((slack, _),) = timer.built
    jobs = timer.jobs()
    # the tick only: under serve the app's own delivery thread sends what it queued
    assert set(jobs) == {"tick"}
    assert jobs["tick"].trigger.interval.total_seconds() == 30
    assert slack.transport.ctx.db is not None


def test_serve_http_starts_the_scheduler_and_stops_it(serve_env):
    timer = RecordingTimer()
    code = _serve(
        ServeOptions(http=True, port=0),
        serve_env,
        timer,
        lambda ports: (ports.get(timeout=BOUND), timer.started.wait(BOUND)),
    )
    assert code == 0
    assert timer.started.is_set() and timer.shut_down.is_set()
    _check_the_real_timer(timer)


def test_serve_socket_mode_starts_the_scheduler(serve_env, fake_slack):
    server = _socket.SocketServer()
    fake_slack.socket_url = server.url
    timer = RecordingTimer()
    try:
        code = _serve(
            ServeOptions(),
            serve_env,
            timer,
            lambda ports: (server.connected.wait(BOUND), timer.started.wait(BOUND)),
        )
    finally:
        server.close()
    assert code == 0 and server.connected.is_set()
    assert timer.started.is_set() and timer.shut_down.is_set()
    _check_the_real_timer(timer)


def _scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler"]  # its own name


@pytest.mark.parametrize("http", [False, True], ids=["socket", "http"])
def test_no_scheduler_builds_no_timer(serve_env, fake_slack, http):
    """`--no-scheduler`: the app comes up (it listens, or Socket Mode connects) and the
    timer is never built, let alone started — no scheduler thread exists while it runs."""
    server = _socket.SocketServer()
    fake_slack.socket_url = server.url
    timer = RecordingTimer()
    seen: dict = {}

    def until(ports) -> None:
        if http:
            seen["port"] = ports.get(timeout=BOUND)
        else:
            seen["connected"] = server.connected.wait(BOUND)
        seen["threads"] = _scheduler_threads()

    try:
        code = _serve(ServeOptions(http=http, port=0, scheduler=False), serve_env, timer, until)
    finally:
        server.close()
    assert code == 0
    assert seen.get("port") or seen.get("connected"), seen
    assert timer.built == [] and not timer.started.is_set()
    assert seen["threads"] == []


def test_the_serve_timer_ticks_at_the_contexts_clock_and_wakes_delivery(slack, fake_slack):
    """The job `serve` registers runs `tick(ctx, ctx.now())` and then wakes the app's
    delivery: run once by hand at the injected clock (Friday 09:00 at the site), the
    day's digest reaches the study channel."""
    [job] = scheduler_for(slack).get_jobs()
    job.func()
    digests = [
        c
        for c in fake_slack.called("chat.postMessage")
        if "Daily digest" in (c.params.get("text") or "")
    ]
    assert [c.params["channel"] for c in digests] == ["C0STUDY01"]
    job.func()  # the next tick that day: nothing more
    assert (
        len(
            [
                c
                for c in fake_slack.called("chat.postMessage")
                if "Daily digest" in (c.params.get("text") or "")
            ]
        )
        == 1
    )
