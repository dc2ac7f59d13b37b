"""The acking front of `TRIALBOT_SLACK_WORKER=process`: the Bolt side and the worker's
supervisor (the worker itself: `worker.py`).

The rule: what a listener does before and in its ack happens here; what it defers
(`transport.submit`, `transport.soon`) happens in the worker, which replays the whole
request. So in the front `submit` and `soon` run nothing: they forward the request being
answered — captured by a global middleware, which Bolt runs after the signature check —
once, however often a listener defers. Type-ahead (`options`) is answered here (reads
only). A view submission is the one request whose listener writes *before* its ack (a
refusal is shown on the form's field, `response_action: errors`): the middleware sends
it to the worker as a call and answers Slack with the worker's response, so every write
stays in one process (on SQLite, one writer).

Supervision: the worker is started with multiprocessing's spawn (a fresh interpreter:
no threads, engines or locks copied from this process). If it dies, one line is logged
(its exit code, never patient data), it is started again, and a request whose write to
the pipe failed is sent once more to the new worker. A request already in the pipe when
the worker died is lost (docs/operations.md). `stop()` closes the pipe; the worker
finishes, stops and exits; it is joined with a bound.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_exit
from typing import Any

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.transports.slack.worker import WorkerSpec, decode, encode, run_worker

log = logging.getLogger("trialbot.slack")

START_SECONDS = 120.0  # a worker not ready by then is refused (a bound, not an estimate)
STOP_SECONDS = 30.0  # in-flight work and the last delivery, then the worker is killed
CALL_SECONDS = 2.5  # a view submission's answer: Slack stops waiting at 3 s
RESTART_PAUSE = (0.5, 30.0)  # first and longest pause between failed restarts
FORWARDED = "trialbot_forwarded"  # in a request's context: already sent to the worker

_current: ContextVar[BoltRequest | None] = ContextVar("trialbot_slack_request", default=None)


class WorkerError(Exception):
    """The worker process could not be started."""


@dataclass
class _Link:
    """One worker process and the front's ends of its two pipes."""

    process: Any
    requests: Any  # the front writes requests here
    answers: Any  # and reads `ready` and answers here


