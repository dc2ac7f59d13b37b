"""The caches one process shares between threads (Bolt's listeners, the scheduler): the
findings memo and the site calendars give, under concurrent calls, exactly the answers
of sequential calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta

from bot.calendar import SiteCalendar
from bot.decisions import FindingsMemo, decide

THREADS = 8


def _stories(io_story):
    """Several histories (lab panels and adverse events) and a new entry for each."""
    cases = []
    for n in range(12):
        io_story.history = []
        for day in range(0, 60 + 5 * n, 7):
            io_story.record(io_story.lab(day, f"ALT {40 + 15 * ((day + n) % 9)} U/L (7-40)"))
        io_story.record(io_story.ae(70 + n, "Colitis", 1 + n % 3, irae=n % 2 == 0))
        new = io_story.lab(90 + n, f"ALT {60 + 10 * n} U/L (7-40)", irae=True)
        cases.append((list(io_story.history), new))
    return cases


def test_a_shared_findings_memo_answers_concurrent_calls_like_sequential_ones(io_story):
    cases = _stories(io_story) * 4
    sequential = [decide(io_story.context(), history, new) for history, new in cases]
    # a small memo fills up and starts again while other threads read and write it
    for memo in (FindingsMemo(), FindingsMemo(max_events=7)):
        context = replace(io_story.context(), memo=memo)
        with ThreadPoolExecutor(THREADS) as pool:
            concurrent = list(pool.map(lambda case, context=context: decide(context, *case), cases))
        assert concurrent == sequential


def test_a_shared_site_calendar_answers_concurrent_calls_like_sequential_ones(trial):
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(0, 3650, 3)]
    years = sorted({d.year for d in days})

    def answers(calendar: SiteCalendar, year: int) -> list:
        mine = [d for d in days if d.year == year]
        return [
            (calendar.is_treatment_day(d), calendar.closure_reason(d), calendar.is_provisional(d))
            for d in mine
        ]

    config = trial.get("sites.yaml").config(None)
    sequential = [answers(SiteCalendar(config), year) for year in years]
    shared = SiteCalendar(config)  # cold: every year is computed while others ask
    with ThreadPoolExecutor(THREADS) as pool:
        concurrent = list(pool.map(lambda year: answers(shared, year), years * 2))
    assert concurrent == sequential * 2
