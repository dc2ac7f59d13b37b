"""The site laboratory's reference ranges (`rules/<trial>/reference_ranges.yaml`).

CTCAE grades many lab values against the lower or upper limit of normal (LLN, ULN) of the
laboratory that measured them. A report usually prints its range next to the value; when
it does not, the site's ranges from this file apply. The file also sets the unit a bare
number is read in (`Hb 9.1` is g/dL when the site says so).

The protocol has no reference ranges of its own: every value here is a site setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from bot.errors import RulesError, RulesProblem, UserError, closest
from bot.grading.analytes import ANALYTES, Analyte, plain
from bot.grading.validation import Problem, raise_problems
from bot.rulefile import problems_from_validation, read_yaml
from bot.strict import StrictModel


class _Strict(StrictModel):
    """No unknown keys: a typo is named with the closest valid key (bot.strict)."""


class AnalyteRange(_Strict):
    unit: str = Field(description="unit of lln/uln, and the unit a bare number is read in")
    lln: Decimal | None = Field(default=None, ge=0)
    uln: Decimal | None = Field(default=None, gt=0)
    source: str | None = None


class SiteRanges(_Strict):
    label: str = Field(min_length=1)
    analytes: dict[str, AnalyteRange] = Field(default_factory=dict)


class ReferenceRangesFile(_Strict):
    citation: str = Field(min_length=1)
    default_site: str
    sites: dict[str, SiteRanges]

    @model_validator(mode="after")
    def _check(self) -> ReferenceRangesFile:
        problems: list[Problem] = []
        if self.default_site not in self.sites:
            hint = closest(self.default_site, self.sites)
            reason = (
                "is not one of the sites"
                + (f" — did you mean {hint!r}?" if hint else "")
                + f" ({', '.join(self.sites)})"
            )
            problems.append((("default_site",), reason, self.default_site))
        else:
            default = self.sites[self.default_site].analytes
            missing = [c for c in ANALYTES if c not in default]
            if missing:
                reason = f"the default site must give every analyte; missing {', '.join(missing)}"
                problems.append((("sites", self.default_site, "analytes"), reason, None))
        for site_id, site in self.sites.items():
            for code, limits in site.analytes.items():
                loc = ("sites", site_id, "analytes", code)
                problems.extend((loc, reason, None) for reason in _range_problems(code, limits))
        raise_problems(type(self).__name__, problems)
        return self

    def for_site(self, site: str | None = None) -> ReferenceRanges:
        """The ranges of `site` (its own entries over the default site's), or a UserError."""
        site_id = site or self.default_site
        if site_id not in self.sites:
            raise UserError(
                f"unknown site {site_id!r} for reference ranges",
                field="site",
                allowed=", ".join(self.sites),
                suggestion=closest(site_id, self.sites),
            )
        merged = dict(self.sites[self.default_site].analytes)
        merged.update(self.sites[site_id].analytes)
        return ReferenceRanges(
            site=site_id, limits={c: SiteLimit.of(c, r) for c, r in merged.items()}
        )


def _range_problems(code: str, limits: AnalyteRange) -> list[str]:
    analyte = ANALYTES.get(code)
    if analyte is None:
        hint = closest(code, ANALYTES)
        guess = f" — did you mean {hint!r}?" if hint else ""
        return [f"unknown analyte {code!r}{guess} (allowed: {', '.join(ANALYTES)})"]
    unit = analyte.unit_for(limits.unit)
    if unit is None:
        return [
            f"unit {limits.unit!r} does not fit {analyte.label} "
            f"(allowed: {', '.join(analyte.units)})"
        ]
    problems = []
    if limits.lln is not None and limits.uln is not None and limits.lln >= limits.uln:
        problems.append(f"lln {limits.lln} must be below uln {limits.uln}")
    for which, value, band in (
        ("lln", limits.lln, analyte.lln_band),
        ("uln", limits.uln, analyte.uln_band),
    ):
        if value is None:
            continue
        canonical = analyte.to_canonical(value, unit)
        if not band[0] <= canonical <= band[1]:
            problems.append(
                f"{which} {value} {unit} is not a plausible {analyte.label} reference limit "
                f"({plain(band[0])}–{plain(band[1])} {analyte.canonical_unit}); is the unit right?"
            )
    return problems


@dataclass(frozen=True)
class SiteLimit:
    """One analyte's site range, in the canonical unit, and the unit bare numbers are read in."""

    default_unit: str
    lln: Decimal | None
    uln: Decimal | None

    @classmethod
    def of(cls, code: str, limits: AnalyteRange) -> SiteLimit:
        analyte: Analyte = ANALYTES[code]
        unit = analyte.unit_for(limits.unit) or analyte.canonical_unit
        return cls(
            default_unit=unit,
            lln=None if limits.lln is None else analyte.to_canonical(limits.lln, unit),
            uln=None if limits.uln is None else analyte.to_canonical(limits.uln, unit),
        )


@dataclass(frozen=True)
class ReferenceRanges:
    """A site's resolved ranges: what `parse_panel` reads bare numbers and missing ranges from."""

    site: str
    limits: Mapping[str, SiteLimit]

    def default_unit(self, code: str) -> str:
        limit = self.limits.get(code)
        return limit.default_unit if limit else ANALYTES[code].canonical_unit

    def get(self, code: str) -> SiteLimit | None:
        return self.limits.get(code)


NO_RANGES = ReferenceRanges(site="none", limits={})


def load_reference_ranges(path: Path | str) -> ReferenceRangesFile:
    """Read one reference_ranges.yaml on its own (the trial loader does this for a whole trial)."""
    path = Path(path)
    data, problems = read_yaml(path, path.name)
    if problems:
        raise RulesError(problems)
    try:
        return ReferenceRangesFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise RulesError(problems_from_validation(path.name, exc)) from None


def check_sites_exist(trial) -> list[RulesProblem]:
    """Each site of reference_ranges.yaml is a site of sites.yaml: a misspelt site id
    would leave that site silently on the default site's ranges."""

    ranges: ReferenceRangesFile = trial.get("reference_ranges.yaml")
    known = trial.get("sites.yaml").own_site_ids()  # a built-in calendar has no laboratory
    problems = []
    for site_id in ranges.sites:
        if site_id in known:
            continue
        field = f"sites.{site_id}"
        hint = closest(site_id, known)
        problems.append(
            RulesProblem(
                f"{trial.name}/reference_ranges.yaml",
                field,
                f"'{site_id}' is not a site of sites.yaml"
                + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; allowed: {', '.join(known)}",
            )
        )
    return problems
