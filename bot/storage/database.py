"""The database trialbot runs on, built from a URL: no module-level engine.

SQLite (the embedded default) is configured for one process with several threads: WAL
journal, a busy timeout, foreign keys enforced, and `BEGIN IMMEDIATE` for every write
transaction so two writers queue up at the start instead of one failing half-way (the
pysqlite event recipe from SQLAlchemy's SQLite dialect documentation). Its schema is
migrated on first use.

PostgreSQL (production) is never migrated implicitly: replicas could race, and a schema
change deserves an operator. `trialbot db upgrade` does it; until then opening the
database fails with a message naming that command.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool, StaticPool
from sqlmodel import Session, select

from bot.clock import Clock, SystemClock, as_utc
from bot.errors import UserError
from bot.settings import SUPPORTED_DATABASES
from bot.storage import migrate
from bot.storage.models import Patient

log = logging.getLogger("trialbot.storage")
# Set in a session's `info` by `outbox.enqueue`: once that transaction commits, the
# database tells its outbox listeners (see `Database.on_outbox_commit`).
OUTBOX_WRITTEN = "trialbot.outbox_written"

READONLY_OPTION = "trialbot_readonly"


class SchemaOutOfDate(UserError):
    """The database's schema is not the one this trialbot was built for."""


class DatabaseUnavailable(UserError):
    """The database cannot be reached or opened."""


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _configure_sqlite(
    engine: Engine, *, busy_timeout_ms: int, foreign_keys: bool, memory: bool
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing its own (deferred, late) BEGIN; the
        # "begin" listener below emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        if not memory:
            # WAL lets readers proceed while one writer commits. FULL synchronous stays
            # (the default): a recorded dose must survive a power cut.
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")


class Database:
    """An engine plus the rules for using it. Build one at start-up and pass it down."""

    def __init__(
        self,
        url: str | URL,
        *,
        busy_timeout_ms: int = 5000,
        pool_size: int = 5,
        max_overflow: int = 5,
        echo: bool = False,
    ) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise UserError(
                f"{str(url)!r} is not a database URL",
                field="TRIALBOT_DATABASE_URL",
                allowed=SUPPORTED_DATABASES,
            ) from None
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise UserError(
                f"{self.dialect!r} databases are not supported",
                field="TRIALBOT_DATABASE_URL",
                allowed=SUPPORTED_DATABASES,
            )
        self._busy_timeout_ms = busy_timeout_ms
        self._outbox_listeners: list[Callable[[], None]] = []
        # SQLite runs one writer at a time; this process's writers queue here in turn,
        # woken as soon as the previous one commits, instead of in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms and lets a late writer overtake one that
        # has waited (a busy pool of writers could starve the delivery thread).
        self._write_lock = FairLock()
        self._memory = _is_memory(self.url)
        try:
            self.engine = self._create_engine(
                pool_size=pool_size, max_overflow=max_overflow, echo=echo
            )
        except NoSuchModuleError:
            raise UserError(
                f"no driver for {self.url.drivername!r}",
                field="TRIALBOT_DATABASE_URL",
                allowed=SUPPORTED_DATABASES,
            ) from None
        readonly: dict[str, Any] = {READONLY_OPTION: True}
        if self.dialect == "postgresql":
            # One snapshot for every read of the block, so a report is consistent.
            readonly.update(postgresql_readonly=True, isolation_level="REPEATABLE READ")
        self._readonly_engine = self.engine.execution_options(**readonly)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @classmethod
    def open(cls, url: str | URL, **options: Any) -> Database:
        """A database whose schema is checked (and on SQLite brought up to date) now."""
        database = cls(url, **options)
        database.ensure_schema()
        return database

    def _create_engine(
        self, *, pool_size: int, max_overflow: int, echo: bool, for_migrations: bool = False
    ) -> Engine:
        if self.dialect == "sqlite":
            if self._memory:
                # One shared connection, or every checkout would see a new empty database.
                engine = create_engine(
                    self.url,
                    echo=echo,
                    poolclass=StaticPool,
                    connect_args={"check_same_thread": False},
                )
            else:
                engine = create_engine(
                    self.url,
                    echo=echo,
                    poolclass=NullPool if for_migrations else None,
                    connect_args={"check_same_thread": False},
                )
            # Batch migrations copy tables; foreign keys must be off while they do, and
            # `PRAGMA foreign_keys` cannot change inside a transaction.
            _configure_sqlite(
                engine,
                busy_timeout_ms=self._busy_timeout_ms,
                foreign_keys=not for_migrations,
                memory=self._memory,
            )
            return engine
        if for_migrations:
            # Migrations get their own short-lived connection, never a pooled one.
            return create_engine(self.url, echo=echo, poolclass=NullPool)
        return create_engine(
            self.url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
        )

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def member_row(self, user: str) -> dict[str, Any] | None:
        """The member row of `user` (role, site, on call), or None — as
        `bot.storage.lite.LiteDatabase.member_row` reads it without the ORM."""
        from bot.storage.models import Member

        with self.transaction(readonly=True) as session:
            member = session.get(Member, user)
            if member is None:
                return None
            return {"role": member.role, "site_id": member.site_id, "on_call": member.on_call}

    # --- schema -----------------------------------------------------------------------

    def _unavailable(self, exc: DBAPIError) -> DatabaseUnavailable:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return DatabaseUnavailable(
            f"cannot use the database {self.display_url}: {reason}", field="TRIALBOT_DATABASE_URL"
        )

    def schema_status(self) -> migrate.SchemaStatus:
        try:
            # Read-only: on SQLite a status check must not queue behind (or block) writers.
            with self._readonly_engine.connect() as connection:
                return migrate.schema_status(connection)
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc

    def _at_head(self) -> bool:
        """The quick check of `ensure_schema`: one query, no Alembic (see migrate.at_head);
        anything else — an empty database, an old or unknown revision, an error — goes to
        the full check, which says what is wrong."""
        try:
            with self._readonly_engine.connect() as connection:
                return migrate.at_head(connection)
        except DBAPIError:
            return False

    def upgrade(self) -> tuple[str | None, str]:
        """Apply every pending migration; return the (from, to) revisions."""
        engine = (
            self.engine
            if self._memory
            else self._create_engine(
                pool_size=1, max_overflow=0, echo=self.engine.echo, for_migrations=True
            )
        )
        try:
            with engine.begin() as connection:
                before = migrate.current_revision(connection)
                status = migrate.schema_status(connection)
                if not status.known:
                    raise self._newer_schema(status)
                migrate.upgrade(connection)
                if self.dialect == "sqlite":
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if problems:
                        raise RuntimeError(f"migration broke foreign keys: {problems[:5]}")
                after = migrate.current_revision(connection)
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc
        finally:
            if engine is not self.engine:
                engine.dispose()
        self._schema_ready = True
        return before, after or migrate.head_revision()

    def _newer_schema(self, status: migrate.SchemaStatus) -> SchemaOutOfDate:
        return SchemaOutOfDate(
            f"the database {self.display_url} is at schema revision {status.current}, "
            f"which this trialbot does not know (its newest is {status.head}); "
            "install the trialbot version that wrote it",
            field="TRIALBOT_DATABASE_URL",
        )

    def ensure_schema(self) -> None:
        """Make sure the schema is current: migrate SQLite, refuse an old PostgreSQL."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            if self._at_head():
                self._schema_ready = True
                return
            status = self.schema_status()
            if not status.known:
                raise self._newer_schema(status)
            if not status.up_to_date:
                if self.dialect != "sqlite":
                    raise SchemaOutOfDate(
                        f"the database {self.display_url} is at schema revision "
                        f"{status.current or '(empty)'} but this trialbot needs {status.head}: "
                        "run `trialbot db upgrade` with TRIALBOT_DATABASE_URL pointing at it",
                        field="TRIALBOT_DATABASE_URL",
                    )
                self.upgrade()
            self._schema_ready = True

    # --- units of work ------------------------------------------------------------------

    def session(self) -> Session:
        """A bare session (the caller commits or rolls back); prefer `transaction()`."""
        self.ensure_schema()
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self, *, readonly: bool = False, urgent: bool = False) -> Iterator[Session]:
        """One unit of work: everything in the block commits together or not at all.

        An exception inside the block rolls the whole transaction back and propagates.
        Objects stay usable after the block (no expiry on commit). `readonly=True` on
        SQLite starts a deferred transaction that does not queue behind writers; on
        PostgreSQL it is a READ ONLY, REPEATABLE READ transaction (one snapshot).
        `urgent`: a short write others wait for (the outbox's claims and deliveries); on
        SQLite it goes before this process's queued writers (which it would otherwise
        wait behind, each a whole command's transaction).
        """
        self.ensure_schema()
        bind = self._readonly_engine if readonly else self.engine
        queue = (
            self._write_turn(urgent) if self.dialect == "sqlite" and not readonly else nullcontext()
        )
        with queue, Session(bind, expire_on_commit=False) as session:
            with session.begin():
                yield session
            written = session.info.pop(OUTBOX_WRITTEN, False)
        if written:
            self._outbox_committed()

    @contextmanager
    def _write_turn(self, urgent: bool) -> Iterator[None]:
        self._write_lock.acquire(first=urgent)
        try:
            yield
        finally:
            self._write_lock.release()

    # --- who delivers what the outbox holds -----------------------------------------

    def on_outbox_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` (in the committing thread; it must be quick, e.g. set an
        event) each time a transaction that queued outbox messages has committed, so a
        delivery thread is woken by the write itself instead of polling. Returns the
        function that unregisters it."""
        self._outbox_listeners.append(listener)
        return lambda: self._outbox_listeners.remove(listener)

    def _outbox_committed(self) -> None:
        for listener in list(self._outbox_listeners):
            try:
                listener()
            except Exception:  # a listener must never undo a committed write's caller
                log.exception("an outbox listener failed")

    def clock(self) -> Clock:
        """A clock reading the database server's time (PostgreSQL), so leases compare
        against one clock whichever replica writes them; SQLite is single-host."""
        if self.dialect == "postgresql":
            return _ServerClock(self.engine)
        return SystemClock()


class FairLock:
    """A re-entrant lock handed to its waiters in the order they came (first come,
    first served), unlike `threading.RLock`, which any thread may snatch on release."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Event]] = deque()

    def __enter__(self) -> FairLock:
        return self.acquire()

    def acquire(self, *, first: bool = False) -> FairLock:
        """`first`: wait at the head of the queue (a short write that others wait for)."""
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return self
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return self
            turn = threading.Event()
            if first:
                self._waiters.appendleft((me, turn))
            else:
                self._waiters.append((me, turn))
        turn.wait()  # the releasing thread made us the owner
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, turn = self._waiters.popleft()
                self._depth = 1
                turn.set()
            else:
                self._owner = None


class _ServerClock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def now(self) -> datetime:
        with self._engine.connect() as connection:
            return as_utc(connection.execute(text("SELECT clock_timestamp()")).scalar_one())


def lock_patient(session: Session, patient_id: int) -> Patient | None:
    """The patient row, locked until the end of the transaction.

    Every write that touches a patient (new event, derived state, calendar rows) calls
    this first, so two concurrent entries for one patient run one after the other and the
    second sees what the first committed. PostgreSQL: `SELECT … FOR UPDATE`. SQLite: write
    transactions already run one at a time (BEGIN IMMEDIATE), so a plain read suffices.
    """
    statement = select(Patient).where(Patient.id == patient_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement.execution_options(populate_existing=True)).first()


def patient_by_study_id(session: Session, study_id: str, *, lock: bool = False) -> Patient | None:
    """The patient with `study_id` (already normalised), optionally locked like
    `lock_patient`."""
    statement = select(Patient).where(Patient.study_id == study_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement.execution_options(populate_existing=True)).first()
