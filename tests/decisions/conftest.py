"""Fixtures for the decision engine: the shipped rules, real CTCAE data, real lab parsing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.decisions import DecisionContext, NextDose, decide
from bot.events import AdverseEvent, DoseRecord, LabPanel
from bot.grading import load_ctcae, parse_panel
from bot.paths import trial_rules_dir
from bot.protocol import load_trial

DAY1 = date(2027, 3, 1)


@pytest.fixture(scope="session")
def trial():
    return load_trial(trial_rules_dir())


@pytest.fixture(scope="session")
def ctcae():
    return load_ctcae()


class Story:
    """A patient's history built entry by entry, with ids E1, E2, … as the store gives."""

    def __init__(self, trial, ctcae, plan=None):
        self.rules = trial.get("dose_modifications.yaml")
        self.ranges = trial.get("reference_ranges.yaml")
        self.ctcae = ctcae
        self.history = []
        self.plan = plan
        self.baseline = {}

    @staticmethod
    def day(n: int) -> date:
        return DAY1 + timedelta(days=n)

    def _next_id(self) -> str:
        return f"E{len(self.history) + 1}"

    def context(self) -> DecisionContext:
        return DecisionContext(
            rules=self.rules, ctcae=self.ctcae, plan=self.plan, baseline=self.baseline
        )

    def lab(self, day: int, text: str, **extra) -> LabPanel:
        values = tuple(parse_panel(text, self.ranges))
        return LabPanel(
            id=self._next_id(),
            date=DAY1 + timedelta(days=day),
            results=values,
            seq=len(self.history),
            **extra,
        )

    def ae(self, day: int, term: str, grade: int, **extra) -> AdverseEvent:
        return AdverseEvent(
            id=self._next_id(),
            date=DAY1 + timedelta(days=day),
            term=term,
            grade=grade,
            seq=len(self.history),
            **extra,
        )

    def dose(self, day: int, drug: str, status: str = "given") -> DoseRecord:
        return DoseRecord(
            id=self._next_id(),
            date=DAY1 + timedelta(days=day),
            drug=drug,
            status=status,
            seq=len(self.history),
        )

    def decide(self, event):
        return {d.drug: d for d in decide(self.context(), self.history, event)}

    def record(self, event, *, accept: bool = True):
        """Append `event` and, like the service does, the proposals it leads to."""
        from bot.events import Proposal

        decisions = decide(self.context(), self.history, event)
        self.history.append(event)
        for decision in decisions:
            if decision.needs_confirmation and accept:
                number = sum(1 for e in self.history if isinstance(e, Proposal)) + 1
                self.history.append(
                    Proposal(
                        id=self._next_id(),
                        date=event.date,
                        seq=len(self.history),
                        decision_id=f"D{number}",
                        drug=decision.drug,
                        action=decision.action,
                        dose_percent=decision.dose_percent,
                        trigger=event.id,
                        rule=decision.rule,
                        reason=decision.reason,
                    )
                )
        return {d.drug: d for d in decisions}


def ccrt_plan() -> dict[str, NextDose | None]:
    """During weekly cisplatin: cisplatin next week, paclitaxel only in consolidation."""
    return {
        "cisplatin": NextDose(date=DAY1 + timedelta(days=7), mg_at_full_dose=65.0),
        "paclitaxel": NextDose(date=DAY1 + timedelta(days=60), mg_at_full_dose=219.0),
        "toripalimab": NextDose(date=DAY1 + timedelta(days=21), mg_at_full_dose=240.0),
    }


def consolidation_plan() -> dict[str, NextDose | None]:
    return {
        "cisplatin": NextDose(date=DAY1 + timedelta(days=61), mg_at_full_dose=41.0),
        "paclitaxel": NextDose(date=DAY1 + timedelta(days=60), mg_at_full_dose=219.0),
        "toripalimab": NextDose(date=DAY1 + timedelta(days=60), mg_at_full_dose=240.0),
    }


def maintenance_plan() -> dict[str, NextDose | None]:
    return {
        "cisplatin": None,
        "paclitaxel": None,
        "toripalimab": NextDose(date=DAY1 + timedelta(days=200), mg_at_full_dose=240.0),
    }


PLANS = {"ccrt": ccrt_plan, "consolidation": consolidation_plan, "maintenance": maintenance_plan}


@pytest.fixture
def new_story(trial, ctcae):
    """`new_story("consolidation")`, or `new_story(plan={...})` for a plan of one's own."""

    def make(phase: str = "ccrt", plan=None) -> Story:
        return Story(trial, ctcae, plan=plan if plan is not None else PLANS[phase]())

    return make


@pytest.fixture
def story(trial, ctcae):
    return Story(trial, ctcae, plan=ccrt_plan())


@pytest.fixture
def io_story(trial, ctcae):
    """Maintenance: toripalimab only, so Table 3 answers are not mixed with chemotherapy."""
    return Story(trial, ctcae, plan=maintenance_plan())


@pytest.fixture(scope="session")
def console_text():
    """A proposed decision as the console shows it (the shared decision template), for
    what the investigator is told to type: the engine's text carries no command syntax."""
    from bot.render import Renderer

    renderer = Renderer()

    def render(decision, study_id: str = "LACC-007") -> str:
        data = {**decision.to_json("D1"), "status": "proposed"}
        return renderer.render("posts/_decision.j2", decision=data, study_id=study_id)

    return render
