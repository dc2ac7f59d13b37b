"""Screen a candidate against the trial's eligibility criteria (its eligibility.yaml).

`screen(answers, rules, ranges)` judges every criterion: pass, fail, or unanswered. A
patient is eligible only when every criterion passes. An answer that cannot be read (an
unknown key, a stage without the sub-stage its system requires, a malformed lab value) is refused with a `UserError`, so
a typo never turns into a silent "fail".

Lab criteria take a value as in a lab entry (`35 U/L (7-40)`, `10.2`, `80 g/L`) or, for
"x ULN" criteria, a multiple (`1.1xULN`, `2.1×ULN`). Comparisons are done in `Decimal` on
the numbers as written, so the boundaries hold exactly (Hb 8.0 fails "> 8.0", ALT at
exactly 2.5 × ULN passes "<= 2.5 × ULN").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from bot.eligibility.rules import (
    EligibilityRules,
    FigoStage,
    IntegerRange,
    LabThreshold,
    LabUlnMultiple,
    YesNo,
)
from bot.errors import UserError, closest
from bot.events import LabValue
from bot.grading.analytes import ANALYTES, as_decimal, plain, round_significant
from bot.grading.grader import display_unit
from bot.grading.parsing import parse_panel
from bot.grading.ranges import NO_RANGES, ReferenceRanges, ReferenceRangesFile

Status = Literal["pass", "fail", "unanswered"]

_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_NA = {"na", "n/a", "not_applicable", "not applicable"}
_UNKNOWN = {"", "?", "unknown", "pending", "tbd", "not done"}
_MULTIPLE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?|\.\d+)\s*(?:[x×*]\s*)?(?:ULN|UNL)\s*$", re.I)
_INTEGER = re.compile(r"^\s*(?P<n>\d+)\s*(?:y|yr|yrs|years?)?\s*$", re.I)


class ScreeningError(UserError):
    """An answer that cannot be judged; `field` is its key."""


@dataclass(frozen=True)
class CriterionResult:
    key: str
    label: str
    section: str
    status: Status
    reason: str
    citation: str
    answer: str | None = None

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "section": self.section,
            "status": self.status,
            "reason": self.reason,
            "citation": self.citation,
            "answer": self.answer,
        }


@dataclass(frozen=True)
class ScreenResult:
    eligible: bool
    failed: list[str]
    unanswered: list[str]
    criteria: list[CriterionResult]

    def to_json(self) -> dict:
        return {
            "eligible": self.eligible,
            "failed": list(self.failed),
            "unanswered": list(self.unanswered),
            "criteria": [c.to_json() for c in self.criteria],
        }


def screen(
    answers: Mapping[str, str],
    rules: EligibilityRules,
    ranges: ReferenceRanges | ReferenceRangesFile | None = None,
) -> ScreenResult:
    """Judge every criterion of `rules` from `answers` (keyed by criterion key or alias).

    `ranges` gives the ULN of "x ULN" criteria when a value comes without its report range:
    a site's ranges, or the whole reference-ranges file (its default site).
    """
    if isinstance(ranges, ReferenceRangesFile):
        ranges = ranges.for_site(None)
    ranges = ranges or NO_RANGES
    by_name = rules.by_name()
    given: dict[str, tuple[str, str]] = {}  # criterion key -> (name used, answer)
    for name, answer in answers.items():
        normal = name.strip().lower().replace("-", "_")
        criterion = by_name.get(normal)
        if criterion is None:
            keys = [c.key for c in rules.criteria]
            raise ScreeningError(
                f"unknown criterion '{name}'",
                field=name,
                suggestion=closest(normal, by_name) and by_name[closest(normal, by_name)].key,
                allowed=", ".join(keys),
            )
        if criterion.key in given:
            raise ScreeningError(
                f"'{name}' answers {criterion.key}, "
                f"already answered as '{given[criterion.key][0]}'",
                field=name,
            )
        given[criterion.key] = (name, str(answer))
    results = []
    keys = {c.key: c for c in rules.criteria}
    for criterion in rules.criteria:
        if criterion.when is not None:
            applies, why = _applies(criterion.when, keys[criterion.when.field], given)
            if applies is None:
                results.append(_result(criterion, "unanswered", why, None))
                continue
            if not applies:
                answer = given.get(criterion.key, (None, None))[1]
                results.append(_result(criterion, "pass", why, answer))
                continue
        if criterion.key not in given:
            results.append(_result(criterion, "unanswered", "not answered", None))
            continue
        _, answer = given[criterion.key]
        if answer.strip().lower() in _UNKNOWN:
            results.append(_result(criterion, "unanswered", "answered as unknown", answer))
            continue
        status, reason = _judge(criterion, answer, ranges)
        results.append(_result(criterion, status, reason, answer))
    failed = [r.key for r in results if r.status == "fail"]
    unanswered = [r.key for r in results if r.status == "unanswered"]
    return ScreenResult(
        eligible=not failed and not unanswered,
        failed=failed,
        unanswered=unanswered,
        criteria=results,
    )


def _condition_answer(criterion, answer: str) -> str:
    """An answer as a `when` compares it: the stage as spelled, yes/no/na, the number."""
    if isinstance(criterion, FigoStage):
        return read_stage(criterion, answer)
    if isinstance(criterion, YesNo):
        word = answer.strip().lower()
        word = criterion.answers.get(word, word)
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
        if word in _NA:
            return "na"
        return word
    match = _INTEGER.match(answer)
    return str(int(match.group("n"))) if match else answer.strip()


def _applies(when, target, given) -> tuple[bool | None, str]:
    """Does the criterion apply (None: its condition's field is not answered)?"""
    condition = when.text()
    if target.key not in given or given[target.key][1].strip().lower() in _UNKNOWN:
        return None, f"applies when {condition}; {target.key} is not answered"
    value = _condition_answer(target, given[target.key][1])
    if value in when.values():
        return True, ""
    return False, f"not applicable: applies only when {condition} ({target.key} is {value})"


def _result(criterion, status: Status, reason: str, answer: str | None) -> CriterionResult:
    return CriterionResult(
        key=criterion.key,
        label=criterion.label,
        section=criterion.section,
        status=status,
        reason=reason,
        citation=criterion.citation,
        answer=answer,
    )


def _judge(criterion, answer: str, ranges: ReferenceRanges) -> tuple[Status, str]:
    if isinstance(criterion, IntegerRange):
        return _integer(criterion, answer)
    if isinstance(criterion, FigoStage):
        return _stage(criterion, answer)
    if isinstance(criterion, LabThreshold):
        return _threshold(criterion, answer, ranges)
    if isinstance(criterion, LabUlnMultiple):
        return _uln_multiple(criterion, answer, ranges)
    if isinstance(criterion, YesNo):
        return _yes_no(criterion, answer)
    raise TypeError(f"no judge for {type(criterion).__name__}")


def _compare(left: Decimal, op: str, right: Decimal) -> bool:
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def _integer(criterion: IntegerRange, answer: str) -> tuple[Status, str]:
    match = _INTEGER.match(answer)
    low, high = criterion.valid
    unit = f" {criterion.unit}" if criterion.unit else ""
    if match is None or not low <= int(match.group("n")) <= high:
        raise ScreeningError(
            f"'{answer}' is not a whole number from {low} to {high}",
            field=criterion.key,
            allowed=f"a whole number{unit}, {low}-{high}",
        )
    number = int(match.group("n"))
    inside = criterion.min <= number <= criterion.max
    verb = "within" if inside else "outside"
    return (
        "pass" if inside else "fail"
    ), f"{number}{unit} is {verb} {criterion.min}-{criterion.max}{unit}"


_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}


