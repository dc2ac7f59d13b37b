"""`help [topic]`: every subcommand with its usage line, or one subcommand in full."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import GROUPS, Command, build_registry
from bot.commands.reply import Reply
from bot.errors import UserError, closest

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

# Topics that are not subcommands.
ROLES_TOPIC = "roles"


def help_(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services.who import whoami

    args.only(())
    registry = build_registry()
    if not args.words:
        groups = []
        for key, title in GROUPS.items():
            commands = [c.for_trial(ctx) for c in registry if c.group == key]
            if commands:
                groups.append({"title": title, "commands": commands})
        who = whoami(ctx, request)
        return Reply.of("replies/help.j2", groups=groups, who=who, trial=ctx.rules.schedule.trial)
    topic = args.words.pop(0)
    args.done("help [subcommand]")
    if topic.lower() == ROLES_TOPIC:
        return Reply.of("replies/help_roles.j2", commands=[c.for_trial(ctx) for c in registry])
    command = registry.find(topic)
    if command is None:
        topics = [*registry.names(), ROLES_TOPIC]
        guess = closest(topic, topics)
        raise UserError(
            f"no help on '{topic}'",
            field="topic",
            suggestion=f"'help {guess}'" if guess else None,
            allowed=", ".join(topics),
        )
    return _topic(ctx, command)


def _topic(ctx: ServiceContext, command: Command) -> Reply:
    command = command.for_trial(ctx)
    details = command.details(ctx) if command.details is not None else {}
    return Reply.of(
        "replies/help_topic.j2",
        command=command,
        details=details,
        details_template=command.details_template,
    )


COMMANDS = (
    Command(
        name="help",
        usage="help [subcommand]",
        summary="this overview, or one subcommand in full (`help lab`, `help roles`)",
        help=(
            "Without a topic: every subcommand with its usage line. With one: what it does, "
            "its options, the role it needs and examples. `help roles` says who may do what."
        ),
        role="anyone",
        group="help",
        handler=help_,
        examples=("help", "help lab", "help roles"),
        aliases=("?",),
    ),
)
