"""HTTP mode: the Bolt app at `POST /slack/events` and `GET /healthz`, as a WSGI app
served by waitress (a production WSGI server with a thread pool; Bolt's own `app.start()`
is a development server that queues connections).

`/healthz` answers JSON: 200 when the database is reachable and its schema current (and,
in process mode, the worker process alive), 503 otherwise, with the Slack connection
state, the outbox backlog and the worker (mode; in process mode alive, pid, restarts,
scheduler) beside.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import func
from sqlmodel import select

from bot.storage.database import Database
from bot.storage.models import OutboxMessage

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
SERVER_THREADS = 16


def health(
    db: Database,
    slack: Callable[[], dict[str, Any]],
    worker: Callable[[], dict[str, Any]] | None = None,
) -> tuple[bool, dict[str, Any]]:
    report: dict[str, Any] = {"database": "ok", "schema": None, "slack": slack(), "outbox": None}
    if worker is not None:
        report["worker"] = worker()
    healthy = True
    try:
        status = db.schema_status()
        report["schema"] = "current" if status.up_to_date else "out of date"
        healthy = status.up_to_date
        with db.transaction(readonly=True) as session:
            rows = session.exec(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status.in_(("pending", "sending", "dead")))
                .group_by(OutboxMessage.status)
            ).all()
        counts = dict(rows)
        report["outbox"] = {s: int(counts.get(s, 0)) for s in ("pending", "sending", "dead")}
    except Exception as exc:  # unreachable database: say so, never a traceback
        report["database"] = f"unreachable ({type(exc).__name__})"
        healthy = False
    if report["slack"].get("connected") is False:
        healthy = False
    if report.get("worker", {}).get("alive") is False:  # down, being started again
        healthy = False
    report["ok"] = healthy
    return healthy, report


def wsgi_app(
    handler: SlackRequestHandler,
    db: Database,
    slack_state: Callable[[], dict[str, Any]],
    *,
    worker: Callable[[], dict[str, Any]] | None = None,
) -> Callable[[dict, Callable], Iterable[bytes]]:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method == "GET":
            healthy, report = health(db, slack_state, worker)
            body = json.dumps(report).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if path == EVENTS_PATH and method == "POST":
            return handler(environ, start_response)
        body = b"Not Found"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [body]

    return app


class HttpServer:
    """waitress on `host:port` (port 0: any free port): `serve()` until `stop()`."""

    def __init__(self, app: Callable, host: str, port: int, *, threads: int = SERVER_THREADS):
        from waitress.server import create_server

        self._stopping = threading.Event()
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="trialbot",
            clear_untrusted_proxy_headers=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def serve(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            if not self._stopping.is_set():  # closing the sockets ends the loop this way
                raise

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        self._server.task_dispatcher.shutdown()