def read_stage(criterion: FigoStage, answer: str) -> str:
    """A stage as the staging system spells it; ScreeningError if malformed or ambiguous."""
    text = re.sub(r"[\s_\-.]", "", answer.upper())
    # the system's own name may come first ("<system> <edition> stage IIB")
    named = "".join(f"(?:{re.escape(word)})?" for word in criterion.system.upper().split())
    text = re.sub(rf"^{named}(?:STAGE)?", "", text)
    arabic = re.match(r"^([1-4])(.*)$", text)
    if arabic:
        text = _ROMAN[arabic.group(1)] + arabic.group(2)
    # a suffix the system adds to some stages (the rules' `suffixes`): the stage is the same
    for suffix in criterion.suffixes:
        if text.endswith(suffix.upper()) and text[:-1] in criterion.suffixed:
            text = text[:-1]
            break
    if text in criterion.stages:
        return text
    allowed = ", ".join(criterion.stages)
    finer = [s for s in criterion.stages if s.startswith(text) and len(s) == len(text) + 1 and text]
    if finer:
        raise ScreeningError(
            f"stage '{answer}' is ambiguous in {criterion.system}: {' or '.join(finer)}?",
            field=criterion.key,
            allowed=allowed,
        )
    raise ScreeningError(
        f"'{answer}' is not a {criterion.system} stage",
        field=criterion.key,
        allowed=allowed,
        suggestion=closest(text, criterion.stages),
    )


def _stage(criterion: FigoStage, answer: str) -> tuple[Status, str]:
    stage = read_stage(criterion, answer)
    span = f"{criterion.eligible[0]}-{criterion.eligible[-1]}"
    if stage in criterion.eligible:
        return "pass", f"stage {stage} ({criterion.system}) is within {span}"
    return "fail", f"stage {stage} ({criterion.system}) is outside {span}"


