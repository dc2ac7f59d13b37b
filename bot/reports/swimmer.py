"""The swimmer plot: one bar per patient from day 1, coloured by phase, with what happened.

`lane_of` is pure: it turns one patient's effective history and calendar rows into a
`Lane` (phase segments and markers, in days from day 1). `render_png` draws the lanes with
matplotlib (Agg, no display). The data and the picture are tested separately: the lanes
against the log, the image by rendering it.

Markers: holds and reductions standing in the log (proposed or confirmed, not overridden
or withdrawn), discontinuations, grade ≥ 3 entries (adverse events, and lab panels with a
grade ≥ 3 value), RECIST responses, progression (PD). A patient still on treatment (not
discontinued, no progression, treatment still planned after today) ends in an arrow.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.decisions.state import proposals_in_effect
from bot.events import AdverseEvent, Event, ResponseAssessment, chronological

# The phases come from the trial's schedule (`phases_of`): its treatment phases in order,
# coloured from this palette, then the phase after treatment (follow-up), in grey.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22")
TAIL_COLOUR = "#c7c7c7"


@dataclass(frozen=True)
class Phases:
    """The phases a bar is made of: the treatment phases in order, and the phase that
    follows treatment (drawn only once treatment is over), if the schedule has one."""

    treatment: tuple[str, ...]
    tail: str | None = None

    @property
    def all(self) -> tuple[str, ...]:
        return self.treatment + ((self.tail,) if self.tail else ())

    def colour(self, phase: str) -> str:
        if phase == self.tail:
            return TAIL_COLOUR
        return PALETTE[self.treatment.index(phase) % len(PALETTE)]


def phase_label(phase: str) -> str:
    """A legend's name for a phase id: a short id is an acronym ("ccrt" → "CCRT"), a
    longer one a word ("follow_up" → "Follow-up")."""
    return phase.upper() if len(phase) <= 4 else phase.replace("_", "-").capitalize()


def phases_of(schedule) -> Phases:
    """The schedule's phases that hold a treatment series (infusion, radiotherapy,
    brachytherapy), in the schedule's order, and its last phase as the tail when it holds
    none (follow-up)."""
    treated = {s.phase for s in schedule.series if s.kind in TREATMENT_KINDS}
    ordered = [p.id for p in schedule.phases]
    treatment = tuple(p for p in ordered if p in treated)
    tail = ordered[-1] if ordered and ordered[-1] not in treated else None
    return Phases(treatment, tail)


TREATMENT_KINDS = ("radiotherapy", "brachytherapy", "infusion")
NOT_HAPPENING = ("held", "skipped", "cancelled")
MARKERS = {
    # kind: (matplotlib marker, colour, legend label)
    "hold": ("|", "#d62728", "hold"),
    "reduce": ("v", "#9467bd", "dose reduced"),
    "discontinue": ("X", "#000000", "discontinued"),
    "grade3": ("*", "#e377c2", "grade ≥ 3"),
    "response": ("o", "#17becf", "response (CR/PR/SD)"),
    "progression": ("D", "#8c564b", "progression (PD)"),
}


@dataclass(frozen=True)
class Marker:
    day: int  # days from day 1
    kind: str  # a key of MARKERS
    label: str  # e.g. a drug id, "PR", "Pneumonitis G3"


@dataclass(frozen=True)
class Lane:
    study_id: str
    length: int  # days on study shown (day 1 → today, or → the last day of treatment)
    segments: tuple[tuple[str, int, int], ...]  # (phase, first day, last day), days from day 1
    markers: tuple[Marker, ...] = field(default_factory=tuple)
    ongoing: bool = False


def lane_of(
    study_id: str,
    day1: date,
    history: Sequence[Event],
    calendar_rows: Iterable[Mapping[str, Any]],
    today: date,
    *,
    phases: Phases,
    high_grade_labs: Iterable[tuple[date, str]] = (),
) -> Lane:
    """One patient's lane. `calendar_rows` are the stored rows (`date`, `kind`, `phase`,
    `status`); `high_grade_labs` the (date, label) of lab values graded ≥ 3."""
    markers: list[Marker] = []

    def at(day: date) -> int:
        return (day - day1).days

    for proposal, _confirmed in proposals_in_effect(history):
        if proposal.action in ("hold", "reduce", "discontinue"):
            markers.append(Marker(at(proposal.date), proposal.action, proposal.drug))
    progressed: date | None = None
    for event in chronological(history):
        if isinstance(event, AdverseEvent) and event.grade >= 3:
            markers.append(Marker(at(event.date), "grade3", f"{event.term} G{event.grade}"))
        elif isinstance(event, ResponseAssessment):
            if event.category == "PD":
                progressed = progressed or event.date
                markers.append(Marker(at(event.date), "progression", "PD"))
            elif event.category != "NE":
                markers.append(Marker(at(event.date), "response", event.category))
    for day, label in high_grade_labs:
        markers.append(Marker(at(day), "grade3", label))

    spans: dict[str, list[date]] = {}
    last_treatment: date | None = None
    for row in calendar_rows:
        day = row["date"] if isinstance(row["date"], date) else date.fromisoformat(row["date"])
        if row["phase"] not in phases.all or row["status"] in NOT_HAPPENING or day < day1:
            continue
        spans.setdefault(row["phase"], []).append(day)
        if row["kind"] in TREATMENT_KINDS:
            last_treatment = max(last_treatment or day, day)
    end = min(today, progressed) if progressed else today
    segments: list[tuple[str, int, int]] = []
    for phase in phases.treatment:
        days = spans.get(phase)
        if not days or min(days) > end:
            continue
        segments.append((phase, at(min(days)), at(min(max(days), end))))
    # A phase lasts until the next one begins (maintenance starts six weeks after the last
    # consolidation dose: that interval belongs to consolidation, not to nothing).
    segments = [
        (phase, first, max(last, segments[i + 1][1] - 1) if i + 1 < len(segments) else last)
        for i, (phase, first, last) in enumerate(segments)
    ]
    # Follow-up visits start during maintenance (efficacy every 3 months); the bar shows
    # follow-up only once treatment is over.
    follow_up = spans.get(phases.tail) if phases.tail else None
    if phases.tail and follow_up:
        first = max(at(min(follow_up)), max((s[2] + 1 for s in segments), default=0))
        if first <= at(end):
            segments.append((phases.tail, first, at(end)))
    # A discontinued or finished course has no treatment left in the calendar.
    ongoing = progressed is None and last_treatment is not None and last_treatment > today
    markers.sort(key=lambda m: (m.day, m.kind, m.label))
    return Lane(
        study_id=study_id,
        length=max(at(end), 0),
        segments=tuple(segments),
        markers=tuple(m for m in markers if 0 <= m.day <= max(at(end), 0)),
        ongoing=ongoing,
    )


def sorted_lanes(lanes: Iterable[Lane]) -> list[Lane]:
    """Longest time on study at the top (matplotlib draws the first lane at the bottom)."""
    return sorted(lanes, key=lambda lane: (lane.length, lane.study_id))


def render_png(
    lanes: Sequence[Lane], *, title: str, today: date, phases: Phases, day1: str = "day 1"
) -> bytes:
    """The plot as PNG bytes, sized for Slack's preview (readable at ~800 px wide)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ordered = sorted_lanes(lanes)
    height = max(2.6, 0.34 * len(ordered) + 1.6)
    figure, axes = plt.subplots(figsize=(10, height), dpi=100)
    try:
        for y, lane in enumerate(ordered):
            for phase, first, last in lane.segments:
                axes.barh(
                    y,
                    last - first + 1,
                    left=first,
                    height=0.55,
                    color=phases.colour(phase),
                    edgecolor="none",
                )
            for marker in lane.markers:
                shape, colour, _label = MARKERS[marker.kind]
                axes.plot(marker.day, y, marker=shape, color=colour, markersize=9, linestyle="")
            if lane.ongoing:
                axes.annotate(
                    "",
                    xy=(lane.length + 14, y),
                    xytext=(lane.length, y),
                    arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.5},
                )
        axes.set_yticks(range(len(ordered)), [lane.study_id for lane in ordered])
        axes.set_xlabel(f"days from {day1}")
        axes.set_title(f"{title} — as of {today.isoformat()}")
        axes.set_xlim(left=0)
        axes.grid(axis="x", linestyle=":", alpha=0.5)
        legend = [Patch(color=phases.colour(p), label=phase_label(p)) for p in phases.all]
        legend += [
            Line2D([], [], marker=shape, color=colour, linestyle="", label=label, markersize=8)
            for shape, colour, label in MARKERS.values()
        ]
        legend.append(Line2D([], [], marker=">", color="#333333", linestyle="", label="ongoing"))
        axes.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)
