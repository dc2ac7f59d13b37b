"""`trialbot screen`: check a candidate against the trial's eligibility criteria (its eligibility.yaml).

    trialbot screen KEY=VALUE ... [--site ID] [--json]     (KEY: a criterion's key or alias)
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

# What `--help` lists comes from the loaded trial's eligibility.yaml, never from a list
# here: a trial with other criteria (no `stage`, a conditional question) gets its own.
# `LAB_AND_CORE_KEYS` (every criterion that is not a yes/no question) and `CHECKLIST_KEYS`
# (the yes/no questions) are read from the configured trial when first asked for.


def __getattr__(name: str) -> tuple[str, ...]:
    if name in {"LAB_AND_CORE_KEYS", "CHECKLIST_KEYS"}:
        core, checklist = _key_groups(load_configured_trial().get("eligibility.yaml"))
        return core if name == "LAB_AND_CORE_KEYS" else checklist
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _key_groups(rules: EligibilityRules) -> tuple[tuple[str, ...], tuple[str, ...]]:
    core = tuple(c.key for c in rules.criteria if not isinstance(c, YesNo))
    return core, tuple(c.key for c in rules.criteria if isinstance(c, YesNo))


def _join(keys) -> str:
    return ", ".join(keys) or "none"


def epilog_for(rules: EligibilityRules) -> str:
    """The `--help` epilog of `screen` for these criteria: every key, and how each kind of
    criterion is answered, with the trial's own example values."""
    core, checklist = _key_groups(rules)
    lines = [f"criteria: {_join(core)}", f"checklist (yes/no): {_join(checklist)}", ""]
    examples = []
    for c in rules.criteria:
        if isinstance(c, IntegerRange):
            examples.append(f"{c.key}={c.min}" + (f"|{c.max}" if c.max - c.min == 1 else ""))
        elif isinstance(c, FigoStage):
            stage = c.example or c.eligible[0]
            examples.append(f"{c.key}={stage} ({c.system}: {', '.join(c.eligible)} are eligible)")
    if examples:
        lines.append("  " + "  ".join(examples))
    labs = [c for c in rules.criteria if isinstance(c, LabThreshold | LabUlnMultiple)]
    if labs:
        first = labs[0]
        unit = getattr(first, "unit", "") or ""
        lines.append(
            f"  labs as in a lab entry: {first.key}=<value>"
            + (f'  "{first.key}=<value> {unit}"' if unit else "")
            + ' (a printed range wins: "… (LLN-ULN)")'
        )
        multiples = [c.key for c in labs if isinstance(c, LabUlnMultiple)]
        if multiples:
            lines.append(
                f"  or, for the x ULN criteria ({_join(multiples)}), a multiple: "
                f"{multiples[0]}=1.1xULN"
            )
    questions = [c for c in rules.criteria if isinstance(c, YesNo)]
    if questions:
        on_yes = [c.key for c in questions if c.pass_when == "yes"]
        on_no = [c.key for c in questions if c.pass_when == "no"]
        lines += [
            f"  pass on {word}: {_join(keys)}"
            for word, keys in (("yes", on_yes), ("no", on_no))
            if keys
        ]
        na = [f"{c.key} ({c.not_applicable})" for c in questions if c.not_applicable]
        if na:
            lines.append(f"  na also answers: {_join(na)}")
    for c in (c for c in rules.criteria if c.when is not None):
        lines.append(f"  {c.key} applies only when {c.when.text()}")
    lines.append("  unknown or ? leaves a criterion unanswered.")
    lines.append("`trialbot screen --keys` lists every criterion with its question and citation.")
    return "\n".join(lines) + "\n"


def _epilog() -> str:
    """The configured trial's epilog, or why it cannot be read (help still answers)."""
    try:
        return epilog_for(load_configured_trial().get("eligibility.yaml"))
    except Exception as error:  # help answers even when the rules do not load
        return f"the trial's criteria could not be read ({error}); see `trialbot rules check`\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "screen",
        help="check eligibility against the trial's eligibility criteria",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("answers", nargs="*", metavar="KEY=VALUE", help="one answer per criterion")
    parser.add_argument(
        "--site", help="site whose reference ranges apply (default: the trial default)"
    )
    parser.add_argument("--keys", action="store_true", help="list the criteria keys and exit")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.epilog_from = _epilog  # read only when help is shown (_Parser.format_help)
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
        extra = [*criterion.answers, *(["na"] if criterion.not_applicable else [])]
        return f"yes/no{''.join('/' + word for word in extra)}, passes {criterion.pass_when}"
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