def _lab_value(
    criterion: LabThreshold | LabUlnMultiple, answer: str, ranges: ReferenceRanges
) -> LabValue:
    analyte = ANALYTES[criterion.analyte]
    text = answer.strip()
    if text[:1].isdigit() or text[:1] in ".-+−<>":
        text = f"{analyte.label} {text}"
    try:
        values = parse_panel(text, ranges)
    except UserError as exc:
        raise ScreeningError(exc.message, field=criterion.key) from None
    if len(values) != 1 or values[0].analyte != analyte.code:
        raise ScreeningError(
            f"'{answer}' is not one {analyte.label} value",
            field=criterion.key,
            allowed=f"a {analyte.label} value, e.g. {criterion.key}=35 U/L (7-40)",
        )
    return values[0]


def _threshold(criterion: LabThreshold, answer: str, ranges: ReferenceRanges) -> tuple[Status, str]:
    analyte = ANALYTES[criterion.analyte]
    if _MULTIPLE.match(answer):
        raise ScreeningError(
            f"{criterion.key} is judged on its value ({criterion.op} {plain(criterion.threshold)} "
            f"{display_unit(criterion.unit)}), not a multiple of ULN",
            field=criterion.key,
            allowed=f"a value, e.g. {criterion.key}={_example(criterion)}",
        )
    value = _lab_value(criterion, answer, ranges)
    unit = analyte.unit_for(criterion.unit) or analyte.canonical_unit
    threshold = analyte.to_canonical(criterion.threshold, unit)
    measured = as_decimal(value.value)
    number = plain(round_significant(analyte.from_canonical(measured, unit), 4))
    shown = f"{analyte.label} {number} {display_unit(unit)}"
    if number not in value.entered:
        shown += f" (entered as '{value.entered}')"
    rule = f"{criterion.op} {_written(criterion.threshold)} {display_unit(unit)}"
    if _compare(measured, criterion.op, threshold):
        return "pass", f"{shown} is {rule}"
    return "fail", f"{shown} is not {rule}"


def _written(number: Decimal) -> str:
    """A number with at least one decimal place when it has any (8.0 stays 8.0, 210 stays 210)."""
    text = format(number, "f")
    return text if "." in text else plain(number)


def _example(criterion: LabThreshold) -> str:
    return {"hb": "10.2", "anc": "3.1", "wbc": "5.2", "plt": "210"}.get(criterion.analyte, "1")


def _uln_multiple(
    criterion: LabUlnMultiple, answer: str, ranges: ReferenceRanges
) -> tuple[Status, str]:
    analyte = ANALYTES[criterion.analyte]
    rule = f"{criterion.op} {plain(criterion.multiple)} x ULN"
    multiple_match = _MULTIPLE.match(answer)
    if multiple_match:
        try:
            multiple = Decimal(multiple_match.group("n"))
        except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
            raise ScreeningError(f"'{answer}' is not a number", field=criterion.key) from None
        verdict = _compare(multiple, criterion.op, criterion.multiple)
        shown = f"{plain(multiple)} x ULN"
        return ("pass", f"{shown} is {rule}") if verdict else ("fail", f"{shown} is not {rule}")
    value = _lab_value(criterion, answer, ranges)
    if value.uln is None:
        return "unanswered", (
            f"no ULN known for {analyte.label}: give the report's range, e.g. "
            f"{criterion.key}={answer.strip()} (7-40), or a multiple, e.g. {criterion.key}=0.9xULN"
        )
    measured, uln = as_decimal(value.value), as_decimal(value.uln)
    ratio = round(measured / uln, 3)
    source = "report" if value.range_source == "report" else "site"
    shown = (
        f"{plain(measured)} {value.unit} = {plain(ratio)} x ULN "
        f"(ULN {plain(uln)} {value.unit}, {source} range)"
    )
    if _compare(measured, criterion.op, criterion.multiple * uln):
        return "pass", f"{shown} is {rule}"
    return "fail", f"{shown} is not {rule}"


def _yes_no(criterion: YesNo, answer: str) -> tuple[Status, str]:
    word = answer.strip().lower()
    if word in _NA:
        if criterion.not_applicable is None:
            raise ScreeningError(
                f"'{answer}': this question needs yes or no", field=criterion.key, allowed="yes, no"
            )
        return "pass", f"not applicable ({criterion.not_applicable})"
    if word in _YES:
        said = "yes"
    elif word in _NO:
        said = "no"
    elif word in criterion.answers:
        said = criterion.answers[word]
    else:
        allowed = ", ".join(
            ["yes", "no", *criterion.answers] + (["na"] if criterion.not_applicable else [])
        )
        raise ScreeningError(
            f"'{answer}' is not a yes/no answer", field=criterion.key, allowed=allowed
        )
    if said == criterion.pass_when:
        return "pass", f"{criterion.question} — {said}"
    return "fail", f"{criterion.question} — {said}"
