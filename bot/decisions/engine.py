"""The dose-modification engine: (rules, history, new event) → one decision per drug.

Pure: no clock, no storage. The caller passes the patient's effective history (events
before the new one, proposals and verdicts included), the new event, the patient's
baseline labs, and each drug's next planned dose from the calendar (`plan`; a drug whose
value is None has no dose left, a drug absent from `plan` is not in this patient's plan).

Every decision cites the rules file's section or table row it applies and the CTCAE
criterion it read. Where no rule covers the situation the answer is `refer`, with the
facts — never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.decisions.episodes import EpisodeBook, category_key
from bot.decisions.findings import Finding, FindingsMemo, findings_with, reaches_immune_rules
from bot.decisions.model import SEVERITY, Conditional, Decision, NextDose, Question
from bot.decisions.schema import Category, DoseModifications, Row
from bot.decisions.state import fold_treatment
from bot.events import (
    AdverseEvent,
    Attribution,
    DoseRecord,
    Event,
    LabPanel,
    LabValue,
    Proposal,
    ResponseAssessment,
    chronological,
)
from bot.treatment import DrugCourse, TreatmentState

# Row actions that leave the drug's schedule as it is: the decision is `continue`, with the
# row's management (hormone replacement, a slower infusion) as what to do.
KEEPS_SCHEDULE = frozenset({"continue_with_management", "slow_infusion"})


def recovered_to(grade: int) -> str:
    """How a reply says "recovered to grade ≤ `grade`": grade 0, grade 0–I, grade 0–II."""
    return "grade 0" if grade <= 0 else f"grade 0–{'I' * grade}"


def waiting_for(io, episodes, shown) -> str:
    """What a hold waits for: each open episode (`shown(e)`) and the grade its category
    recovers to — one target for all when they share it ("A, B to restore to grade 0–I"),
    else each its own (a category may set `recovered_max_grade`)."""
    targets = [recovered_to(io.recovered_max_grade_of(io.category_of(e.term))) for e in episodes]
    if len(set(targets)) <= 1:
        target = targets[0] if targets else recovered_to(io.recovered_max_grade)
        return (
            f"{', '.join(shown(e) for e in episodes) or 'the causing event'} to restore to {target}"
        )
    return ", ".join(
        f"{shown(e)} to restore to {t}" for e, t in zip(episodes, targets, strict=True)
    )


# Drugs whose next doses fall within this many days belong to the same cycle
# (e.g. a cycle whose drugs are given on days 1 to 4).
CYCLE_SPAN_DAYS = 6


@dataclass(frozen=True)
class Review:
    """A time-based check with no new clinical data (the scheduler's daily sweep)."""

    date: date
    id: str | None = None
    kind: str = "review"


@dataclass(frozen=True)
class DecisionContext:
    rules: DoseModifications
    ctcae: object
    baseline: Mapping[str, LabValue] = field(default_factory=dict)
    plan: Mapping[str, NextDose | None] | None = None  # None: every drug of the rules is in play
    # The caller's memo of past entries' findings (see FindingsMemo); None: grade afresh.
    memo: FindingsMemo | None = field(default=None, compare=False)


# Written in a rule's management text (or source) for the drug the decision is about.
DRUG_PLACEHOLDER = "{drug}"


@dataclass
class _Partial:
    action: str
    reason: str
    rule: str
    needs_confirmation: bool
    criterion: str = ""
    category: str | None = None
    dose_percent: int | None = None
    conditional: Conditional | None = None
    ask: str | None = None
    questions: list[Question] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    changes_state: bool = False


def _immune_related(*entries: str | None) -> list[Question]:
    """Ask whether each entry (with an id) is immune-related; how to answer is each
    interface's own (a typed attribution on the console, a button on Slack)."""
    return [Question(kind="immune_related", entry=e) for e in entries if e]


def decide(ctx: DecisionContext, history: Sequence[Event], event: Event | Review) -> list[Decision]:
    """Decisions for `event`, given the `history` before it."""
    prior = chronological(history)
    state = fold_treatment(prior)
    engine = _Engine(ctx, prior, state, event)
    return engine.run()


class _Engine:
    def __init__(
        self, ctx: DecisionContext, prior: list[Event], state: TreatmentState, event: Event | Review
    ) -> None:
        self.ctx = ctx
        self.rules = ctx.rules
        self.prior = prior
        self.state = state
        self.event = event
        self.day = event.date
        self.io_drugs = list(ctx.rules.immunotherapy.drugs)
        self.table = ctx.rules.immunotherapy.table  # how the replies name those rules
        self.chemo_drugs = list(ctx.rules.chemotherapy.drugs)
        self.partials: dict[str, list[_Partial]] = {}
        self._irae_by_target: dict[str, bool] | None = None
        self._found: dict[int, tuple[Event, list[Finding]]] = {}
        self._memo = ctx.memo.table(ctx.ctcae, ctx.baseline) if ctx.memo is not None else None

    # ---- which drugs can be affected -------------------------------------------------
    def course(self, drug: str) -> DrugCourse | None:
        return self.state.get(drug)

    def in_play(self, drug: str) -> bool:
        course = self.course(drug)
        if course is not None and course.is_discontinued_on(self.day):
            return False
        if self.ctx.plan is None:
            return True
        return self.ctx.plan.get(drug) is not None

    def _next_cycle_drugs(self) -> list[str]:
        """The chemotherapy drugs of the next cycle: "the dose of next cycle" is the next
        chemotherapy administration (a weekly dose during chemoradiotherapy; every drug of
        the next cycle), not every drug the patient will ever get."""
        playing = [d for d in self.chemo_drugs if self.in_play(d)]
        if self.ctx.plan is None:
            return playing
        dates = {d: self.ctx.plan[d].date for d in playing}
        if not dates:
            return []
        first = min(dates.values())
        return [d for d in playing if (dates[d] - first).days <= CYCLE_SPAN_DAYS]

    def level(self, drug: str) -> int:
        course = self.course(drug)
        return course.percent_on(self.day) if course else 100

    def held(self, drug: str):
        course = self.course(drug)
        return course.open_hold if course else None

    def add(self, drug: str, partial: _Partial) -> None:
        self.partials.setdefault(drug, []).append(partial)

    def _add_chemo(self, drug: str, **fields) -> None:
        """A chemotherapy rule's answer for `drug` (category "chemotherapy")."""
        self.add(drug, _Partial(category="chemotherapy", **fields))

    # ---- findings ----------------------------------------------------------------------
    def _irae(self, event: Event, everything: list[Event]) -> bool | None:
        """`attribution_of(event, everything)`, with the attributions read once per call."""
        if self._irae_by_target is None:
            self._irae_by_target = {
                e.target: e.irae for e in chronological(everything) if isinstance(e, Attribution)
            }
        verdict = getattr(event, "irae", None)
        if event.id is None:
            return verdict
        return self._irae_by_target.get(event.id, verdict)

    def findings(self, event: Event, everything: list[Event]) -> list[Finding]:
        """`findings_of(ctcae, event, everything, baseline)`, each event graded once per call
        (and once across calls with a memo)."""
        if not isinstance(event, LabPanel | AdverseEvent):
            return []
        seen = self._found.get(id(event))
        if seen is not None and seen[0] is event:
            return seen[1]
        irae = self._irae(event, everything)
        found: list[Finding] | None = None
        if self._memo is not None and event is not self.event:
            key = (event, irae)
            kept = self._memo.get(key)
            if kept is None:
                found = findings_with(self.ctx.ctcae, event, self.ctx.baseline, irae)
                self.ctx.memo.remember(self._memo, key, found)
            else:
                found = list(kept)
        if found is None:
            found = findings_with(self.ctx.ctcae, event, self.ctx.baseline, irae)
        self._found[id(event)] = (event, found)
        return found

    # ---- entry point -----------------------------------------------------------------
    def run(self) -> list[Decision]:
        event = self.event
        everything = [*self.prior, event] if not isinstance(event, Review) else self.prior
        if isinstance(event, LabPanel | AdverseEvent):
            findings = self.findings(event, everything)
            if self._grade_five(findings):
                return self._finish()
            next_cycle = self._next_cycle_drugs()
            chemo_findings = [*findings, *self._febrile_neutropenia(findings, everything)]
            for drug in self.chemo_drugs:
                if drug in next_cycle:
                    self._chemotherapy(drug, chemo_findings)
                elif self.in_play(drug):
                    # "chemotherapy will be discontinued": every chemotherapy drug still
                    # planned stops, not only the next cycle's (consolidation too).
                    self._chemotherapy_discontinue(drug, chemo_findings)
            for drug in self._io_in_play():
                self._immunotherapy(drug, findings, everything, exclude=event.id)
                self._persistence_rules(drug, everything)
        elif isinstance(event, Attribution):
            target = next((e for e in self.prior if e.id == event.target), None)
            for drug in self._io_in_play() if target is not None else []:
                findings = self.findings(target, everything)
                self._immunotherapy(drug, findings, everything, exclude=target.id)
        elif isinstance(event, DoseRecord):
            self._dose_while_stopped(event)
        elif isinstance(event, ResponseAssessment):
            self._response(event)
        elif isinstance(event, Review):
            for drug in self._io_in_play():
                self._persistence_rules(drug, everything)
        return self._finish()

    def _io_in_play(self):
        """Each immunotherapy drug still in play (the immune rules answer for each in turn)."""
        for drug in self.io_drugs:
            if self.in_play(drug):  # asked as it is reached, as before
                yield drug

    # ---- grade 5 ---------------------------------------------------------------------
    def _grade_five(self, findings: list[Finding]) -> bool:
        fatal = [f for f in findings if f.grade == 5]
        if not fatal:
            return False
        for drug in self.rules.drugs:
            if self.in_play(drug):
                self.add(
                    drug,
                    _Partial(
                        action="discontinue",
                        needs_confirmation=True,
                        changes_state=True,
                        reason=f"{fatal[0].described}: death related to an adverse event; all study treatment ends",
                        rule="CTCAE v5.0 grade 5 (death related to AE)",
                        criterion=fatal[0].criterion,
                    ),
                )
        return True

    # ---- chemotherapy ----------------------------------------------------------------
    def _chemotherapy_discontinue(self, drug: str, findings: list[Finding]) -> bool:
        """Grade IV non-haematological toxicity discontinues chemotherapy; True if it did."""
        chemo = self.rules.chemotherapy
        if chemo.discontinue is None:
            return False
        haem_terms = chemo.haematological.terms(self.ctx.ctcae)
        severe_other = [
            f
            for f in findings
            if f.term not in haem_terms
            and f.grade is not None
            and f.grade >= chemo.discontinue.non_haematological_min_grade
        ]
        if severe_other:
            worst = max(severe_other, key=lambda f: f.grade)
            self._add_chemo(
                drug,
                action="discontinue",
                needs_confirmation=True,
                changes_state=True,
                reason=f"{worst.described}: grade {worst.grade} non-haematological toxicity → chemotherapy discontinued",
                rule=chemo.discontinue.source,
                criterion=worst.criterion,
                facts=[f.described for f in severe_other],
            )
            return True
        return False

    # ---- febrile neutropenia entered as two entries --------------------------------------
    def _febrile_neutropenia(
        self, findings: list[Finding], everything: list[Event]
    ) -> list[Finding]:
        """ "Grade III neutropenia with fever" from a fever and a grade >= III neutropenia
        entered separately within the window (the new entry being one of them): a finding
        of the CTCAE term Febrile neutropenia, grade 3, naming both entries."""
        fn = self.rules.chemotherapy.febrile_neutropenia
        if fn is None:
            return []

        def fever(f: Finding) -> bool:
            return f.term in fn.fever_terms and bool(f.grade)

        def neutropenia(f: Finding) -> bool:
            return (
                f.term == fn.neutropenia_term
                and f.grade is not None
                and f.grade >= fn.neutropenia_min_grade
            )

        fevers = [f for f in findings if fever(f)]
        counts = [f for f in findings if neutropenia(f)]
        if not fevers and not counts:
            return []
        for event in reversed(chronological(everything)):
            if abs((event.date - self.day).days) > fn.window_days:
                if event.date < self.day:
                    break  # newest first: every event left is older still, out of the window
                continue
            if event is self.event or not isinstance(event, LabPanel | AdverseEvent):
                continue
            for partner in self.findings(event, everything):
                if counts and fever(partner):
                    return [self._combined(max(counts, key=lambda f: f.grade), partner)]
                if fevers and neutropenia(partner):
                    return [self._combined(partner, fevers[0])]
        return []

    def _combined(self, count: Finding, fever: Finding) -> Finding:
        fn = self.rules.chemotherapy.febrile_neutropenia
        term = self.ctx.ctcae.term(fn.counts_as)
        text = (term.grades.get(3) or "") if term else ""
        days = abs((count.date - fever.date).days)
        when = "the same day" if days == 0 else f"{days} day{'s' if days > 1 else ''} apart"
        return Finding(
            term=fn.counts_as,
            grade=3,
            date=self.day,
            origin="combined",
            event_id=getattr(self.event, "id", None),
            irae=None,
            criterion=f"{fn.counts_as} grade 3: {text}; {count.criterion}".strip("; "),
            described=(
                f"grade {count.grade} neutropenia ({count.described}, {count.event_id} on "
                f"{count.date.isoformat()}) with fever ({fever.described}, {fever.event_id} on "
                f"{fever.date.isoformat()}), {when}: grade III neutropenia with fever"
            ),
            note=f"{count.event_id} {fever.event_id}",
        )

    def _same_febrile_episode(self, drug: str, finding: Finding) -> str | None:
        """If `finding` (febrile neutropenia) belongs to the episode the drug's current
        reduction was made for, the decision that made it; else None. A fever entered the
        day after the grade 4 count that already reduced the next cycle is not a second
        reduction-level toxicity."""
        fn = self.rules.chemotherapy.febrile_neutropenia
        course = self.course(drug)
        if fn is None or finding.term != fn.counts_as or course is None or not course.levels:
            return None
        decision = course.levels[-1].decision_id
        proposal = next(
            (
                e
                for e in self.prior
                if isinstance(e, Proposal) and e.decision_id == decision and e.action == "reduce"
            ),
            None,
        )
        trigger = next(
            (e for e in self.prior if proposal is not None and e.id == proposal.trigger), None
        )
        if trigger is None or abs((trigger.date - self.day).days) > fn.window_days:
            return None
        family = {fn.neutropenia_term, fn.counts_as, *fn.fever_terms}
        if any(f.term in family for f in self.findings(trigger, self.prior)):
            return decision
        return None

    def _chemotherapy(self, drug: str, findings: list[Finding]) -> None:
        if self._chemotherapy_discontinue(drug, findings):
            return
        chemo = self.rules.chemotherapy
        same = [(f, self._same_febrile_episode(drug, f)) for f in findings]
        if any(d for _, d in same):
            kept = [f for f, d in same if not d]
            f, decision = next((f, d) for f, d in same if d)
            self._add_chemo(
                drug,
                action="continue",
                dose_percent=self.level(drug),
                needs_confirmation=False,
                reason=(
                    f"{f.described}: the same episode the next cycle was already reduced for "
                    f"({decision}); no further reduction — give {self.level(drug)}% of the protocol dose"
                ),
                rule=chemo.febrile_neutropenia.source,
                criterion=f.criterion,
            )
            findings = kept
        haem_terms = chemo.haematological.terms(self.ctx.ctcae)
        haem = [f for f in findings if f.term in haem_terms and f.grade is not None]
        other = [f for f in findings if f.term not in haem_terms and f.grade is not None]
        level = self.level(drug)
        hold = self.held(drug)

        triggers = [
            f
            for f in haem
            if chemo.reduce is not None
            and any(t.term == f.term and f.grade >= t.min_grade for t in chemo.reduce.triggers)
        ]
        holding = chemo.hold_on
        hold_triggers = [
            f
            for f in haem
            if holding is not None
            and f not in triggers
            and any(t.term == f.term and f.grade >= t.min_grade for t in holding.triggers)
        ]
        # the suspension check reads blood counts as entered, not a combined finding; a
        # `hold_on` hold waits for its own trigger terms
        suspend = chemo.suspend
        terms = set(suspend.terms if suspend else ()) | {
            t.term for t in (holding.triggers if holding else ())
        }
        watched = [f for f in haem if f.term in terms and f.origin != "combined"]
        worst_watched = max(watched, key=lambda f: f.grade) if watched else None
        recovered_max = (suspend or holding).recovered_max_grade if (suspend or holding) else 0
        recovered = worst_watched is not None and worst_watched.grade <= recovered_max

        suspension = (drug, hold) if hold is not None else self._chemo_suspension()
        pending = self._chemo_pending()

        if suspension is not None:
            self._while_suspended(drug, suspension, triggers, worst_watched, recovered)
        elif hold_triggers and not triggers:
            worst = max(hold_triggers, key=lambda f: f.grade)
            self._add_chemo(
                drug,
                action="hold",
                needs_confirmation=True,
                changes_state=True,
                reason=(
                    f"{worst.described}: {worst.term} grade {worst.grade} → chemotherapy held "
                    f"until recovered to {recovered_to(holding.recovered_max_grade)}"
                ),
                rule=holding.source,
                criterion=worst.criterion,
                facts=[f.described for f in hold_triggers],
            )
        elif triggers:
            worst = max(triggers, key=lambda f: f.grade)
            reduced = [
                d
                for d in self.chemo_drugs
                if self.in_play(d) and (self.level(d) < 100 or (d == drug and level < 100))
            ]
            if reduced:
                self.add(drug, self._after_reduction_refer(worst, suspended=False))
            else:
                percent = chemo.reduce.percent_of_protocol_dose
                self._add_chemo(
                    drug,
                    action="reduce",
                    dose_percent=percent,
                    needs_confirmation=True,
                    changes_state=True,
                    reason=(
                        f"{worst.described}: {worst.term} grade {worst.grade} → next cycle reduced by "
                        f"{100 - percent}% (to {percent}% of the protocol dose)"
                    ),
                    rule=chemo.reduce.source,
                    criterion=worst.criterion,
                    facts=[f.described for f in triggers],
                )
        elif pending is not None and worst_watched is not None:
            source, reduction = pending
            percent = reduction.percent
            if recovered and level == percent:
                self._add_chemo(
                    drug,
                    action="continue",
                    dose_percent=level,
                    needs_confirmation=False,
                    reason=(
                        f"recovered to grade 0–I before the next cycle ({worst_watched.described}); "
                        f"give the reduced dose ({level}%)"
                    ),
                    rule=self._chemo_rule_source(chemo.suspend),
                    criterion=worst_watched.criterion,
                )
            elif recovered:
                self._add_chemo(
                    drug,
                    action="reduce",
                    dose_percent=percent,
                    needs_confirmation=True,
                    changes_state=True,
                    reason=(
                        f"recovered to grade 0–I before the next cycle ({worst_watched.described}); the "
                        f"reduction to {percent}% decided on {reduction.start.isoformat()} for {source} is "
                        f"for the next cycle's chemotherapy, which includes {drug}: give {drug} at {percent}%"
                    ),
                    rule=chemo.reduce.source,
                    criterion=worst_watched.criterion,
                )
            else:
                self._add_chemo(
                    drug,
                    action="hold",
                    needs_confirmation=True,
                    changes_state=True,
                    reason=(
                        f"{worst_watched.described}: {worst_watched.term} grade {worst_watched.grade} — not "
                        f"recovered to grade 0–I before the next cycle after the dose reduction → "
                        f"chemotherapy suspended"
                        + (f" (the reduction was decided for {source})" if source != drug else "")
                    ),
                    rule=self._chemo_rule_source(chemo.suspend),
                    criterion=worst_watched.criterion,
                )
        else:
            self._chemo_without_rule(drug, haem, other, level)

    def _chemo_suspension(self):
        """The chemotherapy suspension in force, as (drug, hold): the earliest open hold of
        any chemotherapy drug still planned. "The chemotherapy will be suspended" concerns
        the next cycle's chemotherapy, whichever drugs it contains."""
        held = [
            (d, self.held(d))
            for d in self.chemo_drugs
            if self.held(d) is not None and not self.course(d).is_discontinued_on(self.day)
        ]
        return min(held, key=lambda pair: pair[1].start) if held else None

    def _chemo_pending(self):
        """A chemotherapy reduction (or resumption below 100 %) whose cycle has not been
        given yet, as (drug, level): from it until any chemotherapy dose is given, a blood
        count before the next cycle decides — for every drug of that cycle."""
        levels = [
            (d, course.levels[-1])
            for d in self.chemo_drugs
            if (course := self.course(d)) is not None
            and course.levels
            and not course.is_discontinued_on(self.day)
        ]
        if not levels:
            return None
        source, latest = max(levels, key=lambda pair: pair[1].start)
        if latest.percent >= 100:
            return None
        given = any(
            isinstance(e, DoseRecord)
            and e.drug in self.chemo_drugs
            and e.status == "given"
            and e.date >= latest.start
            for e in self.prior
        )
        return None if given else (source, latest)

    def _while_suspended(self, drug, suspension, triggers, worst_watched, recovered) -> None:
        chemo = self.rules.chemotherapy
        source, hold = suspension
        own = source == drug
        if triggers:
            worst = max(triggers, key=lambda f: f.grade)
            self.add(drug, self._after_reduction_refer(worst, suspended=True))
            return
        since = f"suspended since {hold.start.isoformat()}" + ("" if own else f" ({source})")
        if recovered:
            # the dose of the chemotherapy when it was first suspended, whichever drug
            first_drug, first_hold = self._chemo_suspension() or suspension
            percent = self._resume_percent(first_drug, first_hold.start)
            if not own and self.level(drug) == percent:
                self._add_chemo(
                    drug,
                    action="continue",
                    dose_percent=percent,
                    needs_confirmation=False,
                    reason=(
                        f"chemotherapy {since}: haematological toxicity recovered to grade 0–I "
                        f"({worst_watched.described}) → the next cycle's {drug} is given at {percent}%"
                    ),
                    rule=self._chemo_rule_source(chemo.resume),
                    criterion=worst_watched.criterion,
                )
                return
            self._add_chemo(
                drug,
                action="resume",
                dose_percent=percent,
                needs_confirmation=True,
                changes_state=True,
                reason=(
                    f"haematological toxicity recovered to grade 0–I ({worst_watched.described}, "
                    f"grade {worst_watched.grade}) → chemotherapy resumed at {percent}% of the protocol dose"
                    + ("" if own else f" (chemotherapy {since}; this cycle includes {drug})")
                    + self._resume_reading(percent)
                ),
                rule=self._chemo_rule_source(chemo.resume),
                criterion=worst_watched.criterion,
            )
            return
        seen = (
            f"{worst_watched.described} is grade {worst_watched.grade}"
            if worst_watched
            else "no blood count in this entry"
        )
        if own:
            self._add_chemo(
                drug,
                action="hold",
                needs_confirmation=False,
                reason=f"{since}; waiting for haematological recovery to grade 0–I ({seen})",
                rule=self._chemo_rule_source(chemo.suspend),
                criterion=worst_watched.criterion if worst_watched else "",
            )
            return
        self._add_chemo(
            drug,
            action="hold",
            needs_confirmation=True,
            changes_state=True,
            reason=(
                f"chemotherapy {since}, not recovered to grade 0–I ({seen}): the suspension "
                f"concerns the next cycle's chemotherapy, which includes {drug} → {drug} held too"
            ),
            rule=self._chemo_rule_source(chemo.suspend),
            criterion=worst_watched.criterion if worst_watched else "",
        )

    def _resume_reading(self, percent: int) -> str:
        """Says so when the resumed dose is not the literal "original dosage" (100 %)."""
        if percent >= 100:
            return ""
        return (
            f" — READING: the protocol says 'the original dosage'; trialbot resumes at the dose in "
            f"effect before the suspension ({percent}%, the reduced dose), the conservative reading "
            f"(setting chemotherapy.resume.dose; override to give 100%)"
        )

    def _threshold_reading(self, findings: list[Finding]) -> str:
        """Says so when a grade is below the referral threshold only by a reading (grade 3
        lymphopenia is referred from grade 4)."""
        refer = self.rules.chemotherapy.refer
        read = [
            f
            for f in findings
            if f.grade is not None
            and f.term in refer.per_term_min_grade
            and refer.haematological_min_grade <= f.grade < refer.per_term_min_grade[f.term]
        ]
        if not read:
            return ""
        named = ", ".join(
            f"{f.term} grade {f.grade} (referred from grade {refer.per_term_min_grade[f.term]})"
            for f in read
        )
        return (
            f" — READING: {named}, not a protocol criterion; override if it should change the dose"
        )

    def _chemo_rule_source(self, rule) -> str:
        """What a suspension or resumption cites: its own rule (`suspend` / `resume`), else
        the `hold_on` rule that held the drug, else the chemotherapy block's source."""
        chemo = self.rules.chemotherapy
        return (rule or chemo.hold_on or chemo).source

    def _after_reduction_refer(self, worst: Finding, suspended: bool) -> _Partial:
        chemo = self.rules.chemotherapy
        cut = 100 - chemo.reduce.percent_of_protocol_dose
        where = (
            "while suspended after a dose reduction"
            if suspended
            else f"after a {cut}% dose reduction"
        )
        return _Partial(
            action="refer",
            needs_confirmation=True,
            category="chemotherapy",
            reason=(
                f"{worst.described}: {worst.term} grade {worst.grade} {where} — the protocol has no rule for "
                f"{chemo.refer.after_reduction}; investigator decision"
            ),
            rule=chemo.reduce.source,
            criterion=worst.criterion,
            ask="Decide: further reduction, suspension or discontinuation of chemotherapy",
        )

    def _chemo_without_rule(
        self, drug: str, haem: list[Finding], other: list[Finding], level: int
    ) -> None:
        chemo = self.rules.chemotherapy
        refer = chemo.refer
        flagged = []
        for f in haem:
            threshold = refer.per_term_min_grade.get(f.term, refer.haematological_min_grade)
            if f.grade >= threshold:
                flagged.append((f, "haematological"))
        for f in other:
            if f.grade >= refer.non_haematological_min_grade:
                flagged.append((f, "non-haematological"))
        if flagged:
            worst, kind = max(flagged, key=lambda pair: pair[0].grade)
            self._add_chemo(
                drug,
                action="refer",
                needs_confirmation=True,
                reason=(
                    f"{worst.described}: grade {worst.grade} {kind} toxicity with no protocol rule "
                    f"({refer.no_rule_note}); investigator decision"
                ),
                rule=chemo.source,
                criterion=worst.criterion,
                ask="Decide whether to give, delay or modify chemotherapy",
                facts=[f.described for f, _ in flagged],
            )
            return
        graded = [f for f in [*haem, *other] if f.grade]
        seen = (
            ", ".join(f"{f.term} grade {f.grade}" for f in graded) or "no toxicity graded above 0"
        )
        self._add_chemo(
            drug,
            action="continue",
            dose_percent=level,
            needs_confirmation=False,
            reason=(
                f"{seen}: below the protocol's modification thresholds; give {level}% of the protocol dose"
                + self._threshold_reading([*haem, *other])
            ),
            rule=chemo.source,
        )

    def _resume_percent(self, drug: str, hold_start: date) -> int:
        resume = self.rules.chemotherapy.resume
        if resume is not None and resume.dose == "protocol_dose":
            return 100
        course = self.course(drug)
        return course.percent_on(hold_start) if course else 100

    # ---- immunotherapy (the immune-related AE table) -------------------------------
    def _immunotherapy(
        self, drug: str, findings: list[Finding], everything: list[Event], exclude: str | None
    ) -> None:
        io = self.rules.immunotherapy
        book = self._episodes(everything, exclude=exclude)
        hold = self.held(drug)
        recovered_terms = []
        for finding in findings:
            category_id, _, by_uln = category_key(io, finding.term)
            grade = finding.grade_for(by_uln)
            if grade is None:
                continue
            if grade <= io.recovered_max_grade_of(io.category_of(finding.term)):
                if book.open_episode(finding.term) is not None:
                    recovered_terms.append(finding)
                continue
            category = io.category_of(finding.term)
            finding = finding.as_immune_rules_read_it(by_uln)
            outcome = self._immune_rule(drug, category, category_id, finding, grade, book)
            if not reaches_immune_rules(finding, category_id):
                self._unattributed_lab_value(drug, finding, outcome)
                continue
            self._gate_attribution(drug, finding, grade, outcome, hold)
        acting = [p for p in self.partials.get(drug, []) if p.action != "continue"]
        if hold is not None and recovered_terms:
            self._maybe_resume(drug, book, recovered_terms, hold)
        elif hold is not None and not acting:
            waiting = waiting_for(
                io, book.open_immune(), lambda e: f"{e.term} grade {e.last_grade}"
            )
            self.add(
                drug,
                _Partial(
                    action="hold",
                    needs_confirmation=False,
                    reason=f"on hold since {hold.start.isoformat()} ({hold.reason}); waiting for {waiting}",
                    rule=io.source,
                ),
            )
        elif hold is None and not self.partials.get(drug):
            graded = [f for f in findings if f.grade]
            seen = (
                ", ".join(f"{f.term} grade {f.grade}" for f in graded)
                or "no toxicity graded above 0"
            )
            self.add(
                drug,
                _Partial(
                    action="continue",
                    dose_percent=100,
                    needs_confirmation=False,
                    reason=f"{seen}: no {self.table} rule applies",
                    rule=io.source,
                ),
            )

    def _unattributed_lab_value(
        self, drug: str, finding: Finding, outcome: tuple[str, Row | None, str]
    ) -> None:
        """A lab value with no row of its own in the immune-related table, not (yet)
        attributed: the drug goes on, and the answer says what the "Others" rows give if it
        is an irAE."""
        io = self.rules.immunotherapy
        action, row, _ = outcome
        action = "continue" if action in KEEPS_SCHEDULE else action
        target = finding.event_id or "<entry>"
        if action == "continue" or row is None:
            return
        if finding.irae is False:
            self.add(
                drug,
                _Partial(
                    action="continue",
                    dose_percent=100,
                    needs_confirmation=False,
                    category="other",
                    reason=(
                        f"{finding.described}: grade {finding.grade}, not immune-related per the "
                        f"investigator; {self.table} does not apply"
                    ),
                    rule=io.attribution_source,
                    criterion=finding.criterion,
                ),
            )
            return
        self.add(
            drug,
            _Partial(
                action="continue",
                dose_percent=100,
                needs_confirmation=False,
                category="other",
                reason=(
                    f"{finding.described}: grade {finding.grade}, a lab value with no {self.table} row of "
                    f"its own and not attributed as immune-related, so {drug} goes on; if the "
                    f"investigator attributes {target} as immune-related, {self.table}'s Others rows "
                    f"give: {row.management}"
                ),
                rule=io.attribution_source,
                criterion=finding.criterion,
                conditional=Conditional(action=action, rule=row.source, management=row.management),
                ask=f"Is {target} immune-related?",
                questions=_immune_related(finding.event_id),
            ),
        )

    def _episodes(self, everything: list[Event], exclude: str | None) -> EpisodeBook:
        book = EpisodeBook(self.rules.immunotherapy)
        for event in chronological(everything):
            if exclude is not None and event.id == exclude:
                continue
            if event is self.event:
                continue
            book.feed_all(self.findings(event, everything))
        return book

    def _immune_rule(
        self,
        drug: str,
        category: Category | None,
        category_id: str,
        finding: Finding,
        grade: int,
        book: EpisodeBook,
    ) -> tuple[str, Row | None, str]:
        """(action, row, explanation) the immune-related table gives if the event is one."""
        io = self.rules.immunotherapy
        prior_min, recur_min = io.recurrence.prior_min_grade, io.recurrence.min_grade
        if category is not None:
            prior_min = category.recurrence_prior_min_grade or prior_min
            recur_min = category.recurrence_min_grade or recur_min
        continuing = book.has_open_in(category_id, finding.term)
        earlier = [
            e
            for e in book.resolved_immune_in(category_id, finding.term)
            if e.max_grade >= prior_min
        ]
        recurrent = bool(earlier) and not continuing
        if recurrent:
            first = earlier[0]
            history_note = f"recurrence after an earlier grade {first.max_grade} episode from {first.start.isoformat()}"
            if category is not None:
                row = category.row_for(grade, category.recurrence)
                if row is not None:
                    return row.action, row, history_note
            exempt = category is not None and category.endocrine
            if not exempt and grade >= recur_min:
                rec = io.recurrence
                return (
                    rec.action,
                    Row(
                        grades=[grade],
                        action=rec.action,
                        management=rec.management,
                        source=rec.source,
                    ),
                    history_note,
                )
            if category is None:
                return (
                    "refer",
                    None,
                    (
                        f"{history_note}: {self.table} lists other grade II–III irAEs only when they "
                        f"occur for the first time"
                    ),
                )
        if category is None:
            row = next((r for r in io.other.first_time if grade in r.grades), None)
            if row is None:
                return "continue", None, f"below the grades {self.table} lists for other irAEs"
            return row.action, row, "first occurrence of this irAE"
        row = category.row_for(grade)
        if row is not None:
            return row.action, row, ""
        if grade < category.lowest_listed_grade:
            return (
                "continue",
                None,
                (
                    f"below the lowest grade {self.table} lists for {category.group} (grade "
                    f"{category.lowest_listed_grade}); READING: the Others rows are read as covering "
                    f"only irAEs without a row of their own"
                ),
            )
        return "refer", None, f"{self.table} lists no action for grade {grade} in {category.group}"

    def _gate_attribution(
        self, drug: str, finding: Finding, grade: int, outcome: tuple[str, Row | None, str], hold
    ) -> None:
        io = self.rules.immunotherapy
        action, row, note = outcome
        kept_on = action in KEEPS_SCHEDULE  # continue with management, slow the infusion
        action = "continue" if kept_on else action
        rule = row.source if row else io.source
        management = row.management if row else ""
        explained = f"{finding.described}" + (f" ({note})" if note else "")

        def answer(**fields) -> None:
            """The immunotherapy drug's answer to this finding: its category and criterion."""
            self.add(
                drug,
                _Partial(category=self._cat(finding), criterion=finding.criterion, **fields),
            )

        if action == "continue" and not kept_on:
            answer(
                action="continue",
                dose_percent=100,
                needs_confirmation=False,
                reason=f"{explained}: no {drug} change",
                rule=rule,
            )
            return
        attributed = finding.irae if io.requires_immune_attribution else True
        if attributed is None:
            answer(
                action="refer",
                needs_confirmation=True,
                reason=(
                    f"{explained}: if immune-related, {self.table} says {management or action}; "
                    f"immune-related attribution is the investigator's call"
                ),
                rule=io.attribution_source,
                conditional=Conditional(action=action, rule=rule, management=management),
                ask=f"Is {finding.event_id or 'this event'} immune-related?",
                questions=_immune_related(finding.event_id),
            )
            return
        if attributed is False:
            if grade >= 3:
                answer(
                    action="refer",
                    needs_confirmation=True,
                    reason=(
                        f"{explained}: attributed as not immune-related, so {self.table} does not apply; "
                        f"grade {grade} toxicity on {drug} — investigator decision"
                    ),
                    rule=io.attribution_source,
                )
            else:
                answer(
                    action="continue",
                    dose_percent=100,
                    needs_confirmation=False,
                    reason=f"{explained}: not immune-related per the investigator; {self.table} does not apply",
                    rule=io.attribution_source,
                )
            return
        if action == "hold" and hold is not None:
            answer(
                action="hold",
                needs_confirmation=False,
                reason=f"{explained}: {management}; {drug} already on hold since {hold.start.isoformat()}",
                rule=rule,
            )
            return
        if kept_on:
            answer(
                action="continue",
                dose_percent=100,
                needs_confirmation=False,
                reason=f"{explained}: {management}; {drug} continues",
                rule=rule,
            )
            return
        answer(
            action=action,
            needs_confirmation=True,
            changes_state=action in ("hold", "discontinue", "reduce"),
            dose_percent=self._reduced_to(drug, row) if action == "reduce" and row else None,
            reason=f"{explained}: {management}" if management else explained,
            rule=rule,
            ask=self._refer_ask(row) if action == "refer" else None,
            questions=self._refer_questions(drug, row) if action == "refer" else [],
        )

    def _reduced_to(self, drug: str, row: Row) -> int:
        """The dose a `reduce` row gives: its percent, or `levels_down` steps down the
        block's dose levels from the dose in effect (never below the lowest level)."""
        if row.percent is not None:
            return row.percent
        levels = self.rules.immunotherapy.dose_levels
        now = self.level(drug)
        at = next((i for i, lv in enumerate(levels) if lv <= now), len(levels) - 1)
        return levels[min(at + row.levels_down, len(levels) - 1)]

    def _refer_ask(self, row: Row | None) -> str:
        if row is None or not row.options:
            return "Investigator decision"
        choices = " — or — ".join(f"{i}) {o}" for i, o in enumerate(row.options, 1))
        return f"Investigator's choice: {choices}."

    def _refer_questions(self, drug: str, row: Row | None) -> list[Question]:
        """A choice of options includes interrupting the immunotherapy (how: each interface's)."""
        if row is None or not row.options:
            return []
        return [Question(kind="interrupt", drug=drug)]

    def _cat(self, finding: Finding) -> str:
        return category_key(self.rules.immunotherapy, finding.term)[0]

    def _maybe_resume(self, drug: str, book: EpisodeBook, recovered: list[Finding], hold) -> None:
        if any(p.action in ("hold", "discontinue", "refer") for p in self.partials.get(drug, [])):
            return
        for finding in recovered:
            book.feed(finding)
        still_open = [e for e in book.open_immune()]
        described = ", ".join(f.described for f in recovered)
        io = self.rules.immunotherapy
        # the recovery grade of the recovered categories (a category may set its own)
        target = recovered_to(
            max(io.recovered_max_grade_of(io.category_of(f.term)) for f in recovered)
        )
        if still_open:
            waiting = waiting_for(
                io,
                still_open,
                lambda e: f"{e.term} (grade {e.last_grade} since {e.start.isoformat()})",
            )
            self.add(
                drug,
                _Partial(
                    action="hold",
                    needs_confirmation=False,
                    category=still_open[0].category,
                    reason=f"{described} recovered, but still waiting for {waiting}",
                    rule=io.source,
                ),
            )
            return
        self.add(
            drug,
            _Partial(
                action="resume",
                dose_percent=100,
                needs_confirmation=True,
                changes_state=True,
                category=self._cat(recovered[0]),
                reason=(
                    f"{described}: restored to {target} → resume {drug} "
                    f"(on hold since {hold.start.isoformat()})"
                ),
                rule=f"{io.source}: interrupt until restored to {target}",
                criterion="; ".join(f.criterion for f in recovered if f.criterion),
            ),
        )

    def _persistence_rules(self, drug: str, everything: list[Event]) -> None:
        io = self.rules.immunotherapy
        given = [
            e.date
            for e in everything
            if isinstance(e, DoseRecord) and e.drug == drug and e.status == "given"
        ]
        if not given:
            return
        last = max(given)
        elapsed = (self.day - last).days
        persistent = io.persistent
        if elapsed > persistent.weeks * 7:
            book = self._episodes(everything, exclude=None)
            lingering = [
                e
                for e in book.open_immune()
                if not e.endocrine and e.last_grade in persistent.grades
            ]
            if lingering:
                worst = max(lingering, key=lambda e: e.last_grade)
                self.add(
                    drug,
                    _Partial(
                        action=persistent.action,
                        needs_confirmation=True,
                        changes_state=True,
                        category=worst.category,
                        reason=(
                            f"{worst.term} grade {worst.last_grade} (since {worst.start.isoformat()}) has not "
                            f"recovered to grade 0–I within {persistent.weeks} weeks of the last {drug} "
                            f"dose ({last.isoformat()}, {elapsed} days ago): {persistent.management}"
                        ),
                        rule=persistent.source,
                    ),
                )
        if elapsed > io.steroids.weeks * 7:
            self._steroid_rule(drug, everything, last)

    def _steroid_rule(self, drug: str, everything: list[Event], last: date) -> None:
        """The steroid rule: corticosteroids not down to ≤10 mg/day prednisone equivalent within 12
        weeks of the last dose. The dose in force is the newest one recorded, whatever entry
        carried it; the rule is about steroids for an irAE, so it applies once an entry is
        immune-related as the log says now (attributions and corrections applied)."""
        steroids = self.rules.immunotherapy.steroids
        records = [
            e
            for e in chronological(everything)
            if isinstance(e, AdverseEvent) and e.steroid_mg is not None
        ]
        if not records or records[-1].steroid_mg <= steroids.max_prednisone_mg_per_day:
            return
        latest = records[-1]
        clinical = [e for e in everything if isinstance(e, LabPanel | AdverseEvent)]
        immune = [e for e in clinical if self._irae(e, everything) is True]
        unknown = [e for e in records if self._irae(e, everything) is None]
        dose = (
            f"corticosteroids still {latest.steroid_mg:g} mg/day prednisone equivalent (the newest "
            f"dose recorded, {latest.id or 'entry'} on {latest.date.isoformat()}), not "
            f"≤{steroids.max_prednisone_mg_per_day:g} mg/day within {steroids.weeks} weeks of the "
            f"last {drug} dose ({last.isoformat()})"
        )
        if immune:
            named = ", ".join(e.id for e in immune if e.id) or "an entry"
            self.add(
                drug,
                _Partial(
                    action=steroids.action,
                    needs_confirmation=True,
                    changes_state=True,
                    category="steroids",
                    reason=f"{dose}, for the irAE of {named}: {steroids.management}",
                    rule=steroids.source,
                ),
            )
            return
        if unknown:
            named = [e.id for e in unknown if e.id]
            asked = (
                f"Do the steroids treat an immune-related adverse event: is {' or '.join(named)} "
                f"immune-related?"
                if named
                else "Say whether the steroids treat an immune-related adverse event"
            )
            self.add(
                drug,
                _Partial(
                    action="refer",
                    needs_confirmation=True,
                    category="steroids",
                    reason=(
                        f"{dose}; no entry is attributed as immune-related yet — if the steroids "
                        f"treat an irAE, {self.table} says {steroids.management}"
                    ),
                    rule=self.rules.immunotherapy.attribution_source,
                    conditional=Conditional(
                        action=steroids.action, rule=steroids.source, management=steroids.management
                    ),
                    ask=asked,
                    questions=_immune_related(*named),
                ),
            )

    # ---- other entries -------------------------------------------------------------
    def _dose_while_stopped(self, event: DoseRecord) -> None:
        if event.status != "given":
            return
        course = self.course(event.drug)
        if course is None:
            return
        if course.is_discontinued_on(event.date):
            why = f"discontinued since {course.discontinued_on.isoformat()} ({course.discontinued_reason})"
        elif course.held_on(event.date) is not None:
            hold = course.held_on(event.date)
            why = f"on hold since {hold.start.isoformat()} ({hold.reason})"
        else:
            return
        self.add(
            event.drug,
            _Partial(
                action="refer",
                needs_confirmation=True,
                reason=f"{event.drug} recorded as given on {event.date.isoformat()} while {why}",
                rule=self.rules.source,
                ask="Check the entry; correct it or record the decision to give the dose",
            ),
        )

    def _response(self, event: ResponseAssessment) -> None:
        rules = self.rules.response
        if event.category not in rules.refer_on:
            return
        for drug in self.rules.drugs:
            if self.in_play(drug):
                self.add(
                    drug,
                    _Partial(
                        action="refer",
                        needs_confirmation=True,
                        reason=(
                            f"RECIST 1.1 response {event.category} on {event.date.isoformat()}: the protocol gives "
                            f"no treatment rule on progression; investigator decision"
                        ),
                        rule=rules.source,
                        ask="Decide whether to continue study treatment",
                    ),
                )

    # ---- merge -----------------------------------------------------------------------
    def _finish(self) -> list[Decision]:
        decisions = []
        order = self.rules.drugs
        for drug in sorted(
            self.partials, key=lambda d: order.index(d) if d in order else len(order)
        ):
            parts = self.partials[drug]
            top = max(parts, key=lambda p: SEVERITY[p.action])
            others = [p for p in parts if p is not top and p.action != "continue"]
            reason = top.reason
            if others:
                reason += "; also: " + "; ".join(p.reason for p in others)
            rules = list(dict.fromkeys([top.rule, *(p.rule for p in others)]))
            criteria = list(
                dict.fromkeys(c for c in [top.criterion, *(p.criterion for p in others)] if c)
            )
            asks = list(dict.fromkeys(a for a in [top.ask, *(p.ask for p in others)] if a))
            questions = list(dict.fromkeys(q for p in [top, *others] for q in p.questions))
            conditional = top.conditional or next(
                (p.conditional for p in others if p.conditional), None
            )

            # One block of rules may answer for several drugs: its texts say `{drug}` where
            # each decision names its own (docs/writing-rules.md).
            def named(text: str, drug: str = drug) -> str:
                return text.replace(DRUG_PLACEHOLDER, drug)

            if conditional is not None:
                conditional = conditional.model_copy(
                    update={
                        "rule": named(conditional.rule),
                        "management": named(conditional.management),
                    }
                )
            asks = [named(a) for a in asks]
            decisions.append(
                Decision(
                    drug=drug,
                    action=top.action,
                    dose_percent=top.dose_percent,
                    reason=named(reason),
                    rule=named("; ".join(rules)),
                    needs_confirmation=any(p.needs_confirmation for p in parts),
                    criterion="; ".join(criteria) or None,
                    category=top.category,
                    trigger=getattr(self.event, "id", None)
                    if not isinstance(self.event, Attribution)
                    else self.event.target,
                    if_immune_related=conditional,
                    ask=" · ".join(asks) or None,
                    questions=questions,
                    facts=list(dict.fromkeys(f for p in parts for f in p.facts)),
                    next_dose=(self.ctx.plan or {}).get(drug),
                    changes_state=top.changes_state,
                )
            )
        return decisions
