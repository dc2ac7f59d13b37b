"""Rules that fire with the passing of time, not with a new entry: evaluated daily.

- both 12-week toripalimab rules of Table 3 (not recovered to grade 0–I; corticosteroids
  not tapered to ≤ 10 mg/day prednisone within 12 weeks of the last dose) — the engine's
  own `Review` check, so the daily sweep and an entry give the same answer;
- one year of immunotherapy reached: toripalimab ends (maintenance runs "until the whole
  treatment period reached one year since the beginning");
- chemotherapy held longer than the rules allow: the protocol suspends chemotherapy until
  recovery and gives no longest suspension, so past `chemo_hold_limit_days` the hold is
  referred to the investigator (a reading, docs/protocol-readings.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.decisions.engine import DecisionContext, Review, decide
from bot.decisions.model import Decision
from bot.decisions.state import fold_treatment
from bot.events import DoseRecord, Event

ONE_YEAR_RULE = (
    "Protocol, Immunotherapy ('240 mg toripalimab will be given once every six weeks until "
    "the whole treatment period reached one year since the beginning')"
)
CHEMO_HOLD_RULE = (
    "Protocol, Toxicity & dose modifications: chemotherapy suspended until the haematological "
    "toxicity recovers to grade 0–I (no longest suspension is given; READING: "
    "TRIALBOT_CHEMO_HOLD_LIMIT_DAYS)"
)


def anniversary(day1: date) -> date:
    try:
        return day1.replace(year=day1.year + 1)
    except ValueError:  # 29 February
        return date(day1.year + 1, 3, 1)


def time_based(
    ctx: DecisionContext,
    history: Sequence[Event],
    today: date,
    *,
    day1: date,
    chemo_drugs: Sequence[str],
    io_drug: str,
    chemo_hold_limit_days: int,
) -> list[Decision]:
    """The time-based decisions due for a patient on `today` (none already in force are
    filtered here; the caller skips those already proposed)."""
    out = list(decide(ctx, history, Review(date=today)))
    state = fold_treatment(history)
    io = state.get(io_drug)
    io_given = [
        e.date
        for e in history
        if isinstance(e, DoseRecord) and e.drug == io_drug and e.status == "given"
    ]
    ends = anniversary(day1)
    io_stopped = io is not None and io.is_discontinued_on(today)
    if io_given and not io_stopped and today >= ends:
        out.append(
            Decision(
                drug=io_drug,
                action="discontinue",
                reason=(
                    f"the treatment period reached one year on {ends.isoformat()} (day 1 "
                    f"{day1.isoformat()}; last toripalimab dose {max(io_given).isoformat()}): "
                    "toripalimab is complete"
                ),
                rule=ONE_YEAR_RULE,
                needs_confirmation=True,
                category="schedule",
                changes_state=True,
            )
        )
    for drug in chemo_drugs:
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
                    rule=CHEMO_HOLD_RULE,
                    needs_confirmation=True,
                    category="chemotherapy",
                    ask="Decide whether to resume, keep holding or discontinue",
                )
            )
    return out
