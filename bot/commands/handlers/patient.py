"""`patient`: one patient at a glance — plan, state per drug, open decisions, recent entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.commands.views import entry_text, state_view

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = "patient {study_id} [recent=10]"


def patient(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import queries

    args.only(("recent",))
    study_id = args.study_id()
    args.done(USAGE)
    recent = args.whole("recent", low=1, high=200)
    outcome = queries.patient(ctx, request, study_id, recent=recent or 10)
    data = outcome.data
    entries = [
        {
            **entry,
            "text": entry_text(entry["kind"], entry["payload"]),
        }
        for entry in data["recent"]
    ]
    reply = Reply.of(
        "replies/patient.j2",
        outcome,
        study_id=outcome.study_id,
        plan=data["plan"],
        summary=data["summary"],
        states=[state_view(s) for s in data["state"]],
        entries=entries,
        today=data["today"],
        stage_system=ctx.rules.stage_system_name,
    )
    return reply


COMMANDS = (
    Command(
        name="patient",
        usage=USAGE,
        summary="a patient at a glance: plan, state per drug, open decisions, recent entries",
        help=(
            "The plan (day 1, fractions, body size, stage), each drug's state today (active, "
            "reduced to N%, held since, discontinued — marked 'awaiting confirmation' until "
            "an investigator confirms the decision behind it) and its next dose, the "
            "decisions still open, and the latest entries with their ids (E…) — the ids "
            "`correct`, `void` and `attribute` take."
        ),
        role="viewer",
        group="read",
        handler=patient,
        examples=("patient {study_id}", "patient {study_id} recent=30"),
    ),
)
