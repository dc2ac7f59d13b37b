"""`trialbot audit verify`: re-walk the audit hash chain, check every audited row against
the hash the chain recorded for it, and the projections against a rebuild from the log;
name the first thing that does not hold.

Exit 0 when everything holds, 1 when something does not (where, the field and what does
not match are printed), 2 when the database cannot be opened.
"""

from __future__ import annotations

import argparse
import json

from bot.settings import load_settings

EXIT_BROKEN = 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="the tamper-evident audit trail")
    actions = parser.add_subparsers(
        dest="audit_action", metavar="ACTION", parser_class=type(parser)
    )
    verify = actions.add_parser(
        "verify",
        help="check the audit hash chain, every audited row against it, and the "
        "decision and calendar projections against the log",
    )
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(func=_verify)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _verify(args: argparse.Namespace) -> int:
    from bot.services import build_context
    from bot.services.integrity import verify
    from bot.storage.audit import audit_count

    ctx = build_context(load_settings())
    try:
        with ctx.db.transaction(readonly=True) as session:
            problem = verify(ctx, session)
            rows = audit_count(session)
    finally:
        ctx.db.dispose()
    if problem is None:
        print(
            json.dumps({"intact": True, "rows": rows})
            if args.json
            else f"audit trail intact: {rows} rows"
        )
        return 0
    chain = problem.table == "audit"
    if args.json:
        print(
            json.dumps(
                {
                    "intact": False,
                    "rows": rows,
                    "table": problem.table,
                    "row": int(problem.row) if chain else problem.row,
                    "field": problem.field,
                    "problem": problem.problem,
                },
                ensure_ascii=False,
            )
        )
    elif chain:
        print(f"audit trail BROKEN at row {problem.row} ({problem.field}): {problem.problem}")
    else:
        print(
            f"audit trail BROKEN at {problem.table} {problem.row} ({problem.field}): {problem.problem}"
        )
    return EXIT_BROKEN
