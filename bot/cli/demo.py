"""`trialbot demo`: a simulated trial on the console — cohort, scheduler, digests, alerts,
escalation — on a fresh SQLite file, with no Slack and no network.

A synthetic cohort (`bot.demo.cohort`, deterministic from `--seed`) runs through the
real services and the real scheduler tick on a simulated clock, day by day
(`bot.demo.runner`); every post is printed as the console transport prints it. The
database is a temporary file removed at the end, unless `--db PATH` keeps it (then the
`trialbot chat` command that explores it is printed). The summary at the end is read
from the event log (`bot.services.summary`).
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.errors import UserError

MAX_DAYS = 400
MAX_PATIENTS = 60


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="a simulated trial on the console: cohort, scheduler, digests, alerts (no Slack)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--seed", default="1", help="the cohort's random seed (default 1)")
    parser.add_argument(
        "--days",
        default="183",
        help=f"days of trial time to simulate (default 183, at most {MAX_DAYS})",
    )
    parser.add_argument(
        "--patients",
        default="12",
        help=f"patients in the cohort (default 12, at most {MAX_PATIENTS})",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="only the progress bar and the summary"
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="keep the database in this new SQLite file, to explore with trialbot chat",
    )
    parser.set_defaults(func=_run)


def _whole(text: str, field: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserError(
            f"{text!r} is not a whole number", field=field, allowed=f"{low}–{high}"
        ) from None
    if not low <= value <= high:
        raise UserError(f"{value} is out of range", field=field, allowed=f"{low}–{high}")
    return value


def _database_path(text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text).expanduser()
    if not path.name or path.is_dir():
        raise UserError(f"{text!r} is a directory", field="--db", allowed="a new file's path")
    for suffix in ("", "-wal", "-shm", "-journal"):
        if Path(f"{path}{suffix}").exists():
            raise UserError(
                f"{Path(f'{path}{suffix}')} already exists; the demo writes a fresh database",
                field="--db",
                allowed="a path where no file is (remove the old demo database first)",
            )
    if not path.parent.resolve().is_dir():
        raise UserError(
            f"the folder {path.parent} does not exist", field="--db", allowed="a path in a folder"
        )
    return path.resolve()


def _run(args: argparse.Namespace) -> int:
    seed = _whole(args.seed, "--seed", 0, 2**31 - 1)
    days = _whole(args.days, "--days", 1, MAX_DAYS)
    patients = _whole(args.patients, "--patients", 1, MAX_PATIENTS)
    kept = _database_path(args.db)
    if kept is not None:
        return _simulate(kept, seed=seed, days=days, patients=patients, quiet=args.quiet, keep=True)
    with tempfile.TemporaryDirectory(prefix="trialbot-demo-") as folder:
        path = Path(folder) / "demo.db"
        return _simulate(
            path, seed=seed, days=days, patients=patients, quiet=args.quiet, keep=False
        )


def _simulate(path: Path, *, seed: int, days: int, patients: int, quiet: bool, keep: bool) -> int:
    from bot.clock import FixedClock
    from bot.demo.cohort import build_cohort
    from bot.demo.runner import Runner, holiday_day1
    from bot.demo.show import DemoShow
    from bot.services import Request, build_context
    from bot.services.summary import trial_summary
    from bot.settings import load_settings
    from bot.transports.console import TextPrinter, log_to_stderr

    log_to_stderr()
    cohort = build_cohort(seed, patients, days=days)
    # The demo's own database, admins and clock: whatever TRIALBOT_DATABASE_URL,
    # TRIALBOT_ADMINS and TRIALBOT_NOW say, the demo never touches the real trial's data.
    settings = load_settings(database_url=f"sqlite:///{path}", admins=(), now=None)
    clock = FixedClock(datetime.combine(cohort.start, time(0, 0), UTC))
    ctx = build_context(settings, clock=clock)
    # the patients numbered as the trial's sites number them, and the holiday patient
    # started so that the site's own holidays move a phase of its treatment
    cohort = build_cohort(
        seed,
        patients,
        days=days,
        id_example=ctx.rules.study_id_example,
        holiday_day1=holiday_day1(ctx, cohort.start),
    )
    printer = TextPrinter()
    show = DemoShow(printer, ctx.renderer, quiet=quiet)
    try:
        zone = ZoneInfo(ctx.rules.sites.config(ctx.default_site).timezone)
        show.intro(
            f"trialbot demo — {patients} patients of {ctx.rules.schedule.trial} over {days} days from "
            f"{cohort.start:%a %d %b %Y} (seed {seed}), on "
            + (f"{path}" if keep else "a temporary SQLite file")
            + "; console transport, no Slack"
        )
        runner = Runner(ctx, clock, cohort, show)
        admin = Request(user=settings.user, source="demo", console=True)
        with show.progress(days) as advance:
            runner.run(admin, progress=advance)
        last = cohort.end
        summary = trial_summary(ctx, on=last)
        show.summary(ctx.renderer.render("demo/summary.j2", summary=summary))
        if keep:
            end = datetime.combine(last, time(18, 0), zone) + timedelta(minutes=1)
            url = f"sqlite:///{path}"
            show.intro(
                "\nThe database is kept. Explore it (the clock pinned at the demo's last "
                "evening):\n  "
                f"TRIALBOT_DATABASE_URL={shlex.quote(url)} "
                f"TRIALBOT_NOW={end.isoformat(timespec='minutes')} trialbot chat"
            )
        return 0
    finally:
        ctx.db.dispose()
