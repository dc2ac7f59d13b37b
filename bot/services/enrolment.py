"""Enrolment: a patient enters the trial under a study ID, with a plan the calendar reads.

The study ID is the only identifier trialbot keeps. The enrolment is itself an entry of the
patient's log (so it can be corrected with a reason, never silently changed); the
`patient` row is its projection, refreshed in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, select

from bot.calendar import PatientPlan, SiteCalendar, build_calendar
from bot.eligibility import screen
from bot.errors import UserError, closest
from bot.events import Enrolment
from bot.grading import parse_panel
from bot.phi import study_id_problem
from bot.posts import Post
from bot.services import notify
from bot.services.access import require_write
from bot.services.constants import PLAN_FIELDS
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, Replayed, entry_json, find_patient, transaction
from bot.storage.idempotency import remember
from bot.storage.models import Patient, Site, normalise_study_id


def ensure_sites(session: Session, ctx: ServiceContext) -> None:
    """The sites of the rules file exist as rows, with the calendar settings of the file
    (the rules are the truth for calendars; a row adds the Slack channel)."""
    for config in ctx.rules.sites.sites:
        settings = config.model_dump(mode="json", by_alias=True)
        row = session.get(Site, config.id)
        if row is None:
            session.add(
                Site(
                    id=config.id,
                    country=config.country or "",
                    timezone=config.timezone,
                    calendar=settings,
                    created_at=ctx.now(),
                )
            )
        elif row.calendar != settings or row.timezone != config.timezone:
            row.calendar = settings
            row.timezone = config.timezone
            row.country = config.country or ""
            session.add(row)
    session.flush()


def check_new_study_id(ctx: ServiceContext, sid: str) -> str:
    """A study ID a new patient may get: the site's numbering (the rules' `study_ids`),
    and nothing that looks like a name with a birth year, a record number or a date."""
    rule = ctx.rules.sites.study_ids
    if rule is not None and not rule.matches(sid):
        raise UserError(
            f"{sid} is not in the site's numbering",
            field="study_id",
            allowed=f"{rule.meaning or rule.pattern}, e.g. {rule.example} — study IDs only, "
            "never a name, record number or birth date",
        )
    problem = study_id_problem(sid)
    if problem is not None:
        raise UserError(
            f"{sid} cannot be a study ID: {problem}",
            field="study_id",
            allowed="the site's study ID (never a name, record number or birth date)",
        )
    return sid


def _site_id(ctx: ServiceContext, given: str | None) -> str:
    known = [s.id for s in ctx.rules.sites.sites]
    wanted = (given or ctx.default_site).strip().lower()
    if wanted not in known:
        raise UserError(
            f"unknown site {wanted!r}",
            field="site",
            allowed=", ".join(known),
            suggestion=closest(wanted, known),
        )
    return wanted


def _enrolment_criterion(ctx: ServiceContext, key: str):
    """The eligibility criterion an enrolment field is checked against. A trial whose
    eligibility.yaml has none for it cannot take that field at enrolment: refused by
    name, never a crash (`trialbot rules check` checks the type of those it has)."""
    from bot.eligibility.rules import ENROLMENT_CRITERIA

    criterion = next((c for c in ctx.rules.eligibility.criteria if c.key == key), None)
    if criterion is None:
        raise UserError(
            f"{ctx.rules.name} has no '{key}' criterion in its eligibility.yaml, so "
            f"enrolment cannot check {key}=",
            field=key,
            allowed=f"enrol without {key}= (the criterion enrolment reads: key '{key}', "
            f"type {ENROLMENT_CRITERIA[key]})",
        )
    return criterion


def _check_eligibility_fields(
    ctx: ServiceContext, stage: str | None, ecog: int | None, age: int | None
) -> None:
    """Stage, ECOG and age given at enrolment must meet the trial's eligibility criteria: an ineligible patient is
    not enrolled by a typo."""
    answers = {
        k: str(v) for k, v in (("stage", stage), ("ecog", ecog), ("age", age)) if v is not None
    }
    for key in answers:
        _enrolment_criterion(ctx, key)
    if not answers:
        return
    result = screen(answers, ctx.rules.eligibility)
    failed = [c for c in result.criteria if c.status == "fail"]
    if failed:
        first = failed[0]
        raise UserError(
            f"not eligible: {first.reason} ({first.citation})", field=first.key, allowed=first.label
        )


def build_enrolment(
    ctx: ServiceContext,
    *,
    study_id: str,
    site: str,
    start: date,
    fractions: int | None,
    boost: bool,
    height: float | None,
    weight: float | None,
    bsa: float | None,
    stage: str | None,
    ecog: int | None,
    age: int | None,
    diagnosed: date | None,
    baseline_text: str | None,
    today: date,
) -> Enrolment:
    """A validated enrolment entry; every refusal names the field and what is allowed."""
    if stage is not None:
        from bot.eligibility.screening import read_stage

        criterion = _enrolment_criterion(ctx, "stage")
        stage = read_stage(criterion, stage)
    _check_eligibility_fields(ctx, stage, ecog, age)
    if diagnosed is not None:
        if diagnosed > today:
            raise UserError(
                f"{diagnosed.isoformat()} is in the future",
                field="diagnosed",
                allowed="a date on or before today",
            )
        if diagnosed > start:
            raise UserError(
                "the diagnosis date is after the start of treatment",
                field="diagnosed",
                allowed=f"on or before {start.isoformat()}",
            )
    refused = ctx.rules.schedule.boost_refusal(boost)
    if refused is not None:
        raise refused
    try:
        plan = PatientPlan.build(
            day1=start,
            fractions=fractions or ctx.rules.schedule.default_fractions(),
            boost=boost,
            bsa_m2=bsa,
            height_cm=height,
            weight_kg=weight,
            site=site,
            age=age,
        )
        # Build the calendar once: it refuses a start that is not a treatment day (naming
        # the next one) and a fraction count outside the schedule's range.
        build_calendar(ctx.rules.schedule, plan, [], SiteCalendar(ctx.rules.sites.config(site)))
    except UserError as exc:
        raise _in_command_words(exc) from None
    baseline = ()
    if baseline_text:
        from bot.services.entries import ranges_for

        baseline = tuple(parse_panel(baseline_text, ranges_for(ctx, site)))
    return Enrolment(
        date=min(today, start),
        study_id=study_id,
        site=site,
        day1=start,
        fractions=plan.fractions,
        boost=boost,
        height_cm=height,
        weight_kg=weight,
        bsa_m2=bsa,
        figo_stage=stage,
        ecog=ecog,
        age=age,
        diagnosed_on=diagnosed,
        baseline=baseline,
    )


# The plan's field names, as the enroll command spells them.
_COMMAND_FIELD = {"day1": "start", "bsa_m2": "bsa", "height_cm": "height", "weight_kg": "weight"}


def _in_command_words(exc: UserError) -> UserError:
    field = _COMMAND_FIELD.get(exc.field or "", exc.field)
    return UserError(str(exc), field=field, allowed=exc.allowed, suggestion=exc.suggestion)


def _apply(patient: Patient, entry: Enrolment) -> None:
    patient.site_id = entry.site
    patient.day1 = entry.day1
    patient.fractions = entry.fractions
    patient.boost = entry.boost
    patient.height_cm = entry.height_cm
    patient.weight_kg = entry.weight_kg
    patient.bsa_m2 = entry.bsa_m2
    patient.figo_stage = entry.figo_stage
    patient.ecog = entry.ecog
    patient.age_at_enrolment = entry.age
    patient.diagnosed_on = entry.diagnosed_on
    patient.baseline_labs = {v.analyte: v.model_dump(mode="json") for v in entry.baseline}


def project(unit: PatientUnit, entry: Enrolment) -> None:
    """Refresh the patient row from a (corrected) enrolment entry."""
    _apply(unit.patient, entry)
    unit.session.add(unit.patient)
    unit.session.flush()
    unit.site = unit.session.get(Site, unit.patient.site_id)


def enrol(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    *,
    start: date,
    fractions: int | None = None,
    boost: bool = False,
    height: float | None = None,
    weight: float | None = None,
    bsa: float | None = None,
    stage: str | None = None,
    ecog: int | None = None,
    age: int | None = None,
    diagnosed: date | None = None,
    site: str | None = None,
    baseline_text: str | None = None,
) -> Outcome:
    require_write(ctx, request, "enroll")
    sid = check_new_study_id(ctx, normalise_study_id(study_id))
    site_id = _site_id(ctx, site or request.site)
    try:
        with transaction(ctx, request, "enroll") as session:
            ensure_sites(session, ctx)
            site_row = session.get(Site, site_id)
            today = ctx.today_at(site_row.timezone)
            existing = session.exec(select(Patient).where(Patient.study_id == sid)).first()
            if existing is not None:
                raise UserError(
                    f"{sid} is already enrolled (site {existing.site_id}, day 1 "
                    f"{existing.day1.isoformat()})",
                    field="study_id",
                    allowed="a study ID not yet enrolled; to change the plan: "
                    "correct <enrolment entry> … reason=…",
                )
            entry = build_enrolment(
                ctx,
                study_id=sid,
                site=site_id,
                start=start,
                fractions=fractions,
                boost=boost,
                height=height,
                weight=weight,
                bsa=bsa,
                stage=stage,
                ecog=ecog,
                age=age,
                diagnosed=diagnosed,
                baseline_text=baseline_text,
                today=today,
            )
            patient = Patient(
                study_id=sid,
                site_id=site_id,
                day1=start,
                fractions=entry.fractions,
                created_at=ctx.now(),
                created_by=request.user,
            )
            _apply(patient, entry)
            session.add(patient)
            session.flush()
            patient = find_patient(session, sid, lock=True)
            unit = PatientUnit(ctx, request, session, patient)
            recorded = unit.append(entry)
            calendar = unit.refresh_calendar()
            unit.post(
                Post(
                    kind="enrolled",
                    audience=notify.channel_of(unit.site),
                    study_id=sid,
                    facts={
                        "site": site_id,
                        "summary": calendar.summary.to_json(),
                        "by": request.user,
                    },
                ),
                dedupe_key=f"enrolled:{sid}",
            )
            unit.audit("enroll", {"event": recorded.id, "site": site_id, "day1": start.isoformat()})
            outcome = Outcome(
                operation="enroll",
                study_id=sid,
                event=entry_json(recorded),
                events=calendar.events_json(),
                posts=unit.posts,
                data={"summary": calendar.summary.to_json()},
            )
            if request.key:
                remember(
                    session,
                    request.key,
                    "enroll",
                    outcome.model_dump(mode="json"),
                    now=unit.now,
                    content_hash=request.content,
                )
            return outcome
    except Replayed as replay:
        return replay.outcome


def corrected_enrolment(
    ctx: ServiceContext, unit: PatientUnit, old: Enrolment, changes: dict[str, Any]
) -> Enrolment:
    unknown = [k for k in changes if k not in PLAN_FIELDS]
    if unknown:
        raise UserError(
            f"an enrolment has no field {unknown[0]!r}",
            field=unknown[0],
            allowed=", ".join(PLAN_FIELDS),
        )
    merged = {
        "start": old.day1,
        "fractions": old.fractions,
        "boost": old.boost,
        "height": old.height_cm,
        "weight": old.weight_kg,
        "bsa": old.bsa_m2,
        "stage": old.figo_stage,
        "ecog": old.ecog,
        "age": old.age,
        "diagnosed": old.diagnosed_on,
    }
    if "bsa" in changes:
        merged["height"] = merged["weight"] = None
    if "height" in changes or "weight" in changes:
        merged["bsa"] = None
    merged.update(changes)
    entry = build_enrolment(
        ctx,
        study_id=old.study_id,
        site=old.site,
        start=merged["start"],
        fractions=merged["fractions"],
        boost=merged["boost"],
        height=merged["height"],
        weight=merged["weight"],
        bsa=merged["bsa"],
        stage=merged["stage"],
        ecog=merged["ecog"],
        age=merged["age"],
        diagnosed=merged["diagnosed"],
        baseline_text=None,
        today=unit.today,
    )
    return entry.model_copy(update={"date": old.date, "baseline": old.baseline})
