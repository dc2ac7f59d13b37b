"""Grade a lab value with CTCAE: term, grade 0–4 (or None, with the reason), the text applied.

All comparisons are done in `Decimal` on the numbers as written, so the boundaries hold
exactly as CTCAE writes them: ANC 0.5 ×10^9/L is grade 3 ("<1000 - 500/mm3"), ALT 120 with
ULN 40 is exactly 3.0 × ULN and so grade 1. Where CTCAE gives a threshold in the unit the
value was entered in (haemoglobin in g/dL, g/L or mmol/L), the value is compared in that
unit: Hb 4.9 mmol/L is grade 2 although 4.9 mmol/L is 7.9 g/dL.

The grade records the CTCAE version used, the criterion text applied (naming the baseline
variant or arm), the value as a multiple of ULN/LLN, and a note for whatever the value
alone cannot settle (symptoms for amylase/lipase, no reference range, no baseline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.errors import UserError
from bot.events import LabValue
from bot.grading.analytes import ANALYTES, Analyte, as_decimal, plain
from bot.grading.criteria import Arm, LabCriterion
from bot.grading.parsing import Entry, read_entries
from bot.grading.terms import Ctcae


@dataclass(frozen=True)
class LabGrade:
    analyte: str
    value: float  # in the canonical unit
    unit: str
    term: str | None  # the CTCAE term, None when the analyte has none (BUN)
    meddra_code: int | None
    grade: int | None  # 0–4, or None when it cannot be graded (see note)
    ctcae: str
    criterion: str  # the CTCAE text of the grade applied, with the variant/arm
    variant: str | None = None  # "baseline normal", "baseline abnormal", "ULN arm", "baseline arm"
    x_uln: float | None = None
    x_lln: float | None = None
    lln: float | None = None
    uln: float | None = None
    range_source: str = "none"
    note: str | None = None
    grade_if_symptomatic: int | None = None  # amylase/lipase when symptoms were not stated
    entered: str = ""

    def to_json(self) -> dict:
        return {
            "analyte": self.analyte,
            "value": self.value,
            "unit": self.unit,
            "term": self.term,
            "grade": self.grade,
            "ctcae": self.ctcae,
            "criterion": self.criterion,
            "meddra_code": self.meddra_code,
            "variant": self.variant,
            "x_uln": self.x_uln,
            "x_lln": self.x_lln,
            "lln": self.lln,
            "uln": self.uln,
            "range_source": self.range_source,
            "grade_if_symptomatic": self.grade_if_symptomatic,
            "note": self.note,
            "entered": self.entered,
        }


@dataclass(frozen=True)
class _Quantities:
    """The numbers grading compares, each pair in one unit."""

    unit: str  # the unit `number` is in (entered unit if recovered, else canonical)
    number: Decimal
    canonical: Decimal
    lln: Decimal | None  # in `unit`
    uln: Decimal | None
    baseline: Decimal | None  # canonical
    baseline_status: str  # "normal", "abnormal", "none" (no baseline given), "unknown"


@dataclass(frozen=True)
class _Outcome:
    grade: int | None
    arm: Arm | None
    missing: tuple[Arm, ...] = ()


def grade_value(
    ctcae: Ctcae,
    value: LabValue,
    baseline: LabValue | None = None,
    symptomatic: bool | None = None,
) -> LabGrade:
    """Grade one lab value; `baseline` is the patient's baseline of the same analyte."""
    if baseline is not None and baseline.analyte != value.analyte:
        raise ValueError(f"baseline is {baseline.analyte}, value is {value.analyte}")
    analyte = ANALYTES.get(value.analyte)
    criterion = ctcae.lab.get(value.analyte)
    common = {
        "analyte": value.analyte,
        "value": value.value,
        "unit": value.unit,
        "ctcae": ctcae.version,
        "lln": value.lln,
        "uln": value.uln,
        "range_source": value.range_source,
        "entered": value.entered,
    }
    if analyte is None or criterion is None:
        reason = (
            ctcae.not_graded.get(value.analyte)
            or f"no CTCAE v{ctcae.version} lab criterion for '{value.analyte}'"
        )
        return LabGrade(
            term=None,
            meddra_code=None,
            grade=None,
            criterion=f"Not graded: {reason}",
            note=reason,
            **common,
        )
    quantities = _quantities(analyte, criterion, value, baseline)
    asymptomatic = _evaluate(criterion, analyte, quantities, symptomatic=bool(symptomatic))
    notes: list[str] = []
    grade_if_symptomatic = None
    if symptomatic is None and any(arm.symptomatic is not None for arm in criterion.arms):
        with_symptoms = _evaluate(criterion, analyte, quantities, symptomatic=True)
        if with_symptoms.grade != asymptomatic.grade and with_symptoms.arm is not None:
            grade_if_symptomatic = with_symptoms.grade
            notes.append(
                "signs or symptoms not stated: graded as asymptomatic; with signs or symptoms "
                f"this is grade {with_symptoms.grade} ({with_symptoms.arm.text})"
            )
    grade, criterion_text, variant = _describe(criterion, analyte, quantities, asymptomatic, notes)
    if (
        grade is not None
        and grade > 0
        and criterion.baseline_variants
        and quantities.baseline_status == "none"
    ):
        notes.append("no baseline given: graded as if the baseline was normal")
    if baseline is not None and not any(arm.ref == "baseline" for arm in criterion.arms):
        notes.append(
            f"CTCAE v{ctcae.version} uses no baseline for {criterion.term}; "
            "the baseline was not used"
        )
    if grade is not None and criterion.note and grade == max(criterion.lab_grades):
        notes.append(criterion.note)
    x_uln, x_lln = _multiples(quantities)
    return LabGrade(
        term=criterion.term,
        meddra_code=criterion.meddra_code,
        grade=grade,
        criterion=criterion_text,
        variant=variant,
        x_uln=x_uln,
        x_lln=x_lln,
        note=" ".join(notes) or None,
        grade_if_symptomatic=grade_if_symptomatic,
        **common,
    )


