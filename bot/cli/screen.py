"""`trialbot screen`: check a candidate against the trial's eligibility criteria (its eligibility.yaml).

    trialbot screen age=52 stage=<stage> ecog=1 hb=10.2 anc=3.1 wbc=5.2 plt=210 \\
                    "alt=35 U/L (7-40)" ast=1.1xULN consent=yes ... [--site ID] [--json]
    trialbot screen --keys

Every criterion is pass, fail or unanswered; the candidate is eligible only when all pass.
`--json` prints `{"eligible", "failed": [keys], "unanswered": [keys], "criteria": [...]}`.
"""

from __future__ import annotations

import argparse
import json

from bot.cli import load_configured_trial
from bot.eligibility import screen
from bot.eligibility.rules import (
    EligibilityRules,
    FigoStage,
    IntegerRange,
    LabThreshold,
    LabUlnMultiple,
    YesNo,
)
from bot.errors import UserError

# The keys of the shipped trial's eligibility.yaml (a test keeps this list in step with it).
LAB_AND_CORE_KEYS = (
    "age",
    "stage",
    "ecog",
    "hb",
    "anc",
    "wbc",
    "plt",
    "alt",
    "ast",
    "bilirubin",
    "bun",
    "creatinine",
)
CHECKLIST_KEYS = (
    "untreated",
    "pathology_proven",
    "life_expectancy",
    "ccrt_eligible",
    "active_bleeding",
    "pregnancy_test",
    "contraception",
    "consent",
    "active_infection",
    "prior_malignancy",
    "comorbidity",
    "steroids",
    "live_vaccine",
    "therapeutic_hpv_vaccine",
    "organ_transplant",
    "hiv",
    "mental_illness",
    "viral_hepatitis",
    "recurrent_or_metastatic",
    "antibody_allergy",
    "autoimmune_disease",
)

EPILOG = f"""\
criteria: {", ".join(LAB_AND_CORE_KEYS)}
checklist (yes/no): {", ".join(CHECKLIST_KEYS)}

  age=52  stage={{stage}} ({{stage_system}}: {{stage_eligible}} are eligible)  ecog=0|1
  labs as in a lab entry: hb=10.2  "hb=102 g/L"  anc=3.1  "alt=35 U/L (7-40)"
  or, for the x ULN criteria, a multiple: ast=1.1xULN  bilirubin=0.8×ULN
  inclusion items pass on yes, exclusion items on no; pregnancy_test and contraception
  take na when the patient is not of childbearing age; unknown or ? leaves it unanswered.
`trialbot screen --keys` lists every criterion with its question and citation.
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "screen",
        help="check eligibility against the trial's eligibility criteria",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("answers", nargs="*", metavar="KEY=VALUE", help="one answer per criterion")
    parser.add_argument(
        "--site", help="site whose reference ranges apply (default: the trial default)"
    )
    parser.add_argument("--keys", action="store_true", help="list the criteria keys and exit")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)


def parse_answers(items: list[str]) -> dict[str, str]:
    answers: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(
                f"'{item}' is not KEY=VALUE",
                field=item,
                allowed='e.g. age=52 or "alt=35 U/L (7-40)"',
            )
        if key.lower() in {k.lower() for k in answers}:
            raise UserError(f"'{key}' is answered twice", field=key)
        answers[key] = value.strip()
    return answers


def _run(args: argparse.Namespace) -> int:
    trial = load_configured_trial()
    rules: EligibilityRules = trial.get("eligibility.yaml")
    if args.keys:
        return _keys(rules, args.json)
    answers = parse_answers(args.answers)
    ranges = trial.get("reference_ranges.yaml").for_site(args.site)
    result = screen(answers, rules, ranges)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    verdict = "ELIGIBLE" if result.eligible else "NOT ELIGIBLE"
    if not result.eligible and not result.failed:
        verdict += " (yet): unanswered criteria"
    print(verdict)
    for status in ("fail", "unanswered", "pass"):
        for item in (c for c in result.criteria if c.status == status):
            print(f"  {status:<10} {item.key:<24} {item.reason}")
    return 0


def _answers_for(criterion) -> str:
    if isinstance(criterion, IntegerRange):
        return f"{criterion.valid[0]}-{criterion.valid[1]}, passes {criterion.min}-{criterion.max}"
    if isinstance(criterion, FigoStage):
        return f"{criterion.system} stage, passes {', '.join(criterion.eligible)}"
    if isinstance(criterion, LabThreshold):
        return f"lab value, passes {criterion.op} {criterion.threshold} {criterion.unit}"
    if isinstance(criterion, LabUlnMultiple):
        return f"lab value or NxULN, passes {criterion.op} {criterion.multiple} x ULN"
    if isinstance(criterion, YesNo):
        extra = "/".join(criterion.answers) + ("/na" if criterion.not_applicable else "")
        return f"yes/no{'/' + extra if extra else ''}, passes {criterion.pass_when}"
    return ""


def _keys(rules: EligibilityRules, as_json: bool) -> int:
    rows = [
        {
            "key": c.key,
            "aliases": list(c.aliases),
            "section": c.section,
            "label": c.label,
            "answers": _answers_for(c),
            "citation": c.citation,
        }
        for c in rules.criteria
    ]
    if as_json:
        print(json.dumps({"criteria": rows}, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"{row['key']:<24} {row['section']:<9} {row['label']}")
        print(f"{'':<24} {'':<9} answers: {row['answers']}")
    return 0
