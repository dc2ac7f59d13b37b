"""The Slack app under load: 20 concurrent clients send signed `/trial lab` commands for
distinct patients to `POST /slack/events` of the app in HTTP mode (waitress), its WebClient
pointed at the tests' fake Slack on loopback. Measured per command: the time to the ack
(the HTTP response), and the time until its alert reaches the fake Slack — the first of
the alert's two copies (channel, on-call DM), and the channel copy on its own. Against, in
the same run and behind the same server: a bare Bolt app that only acks. On SQLite and, with
--postgres URL (default: $TRIALBOT_TEST_POSTGRES_URL), on PostgreSQL. Not a test.

    .venv/bin/python benchmarks/slack_bench.py [--clients 20] [--requests 10] [--interval 1]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test | --no-postgres]
        [--worker process | thread] [--workers auto | N]

The app under test runs in a process of its own (`--serve`, started by this script), as
`trialbot serve --http` does: the load generator and the fake Slack do not share its
interpreter, so their work is not counted as the app's. The fake Slack runs in a process
of its own too (`--fake`): answering the app's calls in the clients' interpreter, it held
the GIL they need to read their acks — in the app's run only, the bare app making none. `--worker` is
TRIALBOT_SLACK_WORKER: `process` (the default of `trialbot serve`) acks in that process
and does the work in worker processes it starts (`--workers`: TRIALBOT_SLACK_WORKERS, auto
as serve — one on SQLite, one per CPU on PostgreSQL); `thread` does both in one.

Targets: ack p99 ≤ 1.5× the bare app's and under 300 ms; alert p99 under 1 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request as HttpRequest
from urllib.request import urlopen

from machine import describe
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
SECRET = "8f742231b10e8888abcd990000ff85a5"
ADMIN, NURSE, DOCTOR = "U0ADMIN01", "U0NURSE01", "U0DOC0001"
CHANNEL = "C0STUDY01"
DM = "D" + DOCTOR[1:]  # the fake Slack's DM channel with the on-call investigator
DAY1 = date(2027, 3, 1)
NOW = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)  # Fri 09:00 at the site
WARM_UP = 4  # commands for patients of their own before the timed run


def _fake_slack_module():
    spec = importlib.util.spec_from_file_location(
        "trialbot_fake_slack", ROOT / "tests" / "slack" / "fake_slack.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def serve_fake() -> None:
    """The fake Slack in a process of its own (`--fake`): its URLs on the first line, then
    one answer line per request line on stdin — `posts` (the channel, fallback text and
    arrival time of every chat.postMessage, as JSON), `reset` — until EOF."""
    fake = _fake_slack_module().FakeSlack().start()
    print(json.dumps({"url": fake.url, "webhook": fake.webhook}), flush=True)
    for line in sys.stdin:
        if line.strip() == "posts":
            posts = [
                (c.params.get("channel"), str(c.params.get("text", "")), c.at)
                for c in fake.called("chat.postMessage")
            ]
            print(json.dumps(posts), flush=True)
        elif line.strip() == "reset":
            fake.reset()
            print("[]", flush=True)
    fake.stop()


class FakeSlackProcess:
    """The fake Slack run by `serve_fake`. Out of the load generator's interpreter: its
    work (a few calls per alert, in the app's run only) would otherwise hold the GIL the
    clients need to read their acks, and be counted against the app, not the bare one.
    Arrival times are `time.monotonic()`, one clock for every process of the machine."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--fake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        urls = json.loads(self.process.stdout.readline())
        self.url, self.webhook = urls["url"], urls["webhook"]
        self._lock = threading.Lock()

    def _ask(self, what: str) -> list:
        with self._lock:
            self.process.stdin.write(what + "\n")
            self.process.stdin.flush()
            return json.loads(self.process.stdout.readline())

    def posts(self) -> list[tuple[str, str, float]]:
        """(channel, fallback text, arrival) of every chat.postMessage since the reset."""
        return [tuple(post) for post in self._ask("posts")]

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _study_id(number: int) -> str:
    return f"LACC-{100 + number:03d}"


# --- the server process -------------------------------------------------------------------
def serve(
    kind: str,
    database_url: str,
    fake_url: str,
    trace: str = "",
    worker_mode: str = "process",
    workers: str = "auto",
) -> None:
    """Run one app (`trialbot` or `bare`) behind waitress; print the port; stop at EOF.
    `trace`: a file to write, at the end, when each request entered and left the WSGI app,
    each garbage collection and each piece of work ran (monotonic seconds)."""
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    from bot.clock import FixedClock
    from bot.services import build_context
    from bot.settings import Settings
    from bot.transports.slack import app as slack_app
    from bot.transports.slack.client import retry_handlers
    from bot.transports.slack.config import SlackConfig
    from bot.transports.slack.http_mode import HttpServer, wsgi_app

    settings = Settings(database_url=database_url, admins=(ADMIN,))
    ctx = build_context(settings, clock=FixedClock(NOW))
    worker = None
    client = WebClient(
        token="xoxb-bench", base_url=fake_url, timeout=10, retry_handlers=retry_handlers()
    )
    if kind == "trialbot":
        config = SlackConfig(
            bot_token="xoxb-bench",
            mode="http",
            signing_secret=SECRET,
            api_url=fake_url,
            workers=None if workers == "auto" else int(workers),
        )
        if worker_mode == "process":  # as `trialbot serve` runs it (--no-scheduler)
            from bot.transports.slack.serve import ServeOptions, start_worker

            worker = start_worker(ctx, config, ServeOptions(http=True, scheduler=False))
        slack = slack_app.create_app(ctx, config, client, worker=worker)
        bolt = slack.app
    else:  # the floor: Bolt configured as trialbot's app is, a listener that only acks
        slack = None
        bolt = App(
            signing_secret=SECRET,
            client=client,
            token_verification_enabled=False,
            process_before_response=slack_app.PROCESS_BEFORE_RESPONSE,
        )
        bolt.command("/trial")(lambda ack: ack())
    slack_app.tune_interpreter()
    slack_app.settle()  # as `trialbot serve` does once started
    app = wsgi_app(SlackRequestHandler(bolt), ctx.db, lambda: {"mode": "http"})
    traced = _Trace(slack) if trace else None
    server = HttpServer(traced.wrap(app) if traced else app, "127.0.0.1", 0)
    threading.Thread(target=server.serve, daemon=True).start()
    print(server.port, flush=True)
    # the processes doing the work, for the benchmark's CPU reading: this one in thread
    # mode (and the bare app), the worker processes in process mode
    pids = [os.getpid()] if worker is None else worker.pids
    print(json.dumps([pid for pid in pids if pid]), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop()
    if worker is not None:
        worker.stop()
    if slack is not None and slack.transport.delivery is not None:
        slack.transport.delivery.stop()
    ctx.db.dispose()
    if traced is not None:
        Path(trace).write_text(json.dumps(traced.events))


class _Trace:
    """Where the server's time goes (`--trace`): WSGI requests, collections, work."""

    def __init__(self, slack) -> None:
        import gc

        self.events: dict[str, list] = {"wsgi": [], "gc": [], "work": [], "gil": []}
        self._gc_start = 0.0
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._probe, daemon=True).start()
        if slack is not None:
            work = slack.transport.work
            submit = work.submit

            def timed(fn, /, *args, **kwargs):
                def run():
                    started = time.monotonic()
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        self.events["work"].append((started, time.monotonic()))

                return submit(run)

            work.submit = timed

    def _probe(self) -> None:
        """A thread that sleeps 1 ms at a time: a wake-up later than 2 ms past is a wait
        for the GIL (or for a core), as an ack's thread has — (when it woke, ms late)."""
        while True:
            before = time.monotonic()
            time.sleep(0.001)
            late = (time.monotonic() - before - 0.001) * 1000
            if late > 2:
                self.events["gil"].append((time.monotonic(), late))

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.monotonic()
        else:
            self.events["gc"].append((self._gc_start, time.monotonic(), info["generation"]))

    def wrap(self, app):
        events = self.events["wsgi"]

        class Written(list):
            """The response's body; waitress closes it once the body is written."""

            def close(self) -> None:
                self.event.append(time.monotonic())

        def traced(environ, start_response):
            started = time.monotonic()
            body = Written(app(environ, start_response))
            body.event = [started, time.monotonic()]  # arrived, answered; written on close
            events.append(body.event)
            return body

        return traced


class Server:
    def __init__(
        self,
        kind: str,
        database_url: str,
        fake_url: str,
        trace: str = "",
        worker: str = "process",
        workers: str = "auto",
    ) -> None:
        command = [__file__, "--serve", kind, database_url, fake_url, trace, worker, workers]
        self.process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.process.kill()
            raise SystemExit(f"the {kind} server did not start")
        self.url = f"http://127.0.0.1:{int(line)}/slack/events"
        self.pids: list[int] = json.loads(self.process.stdout.readline())

    def cpu_seconds(self) -> float | None:
        """User + system CPU so far of the processes doing the work (Linux /proc; None
        elsewhere): a reading the rest of the machine's load hardly moves, unlike
        latency."""
        total = 0.0
        try:
            for pid in self.pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, ValueError, IndexError):
            return None
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


