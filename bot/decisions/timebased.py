"""Rules that fire with the passing of time, not with a new entry: evaluated daily.

- the immune rules' persistence checks (not recovered within N weeks of the last dose;
  corticosteroids not tapered in time) — the engine's own `Review` check, so the daily
  sweep and an entry give the same answer;
- the immunotherapy's duration reached (`immunotherapy.duration`): the drug ends;
- chemotherapy held longer than `chemo_hold_limit_days`: referred to the investigator,
  citing `chemotherapy.suspend.hold_limit_source` (a reading, docs/protocol-readings.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.decisions.engine import DecisionContext, Review, decide
from bot.decisions.model import Decision
from bot.decisions.state import fold_treatment
from bot.events import DoseRecord, Event


def anniversary(day1: date, months: int = 12) -> date:
    """`months` after day 1; a day the month lacks (29 February) becomes the next month's 1st."""
    month = day1.month - 1 + months
    year, month = day1.year + month // 12, month % 12 + 1
    try:
        return day1.replace(year=year, month=month)
    except ValueError:
        return date(year + month // 12, month % 12 + 1, 1)


def _period(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return "one year" if years == 1 else f"{years} years"
    return f"{months} months"


def time_based(
    ctx: DecisionContext,
    history: Sequence[Event],
    today: date,
    *,
    day1: date,
    chemo_hold_limit_days: int,
) -> list[Decision]:
    """The time-based decisions due for a patient on `today` (none already in force are
    filtered here; the caller skips those already proposed). The drugs and citations are
    the rules' (`ctx.rules`)."""
    out = list(decide(ctx, history, Review(date=today)))
    state = fold_treatment(history)
    duration = ctx.rules.immunotherapy.duration
    for io_drug in ctx.rules.immunotherapy.drugs if duration is not None else []:
        out.extend(_duration_reached(state, history, today, day1, io_drug, duration))
    suspend = ctx.rules.chemotherapy.suspend
    for drug in ctx.rules.chemotherapy.drugs:
        course = state.get(drug)
        if course is None or course.is_discontinued_on(today):
            continue
        hold = course.held_on(today)
        if hold is None:
            continue
        days = (today - hold.start).days
        if days > chemo_hold_limit_days:
            out.append(
                Decision(
                    drug=drug,
                    action="refer",
                    reason=(
                        f"{drug} has been on hold since {hold.start.isoformat()} ({days} days, "
                        f"longer than {chemo_hold_limit_days}): {hold.reason or 'suspended'}"
                    ),
                    rule=suspend.hold_limit_source if suspend else ctx.rules.chemotherapy.source,
                    needs_confirmation=True,
                    category="chemotherapy",
                    ask="Decide whether to resume, keep holding or discontinue",
                )
            )
    return out


def _duration_reached(state, history, today, day1, io_drug, duration) -> list[Decision]:
    io = state.get(io_drug)
    io_given = [
        e.date
        for e in history
        if isinstance(e, DoseRecord) and e.drug == io_drug and e.status == "given"
    ]
    ends = anniversary(day1, duration.months)
    io_stopped = io is not None and io.is_discontinued_on(today)
    if io_given and not io_stopped and today >= ends:
        return [
            Decision(
                drug=io_drug,
                action="discontinue",
                reason=(
                    f"the treatment period reached {_period(duration.months)} on "
                    f"{ends.isoformat()} (day 1 {day1.isoformat()}; last {io_drug} dose "
                    f"{max(io_given).isoformat()}): {io_drug} is complete"
                ),
                rule=duration.source,
                needs_confirmation=True,
                category="schedule",
                changes_state=True,
            )
        ]
    return []
