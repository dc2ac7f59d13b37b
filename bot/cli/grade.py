"""`trialbot grade`: grade a lab panel with CTCAE v5.0, or look up an adverse-event term.

    trialbot grade "ANC 0.4 PLT 62 ALT 130 U/L (7-40)" [--baseline "ALT 60 (7-40)"]
                   [--symptomatic yes|no] [--site ID] [--json]
    trialbot grade --term "SJS" [--ae-grade 3] [--json]

Lab output is one line per analyte: the term, the grade and the CTCAE criterion applied
(values in the analyte's canonical unit). `--json` prints
`{"results": [{"analyte", "value", "unit", "term", "grade", "ctcae", "criterion", ...}]}`.
"""

from __future__ import annotations

import argparse
import json

from bot.cli import configured_rules, load_configured_trial
from bot.errors import UserError
from bot.grading import grade_panel, grade_text, load_ctcae, match_term, parse_panel
from bot.grading.analytes import ANALYTES, plain
from bot.grading.grader import LabGrade, display_unit
from bot.paths import ctcae_dir

EPILOG = """\
analytes: ANC/NEUT, PLT, Hb/HGB, WBC, LYM, ALT/GPT, AST/GOT, TBIL, ALP, CR/CREA, AMY, LIP, BUN
units:    Hb g/dL, g/L, mmol/L; counts ×10^9/L (x10^9/L, 10^9/L, G/L) or /mm3, /µL;
          enzymes U/L; TBIL and CR µmol/L (umol/L) or mg/dL; BUN mmol/L or mg/dL
ranges:   a report's range in parentheses after the value, e.g. ALT 130 U/L (7-40);
          otherwise the site's reference ranges (rules/<trial>/reference_ranges.yaml)
examples: trialbot grade "ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)"
          trialbot grade "AMY 600 (0-100)" --symptomatic no --json
          trialbot grade --term hepatitis --ae-grade 2
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "grade",
        help="grade a lab panel with CTCAE v5.0 (or look up an adverse-event term)",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "panel", nargs="?", help='lab panel, e.g. "ANC 0.4 PLT 62 ALT 130 U/L (7-40)"'
    )
    parser.add_argument(
        "--baseline", metavar="PANEL", help="the patient's baseline values, same format"
    )
    parser.add_argument(
        "--symptomatic",
        choices=("yes", "no"),
        help="signs or symptoms present (amylase/lipase grades 2-4 depend on it)",
    )
    parser.add_argument(
        "--site", help="site whose reference ranges apply (default: the trial default)"
    )
    parser.add_argument("--term", help="match an adverse-event term instead of grading labs")
    parser.add_argument(
        "--ae-grade", type=int, metavar="N", help="with --term: the grade to explain (0-5)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    _, root = configured_rules()
    ctcae = load_ctcae(directory=ctcae_dir(root=root))
    if args.term is not None:
        if args.panel or args.baseline or args.symptomatic:
            raise UserError("give either a lab panel or --term, not both", field="--term")
        return _term(ctcae, args)
    if args.ae_grade is not None:
        raise UserError("--ae-grade goes with --term", field="--ae-grade")
    if not args.panel:
        raise UserError(
            "no lab panel given", field="panel", allowed='e.g. trialbot grade "ANC 0.4 PLT 62"'
        )
    trial = load_configured_trial()
    ranges = trial.get("reference_ranges.yaml").for_site(args.site)
    values = parse_panel(args.panel, ranges)
    baseline = parse_panel(args.baseline, ranges) if args.baseline else []
    extra = sorted({b.analyte for b in baseline} - {v.analyte for v in values})
    if extra:
        names = ", ".join(ANALYTES[code].label for code in extra)
        raise UserError(f"the baseline has {names}, which the panel does not", field="--baseline")
    symptomatic = None if args.symptomatic is None else args.symptomatic == "yes"
    results = grade_panel(ctcae, values, baseline, symptomatic)
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in results]}, ensure_ascii=False))
    else:
        for result in results:
            print(_line(result))
    return 0


def _line(result: LabGrade) -> str:
    analyte = ANALYTES[result.analyte]
    value = f"{analyte.label} {plain(result.value)} {display_unit(result.unit)}"
    graded_against_uln = not analyte.is_count and analyte.code != "hb"
    if graded_against_uln and result.x_uln is not None:
        value += f" ({plain(result.x_uln)} x ULN)"
    if result.grade is None:
        line = f"{value} — not graded: {result.criterion.removeprefix('Not graded: ')}"
        note = result.note if result.note and result.note not in result.criterion else None
    else:
        applied = result.criterion.removeprefix(f"Grade {result.grade}: ")
        line = f"{value} — {result.term}, grade {result.grade} (CTCAE v{result.ctcae}): {applied}"
        note = result.note
    if note:
        line += f"\n    note: {note}"
    return line


def _term(ctcae, args: argparse.Namespace) -> int:
    match = match_term(ctcae, args.term)
    term = match.term
    if args.ae_grade is not None:
        texts = {args.ae_grade: grade_text(term, args.ae_grade)}
    else:
        texts = {g: grade_text(term, g) for g in term.defined_grades}
    if args.json:
        print(
            json.dumps(
                {"match": match.to_json(), "grades": {str(g): t for g, t in texts.items()}},
                ensure_ascii=False,
            )
        )
        return 0
    how = {"exact": "", "synonym": " (synonym)", "fuzzy": " (same words)"}[match.how]
    print(
        f"{match.entered} → {term.term}{how} — MedDRA {term.meddra_code}, {term.soc} "
        f"(CTCAE v{ctcae.version})"
    )
    if match.note:
        print(f"  note: {match.note}")
    for text in texts.values():
        print(f"  {text}")
    return 0