# --- the load -----------------------------------------------------------------------------
def _signed(url: str, body: str) -> HttpRequest:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    return HttpRequest(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
        },
    )


def _command(webhook: str, n: int, study_id: str) -> str:
    return urlencode(
        {
            "team_id": "T0TEAM001",
            "channel_id": CHANNEL,
            "channel_name": "lacc-study",
            "user_id": NURSE,
            "command": "/trial",
            "text": f"lab {study_id} ANC 0.4 PLT 62",
            "response_url": f"{webhook}bench/{n}",
            "trigger_id": f"bench.{n}.{uuid.uuid4().hex}",
            "api_app_id": "A0APP0001",
        }
    )


def _load(
    url: str, webhook: str, clients: int, requests: int, interval: float, first: int
) -> list[tuple[str, float, float]]:
    """(study id, sent at, ack ms) for clients × requests signed commands, patients from
    number `first` on; each client sends one command every `interval` seconds, the
    clients' ticks interleaved (0: the next as soon as the ack is in)."""
    start = time.monotonic()

    def client(number: int) -> list[tuple[str, float, float]]:
        out = []
        for i in range(requests):
            pause = start + interval * (i + number / max(clients, 1)) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            study_id = _study_id(first + number * requests + i)
            body = _command(webhook, first + number * 1000 + i, study_id)
            sent = time.monotonic()
            with urlopen(_signed(url, body), timeout=30) as response:
                response.read()
                assert response.status == 200
            out.append((study_id, sent, (time.monotonic() - sent) * 1000))
        return out

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    return [sample for part in results for sample in part]


