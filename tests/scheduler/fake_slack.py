"""A fake Slack Web API over real HTTP, for the delivery tests: the network boundary.

It answers `chat.postMessage`, `conversations.open`, `conversations.history` and
`conversations.replies` the way Slack does (message metadata included), records every
post, and can be told to fail (HTTP 500, or 429 with Retry-After) for a while.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.slack_scopes import manifest_scopes, refusal


@dataclass
class FakeSlack:
    posts: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    # HTTP status to answer chat.postMessage with, or a Slack error code answered with
    # 200 and ok=false to the next post only (a refusal for good), or None
    failing: int | str | None = None
    retry_after: int = 30
    # the bot token's scopes: by default what the manifest asks for (tests/slack_scopes.py)
    scopes: frozenset[str] = field(default_factory=manifest_scopes)
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _arguments(self) -> dict[str, Any]:
                parsed = urlparse(self.path)
                arguments = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                if body:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        arguments.update(json.loads(body))
                    else:
                        arguments.update({k: v[0] for k, v in parse_qs(body).items()})
                return arguments

            def _answer(self, status: int, data: dict[str, Any], headers=None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                method = urlparse(self.path).path.rsplit("/", 1)[-1]
                arguments = self._arguments()
                status, data, headers = fake.handle(method, arguments)
                self._answer(status, data, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, arguments: dict[str, Any]):
        with self._lock:
            self.calls.append(method)
            if missing := refusal(method, arguments, self.scopes):
                return 200, missing, None
            if method == "conversations.open":
                return 200, {"ok": True, "channel": {"id": "D" + arguments["users"]}}, None
            if method == "chat.postMessage":
                if self.failing == 429:
                    return (
                        429,
                        {"ok": False, "error": "ratelimited"},
                        {"Retry-After": str(self.retry_after)},
                    )
                if isinstance(self.failing, str):  # refuses the next post only
                    error, self.failing = self.failing, None
                    return 200, {"ok": False, "error": error}, None
                if self.failing:
                    return self.failing, {"ok": False, "error": "internal_error"}, None
                self._counter += 1
                ts = f"{1_800_000_000 + self._counter}.{self._counter:06d}"
                metadata = arguments.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                self.posts.append(
                    {
                        "channel": arguments["channel"],
                        "text": arguments.get("text", ""),
                        "ts": ts,
                        "thread_ts": arguments.get("thread_ts"),
                        "metadata": metadata,
                    }
                )
                return 200, {"ok": True, "channel": arguments["channel"], "ts": ts}, None
            if method in ("conversations.history", "conversations.replies"):
                channel = arguments["channel"]
                messages = [
                    {"ts": p["ts"], "text": p["text"], "metadata": p["metadata"]}
                    for p in self.posts
                    if p["channel"] == channel
                ]
                return 200, {"ok": True, "messages": list(reversed(messages))}, None
            return 200, {"ok": False, "error": "unknown_method"}, None

    def posted_keys(self) -> list[str]:
        return [(p["metadata"] or {}).get("event_payload", {}).get("key") for p in self.posts]
