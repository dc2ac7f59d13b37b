"""Screening a candidate against the trial's eligibility criteria. Records nothing.

The role, the site (a `site=` answer that is not a criterion of its own) and the site's
reference ranges are settled here; the eligibility core judges the answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.eligibility import ScreenResult
from bot.eligibility import screen as screen_answers
from bot.errors import UserError, closest
from bot.services.access import require_role
from bot.services.context import Request, ServiceContext


def screen(ctx: ServiceContext, request: Request, answers: Mapping[str, str]) -> ScreenResult:
    """Judge `answers` (criterion key → text as typed); `site=` picks the reference ranges
    lab answers are read with, unless the rules have a criterion of that name."""
    require_role(ctx, request, "viewer", "screening a candidate")
    rules = ctx.rules.eligibility
    answers = dict(answers)
    site = None
    if "site" in answers and "site" not in rules.by_name():
        site = answers.pop("site")
    if not answers:
        raise UserError(
            "no answers given",
            field="answers",
            allowed="key=value answers; `help screen` lists the keys",
        )
    return screen_answers(answers, rules, ctx.rules.ranges.for_site(_ranges_site(ctx, site)))


def _ranges_site(ctx: ServiceContext, site: str | None) -> str | None:
    """The site whose reference ranges apply: a known calendar site without ranges of its
    own reads with the default's (None)."""
    if site is None:
        return None
    known = [config.id for config in ctx.rules.sites.sites]
    wanted = site.strip().lower()
    if wanted not in known:
        raise UserError(
            f"unknown site '{site}'",
            field="site",
            allowed=", ".join(known),
            suggestion=closest(site, known),
        )
    return wanted if wanted in ctx.rules.ranges.sites else None