def _arrivals(fake, sent: dict[str, float], timeout: float = 120.0) -> dict[str, list[float]]:
    """ms from each command to the first copy of its alert, and to the channel copy."""
    deadline = time.monotonic() + timeout
    first: dict[str, float] = {}
    channel: dict[str, float] = {}
    while time.monotonic() < deadline and len(channel) < len(sent):
        for where, fallback, at in fake.posts():
            if where not in (CHANNEL, DM):
                continue
            for study_id in sent:
                if f"*{study_id}*" in fallback:
                    first[study_id] = min(first.get(study_id, at), at)
                    if where == CHANNEL:
                        channel.setdefault(study_id, at)
        time.sleep(0.2)
    missing = set(sent) - set(channel)
    if missing:
        raise SystemExit(f"{len(missing)} alerts never arrived, e.g. {sorted(missing)[:3]}")
    return {
        "first": [(first[s] - sent[s]) * 1000 for s in sent],
        "channel": [(channel[s] - sent[s]) * 1000 for s in sent],
    }


def _prepare(database_url: str, patients: int) -> None:
    from bot.clock import FixedClock
    from bot.services import Request, build_context, enrolment, members
    from bot.services.sites import configure_channels
    from bot.settings import Settings
    from bot.transports.notifier import RecordingNotifier, drain_outbox

    ctx = build_context(Settings(database_url=database_url, admins=(ADMIN,)), clock=FixedClock(NOW))
    configure_channels(ctx, {"main": CHANNEL})
    admin = Request(user=ADMIN)
    members.set_role(ctx, admin, NURSE, "coordinator", site="main")
    members.set_role(ctx, admin, DOCTOR, "investigator", site="main", on_call=True)
    nurse = Request(user=NURSE)
    for number in range(patients):
        enrolment.enrol(ctx, nurse, _study_id(number), start=DAY1, height=160, weight=55)
    drain_outbox(ctx.db, RecordingNotifier(), now=ctx.now(), owner="bench")  # enrolment posts
    ctx.db.dispose()


