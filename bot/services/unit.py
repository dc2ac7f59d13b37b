"""One unit of work on one patient — the shape of every write.

Inside one transaction: lock the patient, read its effective history, append the entry,
derive decisions with the pure core and record the proposals, refresh the calendar rows,
queue the notifications in the outbox, write the audit row, remember the idempotency key.
An exception anywhere rolls all of it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from bot.calendar import Calendar
from bot.decisions import Decision, decide
from bot.errors import UserError
from bot.events import Event, Verdict
from bot.posts import Post
from bot.services import derive, histories, notify
from bot.services.access import AccessRefused, audit_refusal, check_write_in
from bot.services.context import SYSTEM_USER, Request, ServiceContext
from bot.services.outcome import Outcome
from bot.storage.audit import add_audit
from bot.storage.calendar_rows import replace_calendar_rows
from bot.storage.database import lock_patient, patient_by_study_id
from bot.storage.eventlog import append_event, patient_events
from bot.storage.idempotency import remember, remembered
from bot.storage.models import (
    CalendarRow,
    DecisionRecord,
    EventRecord,
    Patient,
    Site,
    normalise_study_id,
)


class Replayed(Exception):
    """Raised inside a unit when its idempotency key was already served."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def entry_json(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude={"seq"})
    return data


class PatientUnit:
    def __init__(
        self, ctx: ServiceContext, request: Request, session: Session, patient: Patient
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.session = session
        self.patient = patient
        site = session.get(Site, patient.site_id)
        if site is None:  # the foreign key makes this impossible; say so if it happens
            raise RuntimeError(f"patient {patient.study_id} has no site row {patient.site_id!r}")
        self.site = site
        self.now = ctx.now()
        self.today = ctx.today_at(site.timezone)
        self.posts: list[Post] = []
        self._reload()

    # ---- reading -----------------------------------------------------------------------
    def _reload(self) -> None:
        # The log parsed once per row, kept between writes (bot.services.histories).
        self.entries, self.history = histories.read_log(
            self.session, self.patient.id, self.ctx.histories
        )
        self._rows: list[EventRecord] | None = None

    @property
    def rows(self) -> list[EventRecord]:
        """The log's rows, read when asked (corrections need them; most writes do not)."""
        if self._rows is None:
            self._rows = patient_events(self.session, self.patient.id)
        return self._rows

    def log(self) -> histories.CachedLog | None:
        """The log as this unit leaves it, for the cache once committed."""
        return histories.snapshot(self.entries, self.history)

    def event(self, label: str) -> Event | None:
        return next((e for e in self.history if e.id == label), None)

    def enrolled_on(self) -> date:
        """The first date an entry may carry. Enrolled ahead of day 1 (the usual way), that
        is the day of enrolment. Registered after treatment began, the true enrolment
        date is unknown, so the protocol's screening window (the earliest window of the
        patient's calendar, e.g. the eligibility visit's) bounds it instead."""
        local = self.patient.created_at.astimezone(ZoneInfo(self.site.timezone)).date()
        if local <= self.patient.day1:
            return local
        screening = self.session.exec(
            select(func.min(CalendarRow.window_from)).where(
                CalendarRow.patient_id == self.patient.id
            )
        ).one()
        return min(screening or self.patient.day1, self.patient.day1)

    def clinical_date(self, given: date | None, field: str = "date") -> date:
        """The entry's clinical date: today at the site unless given; never in the future,
        never before enrolment."""
        day = given or self.today
        if day > self.today:
            raise UserError(
                f"{day.isoformat()} is in the future (today at the site is "
                f"{self.today.isoformat()})",
                field=field,
                allowed="today or an earlier date",
            )
        first = self.enrolled_on()
        if day < first:
            raise UserError(
                f"{day.isoformat()} is before {self.patient.study_id} was enrolled "
                f"({first.isoformat()})",
                field=field,
                allowed=f"{first.isoformat()} or later",
            )
        return day

    # ---- writing -----------------------------------------------------------------------
    def append(
        self,
        event: Event,
        *,
        corrects: int | None = None,
        voids: int | None = None,
        reason: str | None = None,
        by: str | None = None,
        source: str | None = None,
    ) -> Event:
        """Append `event` to the log; return it as the core sees it (with its id)."""
        payload = event.model_dump(mode="json", exclude={"id", "seq"})
        row = append_event(
            self.session,
            patient_id=self.patient.id,
            kind=event.kind,
            clinical_date=event.date,
            payload=payload,
            recorded_by=by or self.request.user,
            source=source or self.request.source,
            now=self.now,
            corrects=corrects,
            voids=voids,
            reason=reason,
            request_key=self.request.key if by is None else None,
        )
        if self._rows is not None:
            self._rows.append(row)
        entry = histories.log_entry(row)
        self.entries.append(entry)
        self.history = histories.extended(self.history, self.entries, [entry])
        return entry.event

    def decide_and_propose(self, event: Event, before: Sequence[Event]) -> list[dict[str, Any]]:
        """Run the engine on `event` (already appended) against the history `before` it;
        record a proposal for every decision that needs an investigator."""
        context = derive.decision_context(
            self.ctx, self.patient, self.site, before, event.date, entry=event
        )
        decisions = decide(context, before, event)
        return [self.record_decision(decision, event) for decision in decisions]

    def record_decision(self, decision: Decision, event: Event) -> dict[str, Any]:
        trigger = _number(decision.trigger)
        status = "proposed" if decision.needs_confirmation else "info"
        row = DecisionRecord(
            patient_id=self.patient.id,
            event_id=trigger,
            drug=decision.drug,
            action=decision.action,
            dose_percent=decision.dose_percent,
            reason=decision.reason,
            rule=decision.rule,
            criterion=decision.criterion,
            needs_confirmation=decision.needs_confirmation,
            status=status,
            proposed_at=self.now,
            payload=decision.to_json(),
        )
        self.session.add(row)
        self.session.flush()
        label = row.label
        if decision.needs_confirmation:
            proposal = self.append(
                decision.as_proposal(on=event.date, decision_id=label),
                by=SYSTEM_USER,
                source="engine",
            )
            row.proposal_event_id = _number(proposal.id)
            self.session.add(row)
        result = decision.to_json(label)
        result["status"] = status
        return result

    def verdict(self, record: DecisionRecord, status: str, reason: str | None) -> Event:
        record.status = status
        record.decided_by = (
            self.request.user if status in ("confirmed", "overridden") else SYSTEM_USER
        )
        record.decided_at = self.now
        if status == "overridden":
            record.override_reason = reason
        self.session.add(record)
        event = Verdict(
            date=self.today,
            decision_id=record.label,
            status=status,
            reason=reason,
            by=record.decided_by,
        )
        by = None if status in ("confirmed", "overridden") else SYSTEM_USER
        return self.append(event, by=by, source=None if by is None else "engine")

    def refresh_calendar(self) -> Calendar:
        """Recompute the calendar from the history and store it as the patient's rows.
        Stored without "today": statuses that depend on the date are derived on reading."""
        calendar = derive.calendar_for(self.ctx, self.patient, self.site, self.history)
        replace_calendar_rows(self.session, self.patient.id, self.site.id, calendar.events_json())
        return calendar

    def post(self, post: Post, dedupe_key: str) -> None:
        """Queue `post` in the outbox (as data; transports render it) and keep it for
        the outcome."""
        notify.enqueue_post(self.session, post, dedupe_key=dedupe_key, now=self.now)
        self.posts.append(post)

    def audit(self, action: str, details: dict[str, Any]) -> None:
        add_audit(
            self.session,
            actor=self.request.user,
            action=action,
            subject=f"patient:{self.patient.study_id}",
            details=details,
            now=self.now,
        )


def _number(label: str | None) -> int | None:
    if label is None:
        return None
    digits = label.lstrip("EeDd")
    return int(digits) if digits.isdigit() else None


@contextmanager
def transaction(ctx: ServiceContext, request: Request, operation: str) -> Iterator[Session]:
    """A write transaction that checks the role inside it (`access.check_write_in`: a
    demotion that lands meanwhile stops the write) and honours the request's idempotency
    key: if the key was already served, `Replayed` carries the first outcome out."""
    try:
        with ctx.db.transaction() as session:
            check_write_in(session, ctx, request, operation)
            if request.key:
                prior = remembered(session, request.key, operation, request.content)
                if prior is not None:
                    outcome = Outcome.model_validate(prior.response)
                    raise Replayed(outcome.model_copy(update={"replayed": True}))
            yield session
    except AccessRefused as refused:
        if refused.in_transaction:  # rolled back; the refusal itself is kept
            audit_refusal(ctx, request, refused)
        raise


def find_patient(session: Session, study_id: str, *, lock: bool) -> Patient:
    normalised = normalise_study_id(study_id)
    patient = patient_by_study_id(session, normalised, lock=lock)
    if patient is None:
        known = list(session.exec(select(Patient.study_id).order_by(Patient.study_id)).all())
        from bot.errors import closest

        raise UserError(
            f"no patient {normalised} is enrolled",
            field="study_id",
            suggestion=closest(normalised, known),
            allowed="an enrolled study ID" if known else "enroll the patient first",
        )
    if lock:
        lock_patient(session, patient.id)
    return patient


def run_patient_write(
    ctx: ServiceContext,
    request: Request,
    operation: str,
    study_id: str,
    work: Callable[[PatientUnit], Outcome],
) -> Outcome:
    """The frame of every patient write: idempotency, lock, work, remember."""
    try:
        with transaction(ctx, request, operation) as session:
            patient = find_patient(session, study_id, lock=True)
            unit = PatientUnit(ctx, request, session, patient)
            outcome = work(unit)
            outcome = outcome.model_copy(update={"posts": unit.posts, "study_id": patient.study_id})
            if request.key:
                remember(
                    session,
                    request.key,
                    operation,
                    outcome.model_dump(mode="json"),
                    now=unit.now,
                    content_hash=request.content,
                )
        log = unit.log()  # committed: the next write of this patient starts from it
        if log is not None:
            ctx.histories.put(patient.id, log)
        return outcome
    except Replayed as replay:
        return replay.outcome