def grade_panel(
    ctcae: Ctcae,
    values: Sequence[LabValue],
    baseline: Mapping[str, LabValue] | Sequence[LabValue] | None = None,
    symptomatic: bool | None = None,
) -> list[LabGrade]:
    """Grade every value of a panel, each against the baseline of its analyte if given."""
    if baseline is None:
        by_analyte: Mapping[str, LabValue] = {}
    elif isinstance(baseline, Mapping):
        by_analyte = baseline
    else:
        by_analyte = {b.analyte: b for b in baseline}
    return [grade_value(ctcae, v, by_analyte.get(v.analyte), symptomatic) for v in values]


def _entered(analyte: Analyte, value: LabValue) -> tuple[Entry, str] | None:
    """The value exactly as typed (number, unit, report range), if `entered` still says so."""
    if not value.entered:
        return None
    try:
        entries = read_entries(value.entered)
    except UserError:
        return None
    if len(entries) != 1 or entries[0].analyte.code != analyte.code:
        return None
    entry = entries[0]
    stored = as_decimal(value.value)
    for unit in [entry.unit] if entry.unit else list(analyte.units):
        if analyte.to_canonical(entry.number, unit) == stored:
            return entry, unit
    return None


def _compares_in_entered_unit(criterion: LabCriterion, analyte: Analyte) -> bool:
    """Whether CTCAE writes this term's cut-offs in units other than the canonical one.

    Only then can the unit the value was typed in change a grade (Hb 4.9 mmol/L); elsewhere
    every conversion factor is an exact decimal, so canonical values compare the same.
    """
    return any(arm.unit not in (None, analyte.canonical_unit) for arm in criterion.arms)


def _quantities(
    analyte: Analyte, criterion: LabCriterion, value: LabValue, baseline: LabValue | None
) -> _Quantities:
    canonical = as_decimal(value.value)
    lln = None if value.lln is None else as_decimal(value.lln)
    uln = None if value.uln is None else as_decimal(value.uln)
    unit, number = analyte.canonical_unit, canonical
    found = _entered(analyte, value) if _compares_in_entered_unit(criterion, analyte) else None
    if found is not None:
        entry, unit = found
        number = entry.number
        if value.range_source == "report" and entry.has_range:
            lln, uln = entry.low, entry.high
        else:
            lln = None if lln is None else analyte.from_canonical(lln, unit)
            uln = None if uln is None else analyte.from_canonical(uln, unit)
    base = None if baseline is None else as_decimal(baseline.value)
    if base is None:
        status = "none"
    else:
        # v5.0 does not define an abnormal baseline; above the ULN (of the baseline's own
        # report, else of this value's) is the reading (docs/grading.md).
        limit = baseline.uln if baseline.uln is not None else value.uln
        status = (
            "unknown" if limit is None else ("abnormal" if base > as_decimal(limit) else "normal")
        )
    return _Quantities(unit, number, canonical, lln, uln, base, status)


def _applies(arm: Arm, q: _Quantities, symptomatic: bool, absolute_unit: str) -> bool:
    if arm.ref == "absolute" and arm.unit != absolute_unit:
        return False
    if arm.baseline != "any" and arm.baseline != (
        "abnormal" if q.baseline_status == "abnormal" else "normal"
    ):
        return False
    if arm.ref == "baseline" and q.baseline is None:
        return False
    return arm.symptomatic is None or arm.symptomatic == symptomatic


def _holds(arm: Arm, q: _Quantities, absolute_unit: str) -> bool | None:
    """Whether the arm's comparison holds; None when its reference is not known."""
    if arm.ref == "absolute":
        subject = q.number if absolute_unit == q.unit else q.canonical
        reference = arm.value
    elif arm.ref == "baseline":
        subject, reference = q.canonical, arm.value * q.baseline
    else:
        limit = q.lln if arm.ref == "lln" else q.uln
        if limit is None:
            return None
        subject, reference = q.number, arm.value * limit
    if arm.op == "<":
        return subject < reference
    if arm.op == ">":
        return subject > reference
    return subject >= reference


