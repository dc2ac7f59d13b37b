"""The Slack app under load: 20 concurrent clients send signed `/trial lab` commands for
distinct patients to `POST /slack/events` (HTTP mode, waitress), with the app's WebClient
pointed at the tests' fake Slack on loopback. Measured per request: the time to the ack
(the HTTP response) and the time until the channel copy of the alert reaches the fake
Slack. Against, in the same run and behind the same server: a bare Bolt app that only
acks. On SQLite and, with --postgres URL, on PostgreSQL. Not a test: run it and read.

    .venv/bin/python benchmarks/slack_bench.py [--clients 20] [--requests 10]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Targets: ack p99 ≤ 1.5× the bare app's and under 300 ms; alert p99 under 1 s.
"""

from __future__ import annotations

import argparse
import importlib.util
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
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot.clock import FixedClock
from bot.services import Request, build_context, enrolment, members
from bot.settings import Settings
from bot.transports.slack.app import create_app
from bot.transports.slack.client import retry_handlers
from bot.transports.slack.config import SlackConfig
from bot.transports.slack.http_mode import HttpServer, wsgi_app

ROOT = Path(__file__).resolve().parents[1]
SECRET = "8f742231b10e8888abcd990000ff85a5"
ADMIN, NURSE, DOCTOR = "U0ADMIN01", "U0NURSE01", "U0DOC0001"
CHANNEL = "C0STUDY01"
DAY1 = date(2027, 3, 1)
NOW = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)  # Fri 09:00 at the site


def _fake_slack():
    spec = importlib.util.spec_from_file_location(
        "trialbot_fake_slack", ROOT / "tests" / "slack" / "fake_slack.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.FakeSlack().start()


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _summary(name: str, samples: list[float]) -> str:
    return (
        f"{name}: p50 {_percentile(samples, 0.5):.0f} ms, p99 {_percentile(samples, 0.99):.0f} ms "
        f"(n={len(samples)}, max {max(samples):.0f} ms)"
    )


def _serve(app: Callable, threads: int) -> tuple[HttpServer, str]:
    server = HttpServer(app, "127.0.0.1", 0, threads=threads)
    threading.Thread(target=server.serve, daemon=True).start()
    return server, f"http://127.0.0.1:{server.port}/slack/events"


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
    url: str, webhook: str, clients: int, requests: int, interval: float, tag: str
) -> list[tuple[str, float, float]]:
    """(study id, sent at, ack ms) for clients × requests signed commands; each client
    sends one command every `interval` seconds (0: the next as soon as the ack is in)."""
    start = time.monotonic()

    def client(number: int) -> list[tuple[str, float, float]]:
        out = []
        time.sleep(interval * number / max(clients, 1))  # the clients' ticks interleave
        for i in range(requests):
            pause = start + interval * (i + number / max(clients, 1)) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            study_id = f"LACC-{100 + number * requests + i:03d}"
            body = _command(webhook, number * 1000 + i, study_id if tag else f"X{study_id}")
            sent = time.monotonic()
            with urlopen(_signed(url, body), timeout=30) as response:
                response.read()
                assert response.status == 200
            out.append((study_id, sent, (time.monotonic() - sent) * 1000))
        return out

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    return [sample for part in results for sample in part]


def _alert_arrivals(fake, sent: dict[str, float], timeout: float = 60.0) -> list[float]:
    deadline = time.monotonic() + timeout
    arrivals: dict[str, float] = {}
    while time.monotonic() < deadline and len(arrivals) < len(sent):
        for call in fake.called("chat.postMessage"):
            if call.params.get("channel") != CHANNEL:
                continue
            fallback = str(call.params.get("text", ""))
            for study_id in sent:
                if study_id not in arrivals and f"*{study_id}*" in fallback:
                    arrivals[study_id] = call.at
        time.sleep(0.05)
    missing = set(sent) - set(arrivals)
    if missing:
        raise SystemExit(f"{len(missing)} alerts never arrived, e.g. {sorted(missing)[:3]}")
    return [(arrivals[s] - sent[s]) * 1000 for s in sent]


