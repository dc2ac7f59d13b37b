"""Calendar arithmetic the schedule needs: months that clamp, weeks that start on Monday."""

from __future__ import annotations

import calendar as _gregorian
import re
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months; the 31st of a shorter month clamps to its last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = _gregorian.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def week_start(day: date) -> date:
    """The Monday of the calendar week (Mon–Sun) holding `day`."""
    return day - timedelta(days=day.weekday())


def week_end(day: date) -> date:
    """The Sunday of the calendar week holding `day`."""
    return day + timedelta(days=6 - day.weekday())


def next_week_start(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(text: str) -> date | None:
    """A calendar date written YYYY-MM-DD, or None when `text` is not one."""
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
