"""What the command language shows of the services without importing them: option names,
page sizes and roles its help texts and parsers read at import time. The services import
these from here too, so there is one value (start-up: `help` loads no database layer)."""

from __future__ import annotations

# The enrolment fields a correction may change, as the command language names them.
PLAN_FIELDS = (
    "start",
    "fractions",
    "boost",
    "height",
    "weight",
    "bsa",
    "stage",
    "ecog",
    "age",
    "diagnosed",
)
PAGE_PATIENTS = 10  # patients per page of `today`/`week`: a Slack message or two
# Files (bot.services.files): the tables of bot.services.exports, and the calendar.
EXPORT_TABLES = ("events", "labs", "aes", "doses", "decisions")
EXPORTS = (*EXPORT_TABLES, "ics")
FORMATS = ("csv",)
FILE_ROLE = "coordinator"