class Worker:
    """The front's handle on the worker process: start, forward, call, supervise, stop."""

    def __init__(self, spec: WorkerSpec, *, start_seconds: float = START_SECONDS) -> None:
        self._spec = spec
        self._start_seconds = start_seconds
        self._mp = multiprocessing.get_context("spawn")
        self._outgoing: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._calls: dict[int, Future] = {}
        self._calls_lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._generation = 0
        self._link: _Link | None = None
        self._stopping = threading.Event()
        self._sender = threading.Thread(target=self._send, name="slack-forward", daemon=True)
        self.restarts = 0
        self.scheduler = False
        self.forwarded = 0  # requests handed to the worker (calls included)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> Worker:
        """Start the worker and wait until it is ready (WorkerError if it is not)."""
        self._install(self._spawn())
        self._sender.start()
        threading.Thread(target=self._supervise, name="slack-supervise", daemon=True).start()
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Close the pipe (after what was forwarded), let the worker finish and exit."""
        self._stopping.set()
        with self._changed:  # a sender waiting for a restart stops waiting
            self._changed.notify_all()
        self._outgoing.put(None)
        self._sender.join(timeout)
        link = self._link
        if link is None:
            return
        link.process.join(timeout)
        if link.process.is_alive():
            log.error("slack worker did not stop within %.0f s; killing it", timeout)
            link.process.kill()
            link.process.join(5)

    @property
    def started(self) -> bool:
        return self._link is not None

    @property
    def alive(self) -> bool:
        link = self._link
        return bool(link is not None and link.process.is_alive())

    def state(self) -> dict[str, Any]:
        link = self._link
        alive = self.alive
        return {
            "mode": "process",
            "alive": alive,
            "pid": link.process.pid if link is not None else None,
            "restarts": self.restarts,
            "forwarded": self.forwarded,
            "scheduler": "running" if self.scheduler else "off",
        }

    def wait_started(self, restarts: int, timeout: float) -> bool:
        """Wait until the worker has been started again `restarts` times in all and is
        ready (True), or `timeout` seconds have passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.restarts >= restarts, timeout)

    @property
    def pid(self) -> int | None:
        return self._link.process.pid if self._link is not None else None

    @property
    def pids(self) -> list[int | None]:
        """As a pool's: callers need not tell one worker from several."""
        return [self.pid]

    # --- what the front's listeners do ----------------------------------------------------
    def forward(self, req: BoltRequest) -> None:
        """Hand the request to the worker (never blocks: the sender thread writes)."""
        with self._calls_lock:
            self.forwarded += 1
        self._outgoing.put(encode("forward", req))

    def call(self, req: BoltRequest, timeout: float = CALL_SECONDS) -> BoltResponse:
        """The worker's response to `req` — or 503 (Slack shows the form an error; the
        person submits again, which the view's key makes act once) when it has none in
        time."""
        number = next(self._numbers)
        answer: Future = Future()
        with self._calls_lock:
            self._calls[number] = answer
            self.forwarded += 1
        self._outgoing.put(encode("call", req, number))
        try:
            found = answer.result(timeout)
        except (FutureTimeout, ConnectionError):
            log.error("slack worker: no answer to a form submission in time")
            return BoltResponse(status=503, body="")
        finally:
            with self._calls_lock:
                self._calls.pop(number, None)
        return BoltResponse(status=found["status"], body=found["body"], headers=found["headers"])

    # --- the process ----------------------------------------------------------------------
    def _spawn(self) -> _Link:
        requests_out, requests_in = self._mp.Pipe(duplex=False)  # (reader, writer)
        answers_out, answers_in = self._mp.Pipe(duplex=False)
        process = self._mp.Process(
            target=run_worker,
            args=(self._spec, requests_out, answers_in),
            name="trialbot-slack-worker",
            daemon=True,
        )
        process.start()
        requests_out.close()  # the worker's ends: closed here, so either side sees EOF
        answers_in.close()
        try:
            if not answers_out.poll(self._start_seconds):
                raise WorkerError(f"not ready within {self._start_seconds:.0f} s")
            ready = decode(answers_out.recv_bytes())
        except (EOFError, OSError, WorkerError) as exc:
            process.kill()
            process.join(5)
            requests_in.close()
            answers_out.close()
            why = exc if isinstance(exc, WorkerError) else f"exit code {process.exitcode}"
            raise WorkerError(f"the Slack worker process did not start ({why})") from None
        self.scheduler = bool(ready.get("scheduler"))
        return _Link(process, requests_in, answers_out)

    def _install(self, link: _Link, *, restarted: bool = False) -> None:
        with self._changed:
            self._link = link
            self._generation += 1
            self.restarts += restarted
            self._changed.notify_all()
        threading.Thread(
            target=self._receive, args=(link,), name="slack-answers", daemon=True
        ).start()

    def _supervise(self) -> None:
        """Wait for the worker to end; unless the front is stopping, start another."""
        while True:
            link = self._link
            assert link is not None
            wait_for_exit([link.process.sentinel])
            if self._stopping.is_set():
                return
            log.error("slack worker exited (code %s); starting it again", link.process.exitcode)
            pause = RESTART_PAUSE[0]
            while not self._stopping.is_set():
                try:
                    new = self._spawn()
                except WorkerError as exc:
                    log.error("%s; trying again in %.1f s", exc, pause)
                    self._stopping.wait(pause)
                    pause = min(pause * 2, RESTART_PAUSE[1])
                    continue
                if self._stopping.is_set():  # stopped meanwhile: this one ends at once
                    new.requests.close()
                    new.process.join(STOP_SECONDS)
                    return
                self._install(new, restarted=True)
                break

    def _receive(self, link: _Link) -> None:
        """Answers to calls, until this worker's pipe ends; then its calls fail."""
        while True:
            try:
                message = decode(link.answers.recv_bytes())
            except (EOFError, OSError):
                break
            if message.get("kind") == "answer":
                with self._calls_lock:
                    answer = self._calls.get(message.get("id"))
                if answer is not None and not answer.done():
                    answer.set_result(message)
        link.answers.close()
        with self._calls_lock:
            pending = list(self._calls.values())
        for answer in pending:
            if not answer.done():
                answer.set_exception(ConnectionError("the Slack worker ended"))

    def _send(self) -> None:
        """The one writer of the request pipe (a Connection is not safe for several
        threads); a write that fails is made once more, to the next worker."""
        while True:
            data = self._outgoing.get()
            if data is None:
                break
            generation = self._generation
            if self._write(data):
                continue
            if self._next_worker(generation) and self._write(data):
                continue
            log.error("slack worker: a %s was lost (the worker is down)", decode(data)["kind"])
        link = self._link
        if link is not None:
            link.requests.close()  # end of the pipe: the worker finishes and exits

    def _write(self, data: bytes) -> bool:
        """Write to the current worker; False when its pipe is broken (then closed here,
        by the pipe's one writer)."""
        link = self._link
        assert link is not None
        try:
            link.requests.send_bytes(data)
            return True
        except (OSError, ValueError):  # the worker is gone (broken pipe)
            link.requests.close()
            return False

    def _next_worker(self, generation: int) -> bool:
        deadline = time.monotonic() + self._start_seconds
        with self._changed:
            while self._generation == generation and not self._stopping.is_set():
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    return False
        return self._generation != generation


