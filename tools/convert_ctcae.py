"""Convert the NCI CTCAE v5.0 Excel file into `rules/ctcae/v5.0/terms.json`.

    python tools/convert_ctcae.py [--xlsx PATH] [--out PATH] [--check]

The source is NCI's `CTCAE_v5.0_2017-11-27.xlsx` (sheet "CTCAE v5.0 Clean Copy", 837
terms); by default it is read from the shared reference folder beside the repository
(`../shared/reference/`). The conversion keeps the NCI text verbatim except for three
normalisations, the same as the reference JSON conversion: surrounding whitespace is
stripped, non-breaking spaces become spaces, and a cell holding only "-" (NCI's "no such
grade") becomes null. `--check` compares instead of writing and exits 1 on any difference,
so a test can prove the shipped file is exactly what this script makes.

Needs openpyxl (in the `test` extra); the bot itself only reads the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_XLSX = REPO.parent / "shared" / "reference" / "CTCAE_v5.0_2017-11-27.xlsx"
DEFAULT_OUT = REPO / "rules" / "ctcae" / "v5.0" / "terms.json"
SHEET = "CTCAE v5.0 Clean Copy"
HEADER = (
    "MedDRA Code",
    "MedDRA SOC",
    "CTCAE Term",
    "Grade 1",
    "Grade 2",
    "Grade 3",
    "Grade 4",
    "Grade 5",
    "Definition",
    "Navigational Note",
    "CTCAE v5.0 Change",
)
EXPECTED_TERMS = 837


class ConversionError(Exception):
    pass


def _clean(cell: object) -> str | None:
    if cell is None:
        return None
    text = str(cell).replace("\xa0", " ").strip()
    # NCI writes "-" where a grade (or a definition) does not exist.
    return None if text in ("", "-") else text


def read_terms(xlsx: Path) -> list[dict]:
    import openpyxl

    workbook = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
    if SHEET not in workbook.sheetnames:
        raise ConversionError(f"{xlsx.name}: no sheet {SHEET!r} (found {workbook.sheetnames})")
    rows = workbook[SHEET].iter_rows(values_only=True)
    header = tuple(_clean(c) for c in next(rows))
    if header != HEADER:
        raise ConversionError(f"{xlsx.name}: unexpected header {header}")
    terms = []
    for number, row in enumerate(rows, start=2):
        if all(c is None for c in row):
            continue
        code, soc, term, *grades, definition, note, change = row[: len(HEADER)]
        if not isinstance(code, int) or _clean(term) is None or _clean(soc) is None:
            raise ConversionError(f"{xlsx.name}: row {number} has no MedDRA code, SOC or term")
        terms.append(
            {
                "meddra_code": code,
                "soc": _clean(soc),
                "term": _clean(term),
                "grades": {str(g): _clean(text) for g, text in enumerate(grades, start=1)},
                "definition": _clean(definition),
                "navigational_note": _clean(note),
                "v5_change": _clean(change),
            }
        )
    if len(terms) != EXPECTED_TERMS:
        raise ConversionError(f"{xlsx.name}: {len(terms)} terms, expected {EXPECTED_TERMS}")
    return terms


def build_document(xlsx: Path) -> dict:
    digest = hashlib.sha256(xlsx.read_bytes()).hexdigest()
    return {
        "ctcae_version": "5.0",
        "source": {
            "file": xlsx.name,
            "sheet": SHEET,
            "sha256": digest,
            "publisher": "U.S. National Cancer Institute (NCI), CTCAE v5.0, November 27, 2017",
            "converted_by": "tools/convert_ctcae.py",
        },
        "term_count": EXPECTED_TERMS,
        "terms": read_terms(xlsx),
    }


def render(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xlsx", type=Path, default=DEFAULT_XLSX, help="NCI CTCAE v5.0 xlsx")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="terms.json to write")
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with --out instead of writing; exit 1 if it differs",
    )
    args = parser.parse_args(argv)
    if not args.xlsx.is_file():
        print(f"error: {args.xlsx} not found (pass --xlsx)", file=sys.stderr)
        return 2
    try:
        text = render(build_document(args.xlsx))
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(
                f"{args.out} differs from a fresh conversion of {args.xlsx.name}", file=sys.stderr
            )
            return 1
        print(f"{args.out}: up to date ({EXPECTED_TERMS} terms)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({EXPECTED_TERMS} terms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