def _absolute_unit(criterion: LabCriterion, q: _Quantities, analyte: Analyte) -> str:
    units = {arm.unit for arm in criterion.arms if arm.ref == "absolute"}
    return q.unit if q.unit in units else analyte.canonical_unit


def _evaluate(
    criterion: LabCriterion, analyte: Analyte, q: _Quantities, symptomatic: bool
) -> _Outcome:
    absolute_unit = _absolute_unit(criterion, q, analyte)
    for grade in sorted(criterion.lab_grades, reverse=True):
        missing = []
        for arm in criterion.arms:
            if arm.grade != grade or not _applies(arm, q, symptomatic, absolute_unit):
                continue
            holds = _holds(arm, q, absolute_unit)
            if holds:
                return _Outcome(grade, arm)
            if holds is None:
                missing.append(arm)
        if missing:
            return _Outcome(None, None, tuple(missing))
    return _Outcome(0, None)


def _variant(arm: Arm) -> str | None:
    if arm.variant:
        return arm.variant
    if arm.baseline != "any":
        return f"baseline {arm.baseline}"
    return None


def _fmt(number: Decimal, unit: str) -> str:
    return f"{plain(number)} {display_unit(unit)}"


def display_unit(unit: str) -> str:
    """How a unit reads in a sentence: 10^9/L is written ×10^9/L."""
    return f"×{unit}" if unit.startswith("10^") else unit


def _describe(
    criterion: LabCriterion, analyte: Analyte, q: _Quantities, outcome: _Outcome, notes: list[str]
) -> tuple[int | None, str, str | None]:
    if outcome.arm is not None:
        variant = _variant(outcome.arm)
        text = f"Grade {outcome.grade}: {outcome.arm.text}" + (f" ({variant})" if variant else "")
        return outcome.grade, text, variant
    if outcome.missing:
        if all(arm.ref == "lln" for arm in outcome.missing):
            cutoff = _lowest_absolute_cutoff(criterion, analyte, q)
            notes.append(
                "no LLN known (neither on the report nor in the site's ranges): grade 1 (<LLN) "
                f"cannot be assessed; the value is not below the grade 2 cut-off ({cutoff})"
            )
            return 0, f"Grade 0: not below the grade 2 cut-off ({cutoff}); no LLN known", None
        notes.append(
            f"no ULN known for {analyte.label} (neither on the report nor in the site's ranges): "
            f"give the report's range, e.g. '{analyte.label} {plain(q.number)} (7-40)'"
        )
        return None, f"Not graded: no ULN known for {analyte.label}", None
    return 0, _grade_zero_text(criterion, analyte, q), _zero_variant(criterion, q)


def _lowest_absolute_cutoff(criterion: LabCriterion, analyte: Analyte, q: _Quantities) -> str:
    unit = _absolute_unit(criterion, q, analyte)
    arms = [a for a in criterion.arms if a.ref == "absolute" and a.unit == unit]
    top = max(arms, key=lambda a: a.value)
    return _fmt(top.value, unit)


def _zero_variant(criterion: LabCriterion, q: _Quantities) -> str | None:
    if criterion.baseline_variants:
        return "baseline abnormal" if q.baseline_status == "abnormal" else "baseline normal"
    return None


def _grade_zero_text(criterion: LabCriterion, analyte: Analyte, q: _Quantities) -> str:
    parts = []
    abnormal = q.baseline_status == "abnormal"
    for arm in criterion.arms:
        if arm.grade != 1:
            continue
        if arm.ref == "lln" and q.lln is not None:
            parts.append(f"not below LLN ({_fmt(q.lln, q.unit)})")
        elif arm.ref == "uln" and q.uln is not None and not (abnormal and arm.baseline == "normal"):
            parts.append(f"not above ULN ({_fmt(q.uln, q.unit)})")
        elif arm.ref == "baseline" and abnormal and q.baseline is not None:
            base = _fmt(q.baseline, analyte.canonical_unit)
            if arm.op == ">=":
                limit = _fmt(arm.value * q.baseline, analyte.canonical_unit)
                parts.append(f"below {plain(arm.value)} x the abnormal baseline {base} ({limit})")
            else:
                parts.append(f"not above the abnormal baseline {base}")
    seen = list(dict.fromkeys(parts))
    return "Grade 0: " + ("; ".join(seen) if seen else "no grade 1 criterion met")


def _multiples(q: _Quantities) -> tuple[float | None, float | None]:
    x_uln = None if not q.uln else float(round(q.number / q.uln, 3))
    x_lln = None if not q.lln else float(round(q.number / q.lln, 3))
    return x_uln, x_lln
