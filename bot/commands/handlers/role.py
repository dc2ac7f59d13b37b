"""`role` (admins set a member's role, site and on-call flag) and `whoami`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

ROLE_USAGE = "role U0123ABCD admin|investigator|coordinator|viewer [site=main] [oncall=yes|no]"
WHOAMI_USAGE = "whoami"


def role(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import members

    args.only(("site", "oncall"))
    user = args.word(
        "user", "whose role", "a Slack user id such as U0123ABCD, or an @mention", ascii=False
    )
    wanted = args.word("role", "which role", ", ".join(members.ROLES))
    args.done(ROLE_USAGE)
    outcome = members.set_role(
        ctx,
        request,
        user,
        wanted,
        site=args.text("site", allowed="a site id, e.g. main"),
        on_call=args.yes_no("oncall"),
    )
    return Reply.of("replies/role.j2", outcome, member=outcome.data)


def whoami(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import queries

    args.only(())
    args.done(WHOAMI_USAGE)
    who = queries.whoami(ctx, request)
    # Say why the console user is an admin, so nobody wonders where the role came from.
    console_admin = (
        who["role"] == "admin"
        and request.console
        and request.user not in ctx.settings.admins
        and who["site"] is None
        and not ctx.settings.admins
    )
    return Reply.of(
        "replies/whoami.j2",
        who=who,
        console_admin=console_admin,
        configured_admin=request.user in ctx.settings.admins,
    )


COMMANDS = (
    Command(
        name="role",
        usage=ROLE_USAGE,
        summary="give a team member a role, site and on-call flag (admin)",
        help=(
            "Members are Slack user ids (no names are kept). Roles rank viewer < coordinator "
            "< investigator < admin: viewers read, coordinators also enter data, "
            "investigators also confirm, override and attribute, admins also set roles. "
            "site= is the member's site (what `today`, `week` and `decisions` show); "
            "oncall=yes makes an investigator the one decision alerts go to."
        ),
        role="admin",
        group="admin",
        handler=role,
        examples=(
            "role U0NURSE01 coordinator site=main",
            "role U0DOC0001 investigator site=main oncall=yes",
        ),
    ),
    Command(
        name="whoami",
        usage=WHOAMI_USAGE,
        summary="your user id, role, site and on-call flag",
        help="Who trialbot takes you for, and what your role allows.",
        role="anyone",
        group="admin",
        handler=whoami,
        examples=("whoami",),
    ),
)