def run(database_url: str, label: str, args: argparse.Namespace) -> dict:
    clients, requests, interval = args.clients, args.requests, args.interval
    _prepare(database_url, WARM_UP + clients * requests)
    fake = FakeSlackProcess()
    servers: list[Server] = []
    try:
        trace = f"{args.trace}-{label}" if args.trace else ""
        bare = Server("bare", database_url, fake.url, trace and f"{trace}-bare.json")
        servers.append(bare)
        _load(bare.url, fake.webhook, 2, 2, 0, 0)  # warm-up
        bare_samples = _load(bare.url, fake.webhook, clients, requests, interval, 0)
        bare_acks = [ms for _, _, ms in bare_samples]
        bare.stop()
        servers.remove(bare)
        trial = Server(
            "trialbot",
            database_url,
            fake.url,
            trace and f"{trace}-trialbot.json",
            args.worker,
            args.workers,
        )
        servers.append(trial)
        warm = _load(trial.url, fake.webhook, WARM_UP, 1, 0, 0)  # templates, first calendar
        _arrivals(fake, {s: at for s, at, _ in warm})
        fake.reset()
        cpu_before = trial.cpu_seconds()
        samples = _load(trial.url, fake.webhook, clients, requests, interval, WARM_UP)
        alerts = _arrivals(fake, {s: at for s, at, _ in samples})
        cpu_after = trial.cpu_seconds()
    finally:
        for server in servers:
            server.stop()
        fake.stop()
    acks = [ms for _, _, ms in samples]
    return {
        "label": label,
        "bare": bare_acks,
        "ack": acks,
        "first": alerts["first"],
        "channel": alerts["channel"],
        "cpu_ms_per_command": (
            (cpu_after - cpu_before) * 1000 / len(samples)
            if cpu_before is not None and cpu_after is not None
            else None
        ),
        "sent": {
            "bare": [(at, ms) for _, at, ms in bare_samples],
            "ack": [(at, ms) for _, at, ms in samples],
        },
    }


def _line(name: str, samples: list[float]) -> str:
    return (
        f"  {name:<28} p50 {_percentile(samples, 0.5):6.0f} ms   "
        f"p99 {_percentile(samples, 0.99):6.0f} ms   max {max(samples):6.0f} ms"
    )


def report(result: dict) -> list[str]:
    bare99 = _percentile(result["bare"], 0.99)
    ack99 = _percentile(result["ack"], 0.99)
    first99 = _percentile(result["first"], 0.99)
    ratio = ack99 / bare99
    lines = [
        f"-- {result['label']} (n={len(result['ack'])})",
        _line("bare Bolt ack", result["bare"]),
        _line("trialbot ack", result["ack"]),
        _line("alert, first copy", result["first"]),
        _line("alert, channel copy", result["channel"]),
    ]
    if result.get("cpu_ms_per_command") is not None:
        lines.append(
            f"  CPU of the work per command  {result['cpu_ms_per_command']:6.1f} ms "
            "(the worker processes' user + system time over the timed commands)"
        )
    lines += [
        f"  ack p99 {ratio:.2f}× bare (target ≤ 1.5×): {'met' if ratio <= 1.5 else 'NOT met'}",
        f"  ack p99 {ack99:.0f} ms (target < 300 ms): {'met' if ack99 < 300 else 'NOT met'}",
        f"  alert p99 {first99:.0f} ms (target < 1000 ms): "
        + ("met" if first99 < 1000 else "NOT met"),
    ]
    return lines


def _postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"trialbot_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return scoped.render_as_string(hide_password=False), drop


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(*sys.argv[2:8])
        return
    if sys.argv[1:2] == ["--fake"]:
        serve_fake()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="commands per client")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a client's commands (0: none)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TRIALBOT_TEST_POSTGRES_URL"),
        help="a PostgreSQL URL to run on as well (default: $TRIALBOT_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--worker",
        choices=("process", "thread"),
        default="process",
        help="TRIALBOT_SLACK_WORKER of the app under test (default process, as serve)",
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="TRIALBOT_SLACK_WORKERS of the app under test in process mode (default auto, as "
        "serve: one on SQLite, one per CPU on PostgreSQL)",
    )
    parser.add_argument("--json", help="also write the samples to this file")
    parser.add_argument(
        "--trace",
        help="a file prefix: each server writes its requests, collections and work there",
    )
    args = parser.parse_args()
    if args.no_sqlite and (args.no_postgres or not args.postgres):
        parser.error(
            "--no-sqlite: nothing would run (it needs --postgres URL or "
            "$TRIALBOT_TEST_POSTGRES_URL, and no --no-postgres)"
        )
    started = time.time()
    load = os.getloadavg()[0]
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            results.append(run(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", args))
    if args.postgres and not args.no_postgres:
        url, drop = _postgres_schema(args.postgres)
        try:
            from bot.storage.database import Database

            database = Database(url)
            database.upgrade()
            database.dispose()
            results.append(run(url, "PostgreSQL", args))
        finally:
            drop()
    pace = f"one every {args.interval:g} s per client" if args.interval else "back to back"
    print(
        f"machine: {describe()}; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; {time.time() - started:.0f} s"
    )
    print(
        f"{args.clients} clients × {args.requests} signed /trial lab commands, {pace}; "
        f"TRIALBOT_SLACK_WORKER={args.worker}, TRIALBOT_SLACK_WORKERS={args.workers}"
    )
    for result in results:
        print("\n".join(report(result)))
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
