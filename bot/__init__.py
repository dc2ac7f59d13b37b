"""trialbot: the day-to-day of an oncology clinical trial, as a Slack bot and a scheduler.

The pure core (calendar, grading, decisions, eligibility) lives in sub-packages that take
data and "today" as arguments; the services, storage and transports wrap it.
"""

__version__ = "0.1.0"
