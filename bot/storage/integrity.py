"""The audit chain covers the data: every audited row's content is hashed into the audit
row that records the action which wrote it, and can be checked against the tables.

Audited tables: `event` (every entry), `decision` (every proposal and status change),
`member` (every role change) and `patient` (the enrolment projection). A session listener
notes every row of those tables an ORM flush inserts or updates; `add_audit` takes the
noted rows and stores `{"rows": {table: {key: sha256 of the row's content}}}` in its
details — so the audit row that says "lab E12 by U0NURSE01" also carries the hash of E12
as written, and the one that says "confirmed D3" the hash of D3 as confirmed.

`verify_rows(session)` then recomputes every row's hash from the table and compares it
with the last hash the chain recorded for it, naming the first row that disagrees (edited
behind the application's back), a row the chain recorded that is gone (deleted), and a
row the chain never recorded (inserted behind its back). An empty chain beside data is
itself an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import object_session
from sqlmodel import Session, SQLModel, select

from bot.clock import as_utc
from bot.storage.jsonvalues import canonical_json
from bot.storage.models import DecisionRecord, EventRecord, Member, Patient

AUDITED: dict[str, type[SQLModel]] = {
    "event": EventRecord,
    "decision": DecisionRecord,
    "patient": Patient,
    "member": Member,
}
_TRACKED = "trialbot_unaudited_rows"


def _plain(value: Any) -> Any:
    """A column value as hashed: instants in UTC ISO form, dates ISO, whole floats as
    integers (PostgreSQL's JSONB gives `1e16` back as an integer), JSON walked."""
    if isinstance(value, datetime):
        return as_utc(value, what="instant").isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def row_key(row: SQLModel) -> str:
    """The row's primary key as text ("12", "U0NURSE01")."""
    identity = inspect(row).mapper.primary_key_from_instance(row)
    if any(part is None for part in identity):
        raise ValueError(f"{type(row).__name__} has no primary key yet")
    return ":".join(str(part) for part in identity)


def row_digest(row: SQLModel) -> str:
    """SHA-256 over the canonical JSON of every column of `row`."""
    content = {column.key: _plain(getattr(row, column.key)) for column in row.__table__.columns}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _table_of(row: object) -> str | None:
    for name, model in AUDITED.items():
        if isinstance(row, model):
            return name
    return None


def _note_written_row(_mapper: Any, _connection: Any, row: SQLModel) -> None:
    """Note an audited row an ORM flush inserted or updated (by table and key)."""
    session = object_session(row)
    table = _table_of(row)
    if session is None or table is None:
        return
    session.info.setdefault(_TRACKED, {})[(table, row_key(row))] = row


for _model in AUDITED.values():
    sa_event.listen(_model, "after_insert", _note_written_row)
    sa_event.listen(_model, "after_update", _note_written_row)


@sa_event.listens_for(OrmSession, "after_commit")
@sa_event.listens_for(OrmSession, "after_rollback")
def _forget(session: OrmSession) -> None:
    session.info.pop(_TRACKED, None)


def take_written_rows(session: Session) -> dict[str, dict[str, str]]:
    """The hashes of the audited rows written since the last audit row, by table; the
    session forgets them (they are now recorded)."""
    session.flush()
    noted: dict[tuple[str, str], SQLModel] = session.info.pop(_TRACKED, {})
    rows: dict[str, dict[str, str]] = {}
    for (table, key), row in sorted(noted.items()):
        rows.setdefault(table, {})[key] = row_digest(row)
    return rows


@dataclass(frozen=True)
class RowProblem:
    """A row of the data that does not agree with the audit chain (or a projection that
    does not agree with the log)."""

    table: str
    key: str
    audit_row: int | None
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.problem}"


def _shown_key(table: str, key: str, row: SQLModel | None = None) -> str:
    """How a row is named in a report: E5, D3, U0NURSE01, and a patient by study ID
    (by row id only when the row is gone)."""
    if table == "event":
        return f"E{key}"
    if table == "decision":
        return f"D{key}"
    if table == "patient" and isinstance(row, Patient):
        return row.study_id
    return key


def recorded_hashes(session: Session) -> tuple[int, dict[str, dict[str, tuple[str, int]]]]:
    """How many audit rows there are, and for each audited row the last hash the chain
    recorded for it with the id of the audit row that did."""
    from bot.storage.models import AuditEntry

    count = 0
    recorded: dict[str, dict[str, tuple[str, int]]] = {name: {} for name in AUDITED}
    for audit_id, details in session.exec(
        select(AuditEntry.id, AuditEntry.details).order_by(AuditEntry.id)
    ):
        count += 1
        for table, hashes in (details or {}).get("rows", {}).items():
            if table in recorded:
                for key, digest in hashes.items():
                    recorded[table][key] = (digest, audit_id)
    return count, recorded


def _rows(session: Session, model: type[SQLModel]) -> Iterator[SQLModel]:
    primary = next(iter(model.__table__.primary_key.columns))
    yield from session.exec(
        select(model).order_by(primary).execution_options(yield_per=1000, populate_existing=True)
    )


def verify_rows(session: Session) -> RowProblem | None:
    """The first audited row that does not match what the chain recorded, or None."""
    audit_rows, recorded = recorded_hashes(session)
    if audit_rows == 0:
        for table, model in AUDITED.items():
            row = session.exec(select(model).limit(1)).first()
            if row is not None:
                return RowProblem(
                    table,
                    _shown_key(table, row_key(row), row),
                    None,
                    f"the audit trail is empty but the {table} table holds rows: the "
                    "trail was emptied, or the data was written behind the application's back",
                )
    for table, model in AUDITED.items():
        claimed = dict(recorded[table])
        for row in _rows(session, model):
            key = row_key(row)
            shown = _shown_key(table, key, row)
            entry = claimed.pop(key, None)
            if entry is None:
                return RowProblem(
                    table,
                    shown,
                    None,
                    "no audit row records it: it was written behind the application's back",
                )
            digest, audit_id = entry
            if row_digest(row) != digest:
                return RowProblem(
                    table,
                    shown,
                    audit_id,
                    f"its content does not match the hash audit row {audit_id} recorded: "
                    "it was changed after it was written",
                )
        if claimed:
            key, (_digest, audit_id) = min(claimed.items(), key=lambda item: (item[1][1], item[0]))
            return RowProblem(
                table,
                _shown_key(table, key),
                audit_id,
                f"audit row {audit_id} recorded it, but the {table} table no longer has it: "
                "it was deleted",
            )
    return None
