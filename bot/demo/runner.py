"""The demo's runner: the synthetic cohort through the real services and the real
scheduler tick, on a simulated clock moved day by day (nothing sleeps).

Every morning at the digest time the scheduler's `tick(now)` runs (daily review,
reminders, digest); at 09:00 the research nurse records what the calendar says is due
(`queries.due`): enrolments, lab panels on lab days, adverse events of the script,
response assessments on assessment days, infusions given at the calendar's dose. Each
alert is answered by the simulated investigators as the cohort says (on time, by the
backup after the escalation, or only after the channel has been called), through the
services the `/trial` commands use: confirm, attribute, ack. The clock moves in
five-minute steps while an alert is open, with a tick at each step, so escalations
happen when the real scheduler would make them.

Output goes through `Show` (the CLI's printer): the commands as they would have been
typed, and every post delivered through the outbox, as the console transport prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.demo.cohort import ON_TIME, Answer, Cohort, SimPatient
from bot.errors import UserError
from bot.posts import Post
from bot.services import alerts, course, enrolment, entries, queries, rota, verdicts
from bot.services.context import Request, ServiceContext
from bot.services.members import set_role
from bot.services.tick import tick
from bot.transports.notifier import drain_outbox

NURSE = "U0NURSE01"
ONCALL = "U0DOC0001"
BACKUP = "U0DOC0002"
PI = "U0PI00001"
STEP = timedelta(minutes=5)
MORNING = time(9, 0)
ASSESSMENTS = ("end_of_ebrt_evaluation", "efficacy_assessment")
OFF_TREATMENT = "progressive disease (RECIST 1.1): off study treatment"


HOLIDAY_SEARCH_WEEKS = 52  # how far from the start a holiday patient's day 1 is looked for


def holiday_day1(ctx: ServiceContext, start: date) -> date | None:
    """The first Monday from `start` that is a treatment day of the default site and on
    which a patient's later phase of treatment (the first dose of any phase after the
    first) would fall, by the trial's schedule, on a weekday the site does not treat (a
    public holiday of its sites.yaml country or a closure): the demo's `holiday` patient.
    None when no such day is found within `HOLIDAY_SEARCH_WEEKS`."""
    from bot.calendar.engine import build_calendar
    from bot.calendar.plan import PatientPlan
    from bot.calendar.sites import SiteCalendar

    site = SiteCalendar(ctx.rules.sites.config(ctx.default_site))
    monday = start + timedelta(days=-start.weekday() % 7)
    for week in range(HOLIDAY_SEARCH_WEEKS):
        day1 = monday + timedelta(weeks=week)
        if not site.is_treatment_day(day1):
            continue
        firsts: dict[str, date] = {}
        plan = PatientPlan(day1=day1)
        for event in build_calendar(ctx.rules.schedule, plan, [], site).events:
            if event.dose is not None and event.nominal_date is not None:
                firsts.setdefault(event.phase, event.nominal_date)
        for nominal in list(firsts.values())[1:]:
            if nominal.weekday() < 5 and not site.is_treatment_day(nominal):
                return day1
    return None


class Show(Protocol):
    def day(self, day: date, number: int, total: int) -> None: ...
    def command(self, text: str, *, user: str, when: datetime) -> None: ...
    def post(self, post: Post) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class _Pending:
    subject: str  # the alert: "D12" or "E45"
    study_id: str
    answer: Answer
    due: datetime
    decision_ids: tuple[str, ...]


@dataclass
class Runner:
    ctx: ServiceContext
    clock: object  # a FixedClock: set() and now()
    cohort: Cohort
    show: Show
    site: str = field(init=False)
    zone: ZoneInfo = field(init=False)
    by_id: dict[str, SimPatient] = field(init=False)
    enrolled: set[str] = field(default_factory=set)
    answers_used: dict[str, int] = field(default_factory=dict)
    pending: dict[str, _Pending] = field(default_factory=dict)
    handled: set[str] = field(default_factory=set)
    nurse_tried: bool = False
    alerted: bool = False  # an alert was raised today: settle what is open at the end

    def __post_init__(self) -> None:
        self.site = self.ctx.default_site  # the trial's own default site
        self.zone = ZoneInfo(self.ctx.rules.sites.config(self.site).timezone)
        self.by_id = {p.study_id: p for p in self.cohort.patients}

    # --- time and delivery -------------------------------------------------------------
    def _at(self, day: date, moment: time) -> datetime:
        return self.clock.set(datetime.combine(day, moment, self.zone))

    def _deliver(self) -> None:
        notifier = _Forward(self.show)
        drain_outbox(self.ctx.db, notifier, now=self.ctx.now(), owner="demo")

    def _tick(self) -> None:
        report = tick(self.ctx, self.ctx.now())
        if report.digests or report.proposals or report.escalations:
            self._deliver()

    def _as(self, user: str) -> Request:
        return Request(user=user, source="demo")

    def _say(self, user: str, text: str) -> None:
        self.show.command(text, user=user, when=self.ctx.now().astimezone(self.zone))

    # --- set-up ------------------------------------------------------------------------
    def set_up(self, admin: Request) -> None:
        self._at(self.cohort.start - timedelta(days=1), time(17, 0))
        for user, role in (
            (NURSE, "coordinator"),
            (ONCALL, "investigator"),
            (BACKUP, "investigator"),
            (PI, "investigator"),
        ):
            self._say(admin.user, f"role {user} {role} site={self.site}")
            set_role(self.ctx, admin, user, role, site=self.site)
        self._say(PI, f"oncall {ONCALL} backup={BACKUP}")
        rota.set_rota(self.ctx, self._as(PI), ONCALL, backup=BACKUP, site=self.site)
        self._deliver()

    # --- the day -----------------------------------------------------------------------
    def run(self, admin: Request, progress=None) -> None:
        self.set_up(admin)
        dates = self.cohort.dates()
        for number, day in enumerate(dates, start=1):
            self.show.day(day, number, len(dates))
            # just after the digest time: the scheduler's morning tick
            self.clock.set(
                datetime.combine(day, self.ctx.settings.digest_at, self.zone) + timedelta(minutes=1)
            )
            self._tick()
            self._at(day, MORNING)
            self._morning(day)
            self._answer_until(day, time(18, 0))
            if self.alerted:
                self._sweep()
                self.alerted = False
            if progress is not None:
                progress(number)

    def _due_today(self, day: date) -> dict[str, list[dict]]:
        due = queries.due(self.ctx, self._as(NURSE), days=1, site=self.site).events
        by_patient: dict[str, list[dict]] = {}
        for event in due:
            if event["date"] == day.isoformat() and event["study_id"] in self.enrolled:
                by_patient.setdefault(event["study_id"], []).append(event)
        return by_patient

    def _morning(self, day: date) -> None:
        for patient in self.cohort.enrolments_on(day):
            self._enrol(patient)
        if not self.enrolled:
            return
        # first what is measured and seen: labs, adverse events, assessments …
        due = self._due_today(day)
        scripted = self.cohort.events.get(day, ())
        for patient in self.cohort.patients:
            sid = patient.study_id
            if sid not in self.enrolled:
                continue
            items = due.get(sid, [])
            drawn = any(e["kind"] == "labs" for e in items) or day in patient.extra_labs
            if drawn and day in patient.labs:
                self._entry(
                    f"lab {sid} {patient.labs[day]}", entries.record_lab, sid, patient.labs[day]
                )
            for event in scripted:
                if event.study_id == sid and event.kind == "ae":
                    self._entry(
                        f"ae {sid} {event.term} grade={event.grade}",
                        entries.record_ae,
                        sid,
                        event.term,
                        event.grade,
                    )
            for event in items:
                if event["item"] in ASSESSMENTS and event["status"] in ("due", "overdue"):
                    category = patient.responses.get(event["item"])
                    if category:
                        self._entry(
                            f"response {sid} {category}", entries.record_response, sid, category
                        )
        # … the investigators answer what that raised …
        self._answer_until(day, time(12, 0))
        # … then what the calendar still says is due, after what the morning changed
        for sid, items in self._due_today(day).items():
            for event in items:
                if event["kind"] != "infusion" or event["status"] != "due":
                    continue
                mg = (event.get("dose") or {}).get("mg")
                self._entry(
                    f"dose {sid} {event['item']}" + (f" mg={mg:g}" if mg else ""),
                    entries.record_dose,
                    sid,
                    event["item"],
                    mg=mg,
                )

    def _stage(self, p: SimPatient) -> str | None:
        """The patient's stage in the trial's own staging: the cohort's place among the
        stage criterion's eligible stages; None without a stage criterion."""
        criteria = self.ctx.rules.eligibility.criteria
        criterion = next((c for c in criteria if c.key == "stage"), None)
        if criterion is None:
            return None
        return criterion.eligible[p.stage % len(criterion.eligible)]

    def _enrol(self, p: SimPatient) -> None:
        stage = self._stage(p)
        self._say(
            NURSE,
            f"enroll {p.study_id} start={p.day1.isoformat()} height={p.height:g} "
            f"weight={p.weight:g}" + (f" stage={stage}" if stage else "") + f" ecog={p.ecog} "
            f"age={p.age}",
        )
        enrolment.enrol(
            self.ctx,
            self._as(NURSE),
            p.study_id,
            start=p.day1,
            height=p.height,
            weight=p.weight,
            stage=stage,
            ecog=p.ecog,
            age=p.age,
            site=self.site,
        )
        self.enrolled.add(p.study_id)
        self._deliver()

    def _entry(self, text: str, service, *args, **kwargs) -> None:
        self._say(NURSE, text)
        try:
            outcome = service(self.ctx, self._as(NURSE), *args, **kwargs)
        except UserError as error:  # the story goes on; the refusal is shown
            self.show.note(f"  refused: {error}")
            return
        if outcome.posts:
            self._deliver()
            self._collect()
        self.clock.set(self.ctx.now() + timedelta(minutes=1))

    # --- the investigators -------------------------------------------------------------
    def _collect(self) -> None:
        """Every open alert not yet planned gets its answer from the cohort's script; the
        alerts one entry raised together (a patient's alerts found at once) share it."""
        with self.ctx.db.transaction(readonly=True) as session:
            rows = [
                (
                    a.subject,
                    a.payload.get("study_id"),
                    a.raised_at,
                    tuple(a.payload.get("decision_ids", ())),
                )
                for a in alerts.open_alerts(session, self.site)
            ]
        chosen: dict[str, Answer] = {}
        for subject, sid, raised, ids in rows:
            if subject in self.pending or subject in self.handled:
                continue
            if sid not in chosen:
                plan = self.by_id[sid].answers if sid in self.by_id else ()
                used = self.answers_used.get(sid, 0)
                chosen[sid] = plan[used] if used < len(plan) else ON_TIME
                self.answers_used[sid] = used + 1
            answer = chosen[sid]
            self.alerted = True
            self.pending[subject] = _Pending(
                subject, sid, answer, raised + timedelta(minutes=answer.minutes), ids
            )

    def _answer_until(self, day: date, last: time) -> None:
        end = datetime.combine(day, last, self.zone)
        while self.pending and self.ctx.now() < end:
            self.clock.set(self.ctx.now() + STEP)
            self._tick()
            for item in sorted(self.pending.values(), key=lambda p: p.due):
                if item.due <= self.ctx.now():
                    del self.pending[item.subject]
                    self.handled.add(item.subject)
                    self._answer(item)
            self._collect()

    def _answer(self, item: _Pending) -> None:
        who = BACKUP if item.answer.by == "backup" else ONCALL
        request = self._as(who)
        patient = self.by_id.get(item.study_id)
        open_now = {
            d["id"]: d for d in queries.open_decisions(self.ctx, request, site=self.site).decisions
        }
        decisions = [open_now[d] for d in item.decision_ids if d in open_now]
        if not item.decision_ids:
            with self.ctx.db.transaction(readonly=True) as session:
                still = any(
                    a.subject == item.subject for a in alerts.open_alerts(session, self.site)
                )
            if still:
                self._say(who, f"ack {item.subject}")
                alerts.ack(self.ctx, request, item.subject)
        for decision in decisions:
            if decision.get("if_immune_related"):
                irae = bool(patient and decision.get("category") in patient.irae)
                trigger = decision.get("trigger")
                self._say(who, f"attribute {trigger} irae={'yes' if irae else 'no'}")
                entries.attribute(self.ctx, request, trigger, irae)
            else:
                self._confirm(who, decision)
        self._deliver()
        self._collect()

    def _confirm(self, who: str, decision: dict) -> None:
        if not self.nurse_tried:
            # once: the research nurse may record but not decide — the role says so
            self.nurse_tried = True
            self._say(NURSE, f"confirm {decision['id']}")
            try:
                verdicts.confirm(self.ctx, self._as(NURSE), decision["id"])
            except UserError as refused:
                self.show.note(f"  refused: {refused.message}")
        self._say(who, f"confirm {decision['id']}")
        verdicts.confirm(self.ctx, self._as(who), decision["id"])
        if decision.get("category") == "response" or "progress" in decision.get("reason", ""):
            # progression: the investigator takes the patient off study treatment
            for drug in course.drugs_of(self.ctx):
                text = f'hold {decision["study_id"]} {drug} reason="{OFF_TREATMENT}"'
                try:
                    course.hold(self.ctx, self._as(who), decision["study_id"], drug, OFF_TREATMENT)
                except UserError:
                    continue  # already held or discontinued
                self._say(who, text)

    def _sweep(self) -> None:
        """At the end of the day the on-call investigator settles what is still open."""
        request = self._as(ONCALL)
        for decision in queries.open_decisions(self.ctx, request, site=self.site).decisions:
            self._confirm(ONCALL, decision)
        self._deliver()


@dataclass
class _Forward:
    show: Show
    count: int = 0

    def deliver(self, post: Post) -> str:
        self.show.post(post)
        self.count += 1
        return f"demo-{self.count}"
