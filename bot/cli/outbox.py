"""`trialbot outbox`: what is still to be delivered, and what could not be.

    trialbot outbox [--failed] [--json]

Pending and in-flight messages and undeliverable (dead) ones, with their attempts and last
error; `--failed` only those that failed at least once or are dead.
"""

from __future__ import annotations

import argparse
import json

from bot.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "outbox",
        help="list pending, failed and undeliverable messages",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--failed", action="store_true", help="only failed or undeliverable ones")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=_run)


def _row(message) -> dict:
    return {
        "id": message.id,
        "status": message.status,
        "kind": message.kind,
        "target": message.target,
        "key": message.dedupe_key,
        "attempts": message.attempts,
        "not_before": message.not_before.isoformat(),
        "lease_owner": message.lease_owner if message.status == "sending" else None,
        "last_error": message.last_error,
        "created_at": message.created_at.isoformat(),
    }


def _run(args: argparse.Namespace) -> int:
    from bot.storage.database import Database
    from bot.storage.outbox import undelivered

    settings = load_settings()
    db = Database.open(settings.database_url)
    try:
        with db.transaction(readonly=True) as session:
            rows = [_row(m) for m in undelivered(session, failed_only=args.failed)]
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("nothing failed" if args.failed else "the outbox is empty: everything was delivered")
        return 0
    for row in rows:
        error = f" — {row['last_error']}" if row["last_error"] else ""
        print(
            f"#{row['id']} {row['status']:<8} {row['kind']:<15} → {row['target']:<14} "
            f"attempts {row['attempts']}, next {row['not_before'][:16]} · {row['key']}{error}"
        )
    return 0
