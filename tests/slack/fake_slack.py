"""A fake Slack Web API on a loopback port, for tests (no real Slack is reachable).

It answers the methods trialbot calls, records every call (method, parameters, token),
and can be told to fail: `fail("chat.postMessage", status=429, retry_after=0)` answers the
next call so, `status=500` a server error, `error="channel_not_found"` an `ok: false`.
Files: `files.getUploadURLExternal` hands out an upload URL on this server (`/upload/<id>`),
a POST there stores the bytes, `files.completeUploadExternal` shares them; `uploads()` are
the files shared, with their bytes — what `files_upload_v2` sent, step by step.
It also stands in for `response_url` (any path under /webhook/) and returns, from
`apps.connections.open`, the URL of a Socket Mode server a test runs (`socket_url`).
Strict like Slack: a call without a bearer token of the right kind is `not_authed`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.slack_scopes import manifest_scopes, refusal

BOT_USER = "U0BOT0001"
TEAM = "T0TEAM001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.params.get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)

    def text_of_blocks(self) -> str:
        return "\n".join(b["text"]["text"] for b in self.blocks() if b.get("type") == "section")


@dataclass
class Upload:
    """A file shared by files.completeUploadExternal: its bytes as uploaded."""

    file_id: str
    filename: str
    title: str | None
    channel: str | None
    comment: str | None
    data: bytes


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    socket_url: str | None = None
    # the bot token's scopes: by default what the manifest asks for (tests/slack_scopes.py)
    scopes: frozenset[str] = field(default_factory=manifest_scopes)
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # upload URL handed out
    _bytes: dict[str, bytes] = field(default_factory=dict)  # bytes POSTed to it
    _shared: list[Upload] = field(default_factory=list)
    # what chat.postMessage posted, for conversations.history / .replies (with metadata)
    _messages: list[dict[str, Any]] = field(default_factory=list)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, headers, body = fake._answer(self.path, self.headers, raw)
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def webhook(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhook/"

    # --- scripting ------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend(
                Failure(status, error, retry_after) for _ in range(times)
            )

    # --- reading what happened ------------------------------------------------------------
    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._shared.clear()

    def uploads(self) -> list[Upload]:
        """The files shared so far (since the last reset), in order."""
        with self._lock:
            return list(self._shared)

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls of `method` arrived (for work on other threads)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.called(method)) >= count, timeout=timeout)
        return self.called(method)

    # --- answering ------------------------------------------------------------------------
    def _answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        method = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        webhook = path.startswith("/webhook/")
        if webhook:
            method = "response_url"
        if path.startswith("/upload/"):  # the bytes of a file, to a URL handed out before
            return self._receive(path.split("?", 1)[0].rsplit("/", 1)[-1], body)
        raw = body.decode()
        content_type = headers.get("Content-Type") or ""
        if "json" in content_type:
            params = json.loads(raw or "{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw).items()}
        auth = headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() or params.get("token")
        with self._lock:
            self.calls.append(Call(method, params, token))
            queue = self._failures.get(method) or []
            failure = queue.pop(0) if queue else None
        with self._changed:
            self._changed.notify_all()
        if failure is not None:
            extra = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            if failure.status != 200:
                return (
                    failure.status,
                    extra,
                    {
                        "ok": False,
                        "error": "ratelimited" if failure.status == 429 else "internal_error",
                    },
                )
            return 200, extra, {"ok": False, "error": failure.error or "fatal_error"}
        if webhook:
            return 200, {}, {"ok": True}
        needed = "xapp-" if method == "apps.connections.open" else "xoxb-"
        if not token or not str(token).startswith(needed):
            return 200, {}, {"ok": False, "error": "not_authed"}
        if needed == "xoxb-" and (missing := refusal(method, params, self.scopes)):
            return 200, {}, missing
        return 200, {}, self._result(method, params)

    def _result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "B0BOT0001",
                "team_id": TEAM,
                "user": "trialbot",
            }
        if method == "conversations.open":
            user = str(params.get("users", "")).split(",")[0]
            return {"ok": True, "channel": {"id": "D" + user[1:]}}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            metadata = params.get("metadata")
            with self._lock:
                self._messages.append(
                    {
                        "channel": params.get("channel"),
                        "ts": ts,
                        "thread_ts": params.get("thread_ts"),
                        "text": params.get("text", ""),
                        "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata,
                    }
                )
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method in ("conversations.history", "conversations.replies"):
            # newest first, as Slack answers; replies: the thread of `ts`
            with self._lock:
                found = [
                    {k: m[k] for k in ("ts", "text", "metadata") if m[k] is not None}
                    for m in self._messages
                    if m["channel"] == params.get("channel")
                    and (
                        method == "conversations.history"
                        or params.get("ts") in (m["ts"], m["thread_ts"])
                    )
                ]
            return {"ok": True, "messages": list(reversed(found))}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method in ("views.open", "views.update", "views.publish", "views.push"):
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}"}}
        if method == "files.getUploadURLExternal":
            if not params.get("filename") or not str(params.get("length", "")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{next(self._ts):08d}"
            with self._lock:
                self._pending[file_id] = dict(params)
            base = self.url.removesuffix("/api/")
            return {"ok": True, "file_id": file_id, "upload_url": f"{base}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            return self._complete(params)
        if method == "apps.connections.open":
            if not self.socket_url:
                return {"ok": False, "error": "no_socket_server"}
            return {"ok": True, "url": self.socket_url}
        return {"ok": True}

    def _receive(self, file_id: str, data: bytes) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}, None))
            queue = self._failures.get("upload") or []
            failure = queue.pop(0) if queue else None
            known = file_id in self._pending
            if failure is None and known:
                self._bytes[file_id] = data
        with self._changed:
            self._changed.notify_all()
        if failure is not None:
            return failure.status if failure.status != 200 else 500, {}, b"upload failed"
        if not known:
            return 404, {}, b"no such upload"
        return 200, {}, f"OK - {len(data)}".encode()

    def _complete(self, params: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(params.get("files") or "[]")
        shared = []
        with self._lock:
            for item in files:
                file_id = item.get("id")
                pending = self._pending.get(file_id)
                data = self._bytes.get(file_id)
                if pending is None or data is None:
                    return {"ok": False, "error": "file_not_found"}
                if len(data) != int(pending["length"]):
                    return {"ok": False, "error": "file_size_mismatch"}
                upload = Upload(
                    file_id,
                    str(pending["filename"]),
                    item.get("title"),
                    params.get("channel_id"),
                    params.get("initial_comment"),
                    data,
                )
                self._shared.append(upload)
                shared.append({"id": file_id, "name": upload.filename, "title": upload.title})
        return {"ok": True, "files": shared}
