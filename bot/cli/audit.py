"""`trialbot audit verify`: re-walk the audit hash chain and name the first broken row.

Exit 0 when the trail is intact, 1 when a row does not hold (its id, the field and what
does not match are printed), 2 when the database cannot be opened.
"""

from __future__ import annotations

import argparse
import json

from bot.settings import load_settings
from bot.storage.audit import audit_count, verify_chain
from bot.storage.database import Database

EXIT_BROKEN = 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="the tamper-evident audit trail")
    actions = parser.add_subparsers(
        dest="audit_action", metavar="ACTION", parser_class=type(parser)
    )
    verify = actions.add_parser("verify", help="check every row of the audit hash chain")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(func=_verify)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _verify(args: argparse.Namespace) -> int:
    database = Database.open(load_settings().database_url)
    try:
        with database.transaction(readonly=True) as session:
            broken = verify_chain(session)
            rows = audit_count(session)
    finally:
        database.dispose()
    if broken is None:
        print(
            json.dumps({"intact": True, "rows": rows})
            if args.json
            else f"audit trail intact: {rows} rows"
        )
        return 0
    if args.json:
        print(
            json.dumps(
                {
                    "intact": False,
                    "rows": rows,
                    "row": broken.row_id,
                    "field": broken.field,
                    "problem": broken.problem,
                }
            )
        )
    else:
        print(f"audit trail BROKEN at row {broken.row_id} ({broken.field}): {broken.problem}")
    return EXIT_BROKEN
