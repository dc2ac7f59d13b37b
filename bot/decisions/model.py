"""A decision the engine proposes for one drug, with everything needed to act on it."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.calendar.derived_dose import mg_of
from bot.calendar.dosing import DoseBasis, RoundingMode, dose_mg, round_to_step
from bot.events import Action, Proposal

# How strongly an action restricts treatment: when several rules fire for one drug, the
# most restrictive wins and the others are kept as reasons.
SEVERITY: dict[str, int] = {
    "continue": 0,
    "resume": 1,
    "reduce": 2,
    "refer": 3,
    "hold": 4,
    "discontinue": 5,
}


class Conditional(BaseModel):
    """What an immune-related rule would decide once the event is attributed as immune-related."""

    model_config = ConfigDict(frozen=True)

    action: Action
    rule: str
    management: str = ""


class Question(BaseModel):
    """What the investigator is asked to answer, or may do, as data: the engine says what
    and about which entry or drug; each transport renders how to answer (the console a
    command to type, Slack a button), so no decision text carries command syntax.

    `immune_related`: is `entry` an immune-related adverse event (answered by an
    attribution). `interrupt`: the investigator's choice includes interrupting `drug`
    (a hold, ended by a resume)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["immune_related", "interrupt"]
    entry: str | None = None
    drug: str | None = None


class NextDose(BaseModel):
    """The drug's next planned administration, as the calendar has it, and how to dose it."""

    model_config = ConfigDict(frozen=True)

    date: date
    label: str = ""
    amount: float | None = None  # the protocol dose (per m², flat, per kg or a target AUC)
    basis: DoseBasis | None = None
    bsa_m2: float | None = None  # the BSA the calendar doses with
    rounding_step: float = 1
    rounding_mode: RoundingMode = "half_up"
    mg_at_full_dose: float | None = None  # when amount/basis are not known
    # an mg/kg, AUC or capped dose: the inputs it read or what is missing, as the
    # calendar derived it for this date (bot.calendar.derived_dose)
    derivation: dict[str, Any] | None = None

    @property
    def missing(self) -> list[str]:
        """The inputs without which the dose has no mg (empty: none is missing)."""
        return list(self.derivation.get("missing", ())) if self.derivation else []

    def mg_at(self, percent: int) -> float | None:
        """The dose in mg at `percent` of the protocol dose, rounded as the rules say."""
        if self.derivation is not None:
            return mg_of(self.derivation, percent, self.rounding_step, self.rounding_mode)
        if self.amount is not None and self.basis is not None:
            return dose_mg(
                self.amount,
                self.basis,
                self.bsa_m2,
                percent,
                self.rounding_step,
                self.rounding_mode,
            )
        if self.mg_at_full_dose is None:
            return None
        return round_to_step(
            self.mg_at_full_dose * percent / 100, self.rounding_step, self.rounding_mode
        )


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    drug: str
    action: Action
    dose_percent: int | None = None
    reason: str
    rule: str  # the protocol section or table row
    needs_confirmation: bool
    criterion: str | None = None  # the CTCAE v5.0 criterion/criteria that applied
    ctcae: str = "5.0"
    category: str | None = None  # immune-related category id, or "chemotherapy"
    trigger: str | None = None  # id of the event behind the decision
    if_immune_related: Conditional | None = None
    ask: str | None = None  # what the investigator must answer or do, in words
    questions: list[Question] = Field(default_factory=list)  # the same, as data
    facts: list[str] = Field(default_factory=list)
    next_dose: NextDose | None = None
    changes_state: bool = False

    def as_proposal(self, *, on: date, decision_id: str, **extra: Any) -> Proposal:
        """The log entry that records this decision as proposed (`extra`: id, seq)."""
        return Proposal(
            date=on,
            decision_id=decision_id,
            drug=self.drug,
            action=self.action,
            dose_percent=self.dose_percent,
            trigger=self.trigger,
            category=self.category,
            rule=self.rule,
            reason=self.reason,
            **extra,
        )

    @property
    def next_dose_mg(self) -> float | None:
        if self.next_dose is None or self.dose_percent is None:
            return None
        return self.next_dose.mg_at(self.dose_percent)

    def _next_dose_json(self) -> dict[str, Any]:
        dose = self.next_dose
        data: dict[str, Any] = {
            "date": dose.date.isoformat(),
            "mg": self.next_dose_mg,
            "label": dose.label,
        }
        if dose.derivation is not None:  # how the mg came (or what is missing); only then
            data["derivation"] = dict(dose.derivation)
        return data

    def to_json(self, decision_id: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "drug": self.drug,
            "action": self.action,
            "dose_percent": self.dose_percent,
            "reason": self.reason,
            "rule": self.rule,
            "needs_confirmation": self.needs_confirmation,
            "criterion": self.criterion,
            "ctcae": self.ctcae,
            "category": self.category,
            "trigger": self.trigger,
            "if_immune_related": self.if_immune_related.model_dump()
            if self.if_immune_related
            else None,
            "ask": self.ask,
            "questions": [q.model_dump() for q in self.questions],
            "facts": list(self.facts),
            "next_dose": self._next_dose_json() if self.next_dose else None,
        }
        if decision_id is not None:
            data = {"id": decision_id, **data}
        return data
