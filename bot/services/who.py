"""Who is asking: user, role, site, on call — read from the member row by whatever the
context's database is (the ORM's `Database`, or `help`'s `LiteDatabase`), with the one
role rule (`bot.services.roles`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.services.roles import role_of

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext


def whoami(ctx: ServiceContext, request: Request) -> dict[str, Any]:
    member = None if request.system else ctx.db.member_row(request.user)
    return {
        "user": request.user,
        "role": role_of(ctx.settings, request, member["role"] if member else None),
        "site": member["site_id"] if member else None,
        "on_call": bool(member and member["on_call"]),
    }