class WorkerPool:
    """Several worker processes (TRIALBOT_SLACK_WORKERS > 1, PostgreSQL only), each a
    `Worker` supervised as one is. A request goes to the next live worker in turn: one
    person's commands seconds apart may be worked in two processes, as behind several
    replicas — the patient's lock orders the writes, the idempotency keys and the
    Events API marks are in the database, and each worker's delivery thread claims the
    outbox with SKIP LOCKED, so nothing is recorded or posted twice."""

    def __init__(self, specs: list[WorkerSpec], *, start_seconds: float = START_SECONDS) -> None:
        self.workers = [Worker(spec, start_seconds=start_seconds) for spec in specs]
        self._turns = itertools.count()
        self._lock = threading.Lock()

    def start(self) -> WorkerPool:
        """Start them all, in parallel (each spawn imports the whole app), and wait until
        every one is ready; WorkerError if one is not (the others are stopped)."""
        failures: list[BaseException] = []

        def start_one(worker: Worker) -> None:
            try:
                worker.start()
            except BaseException as exc:  # reported below, after the others are up or down
                failures.append(exc)

        starting = [threading.Thread(target=start_one, args=(w,)) for w in self.workers]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        if failures:
            self.stop()
            raise failures[0]
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop every worker at once (each finishes its work and its last delivery)."""
        stopping = [
            threading.Thread(target=w.stop, args=(timeout,)) for w in self.workers if w.started
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def _next(self) -> Worker:
        """The next worker in turn that is alive (all down: the next in turn, whose
        sender waits for its restart)."""
        with self._lock:
            first = next(self._turns)
        count = len(self.workers)
        for step in range(count):
            worker = self.workers[(first + step) % count]
            if worker.alive:
                return worker
        return self.workers[first % count]

    def forward(self, req: BoltRequest) -> None:
        self._next().forward(req)

    def call(self, req: BoltRequest, timeout: float = CALL_SECONDS) -> BoltResponse:
        return self._next().call(req, timeout)

    @property
    def pids(self) -> list[int | None]:
        return [w.pid for w in self.workers]

    @property
    def scheduler(self) -> bool:
        return any(w.scheduler for w in self.workers)

    def state(self) -> dict[str, Any]:
        """As one worker's, summed (alive: every one), with each worker's beside it."""
        each = [w.state() for w in self.workers]
        return {
            "mode": "process",
            "alive": all(s["alive"] for s in each),
            "pid": each[0]["pid"],
            "restarts": sum(s["restarts"] for s in each),
            "forwarded": sum(s["forwarded"] for s in each),
            "scheduler": "running" if self.scheduler else "off",
            "workers": [{k: v for k, v in s.items() if k != "mode"} for s in each],
        }


class FrontMiddleware(Middleware):
    """Runs after Bolt's signature check: remembers the request being answered (for
    `forward_current`); a view submission is answered by the worker."""

    def __init__(self, worker: Worker | WorkerPool) -> None:
        self._worker = worker

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Any) -> BoltResponse | None:
        if req.body.get("type") == "view_submission":
            return self._worker.call(req)
        _current.set(req)  # Bolt runs the listener in this thread (process_before_response)
        next()
        return resp

    @property
    def name(self) -> str:
        return "FrontMiddleware"


def forwarder(worker: Worker | WorkerPool):
    """`transport.forward` in the front: send the current request to the worker, once."""

    def forward(what: str) -> Future:
        req = _current.get()
        if req is None:
            raise RuntimeError(f"{what}: no Slack request to forward")  # only from a listener
        if not req.context.get(FORWARDED):
            req.context[FORWARDED] = True
            worker.forward(req)
        done: Future = Future()
        done.set_result(None)
        return done

    return forward