def _prepare(database_url: str, clients: int, requests: int):
    clock = FixedClock(NOW)
    ctx = build_context(Settings(database_url=database_url, admins=(ADMIN,)), clock=clock)
    from bot.services.sites import configure_channels

    configure_channels(ctx, {"main": CHANNEL})
    admin = Request(user=ADMIN)
    members.set_role(ctx, admin, NURSE, "coordinator", site="main")
    members.set_role(ctx, admin, DOCTOR, "investigator", site="main", on_call=True)
    nurse = Request(user=NURSE)
    for number in range(clients):
        for i in range(requests):
            enrolment.enrol(
                ctx,
                nurse,
                f"LACC-{100 + number * requests + i:03d}",
                start=DAY1,
                height=160,
                weight=55,
            )
    from bot.transports.notifier import RecordingNotifier, drain_outbox

    drain_outbox(ctx.db, RecordingNotifier(), now=ctx.now(), owner="bench")  # enrolment posts
    return ctx


def run(
    database_url: str, label: str, clients: int, requests: int, threads: int, interval: float
) -> None:
    ctx = _prepare(database_url, clients, requests)
    fake = _fake_slack()
    client = WebClient(
        token="xoxb-bench", base_url=fake.url, timeout=10, retry_handlers=retry_handlers()
    )
    config = SlackConfig(
        bot_token="xoxb-bench", mode="http", signing_secret=SECRET, api_url=fake.url
    )
    slack = create_app(ctx, config, client)
    bare = App(
        signing_secret=SECRET,
        client=WebClient(token="xoxb-bench", base_url=fake.url),
        token_verification_enabled=False,
    )
    bare.command("/trial")(lambda ack: ack())

    def health() -> dict:
        return {"mode": "http"}

    servers = []
    try:
        trial_server, trial_url = _serve(
            wsgi_app(SlackRequestHandler(slack.app), ctx.db, health), threads
        )
        bare_server, bare_url = _serve(wsgi_app(SlackRequestHandler(bare), ctx.db, health), threads)
        servers = [trial_server, bare_server]
        # warm-up: templates, connections, the first calendar of the site
        _load(bare_url, fake.webhook, 2, 2, 0, "")
        bare = _load(bare_url, fake.webhook, clients, requests, interval, "")
        bare_samples = [ms for _, _, ms in bare]
        fake.reset()
        samples = _load(trial_url, fake.webhook, clients, requests, interval, "lab")
        sent = {study_id: at for study_id, at, _ in samples}
        alerts = _alert_arrivals(fake, sent)
    finally:
        for server in servers:
            server.stop()
        fake.stop()
        ctx.db.dispose()
    acks = [ms for _, _, ms in samples]
    ratio = _percentile(acks, 0.99) / _percentile(bare_samples, 0.99)
    pace = f"one every {interval:g} s per client" if interval else "back to back"
    print(f"-- {label}: {clients} clients × {requests} signed /trial lab commands, {pace}")
    print("  " + _summary("bare Bolt ack", bare_samples))
    print("  " + _summary("trialbot ack ", acks) + f" — {ratio:.2f}× the bare p99")
    print("  " + _summary("alert arrival", alerts))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="commands per client")
    parser.add_argument("--threads", type=int, default=16, help="waitress threads")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between a client's commands (0: none)"
    )
    parser.add_argument("--postgres", help="a PostgreSQL URL to run on as well")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as folder:
        run(
            f"sqlite:///{Path(folder) / 'bench.db'}",
            "SQLite",
            args.clients,
            args.requests,
            args.threads,
            args.interval,
        )
    if args.postgres:
        url, drop = _postgres_schema(args.postgres)
        try:
            from bot.storage.database import Database

            database = Database(url)
            database.upgrade()
            database.dispose()
            run(url, "PostgreSQL", args.clients, args.requests, args.threads, args.interval)
        finally:
            drop()


if __name__ == "__main__":
    main()
