"""The one rule of whose role is what, as a pure function of the settings, the request and
the member row's role: `access.effective_role` reads the row with the ORM, `help` (which
opens no database layer) with the standard library (`bot.storage.lite`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.context import Request
    from bot.settings import Settings


def role_of(settings: Settings, request: Request, member_role: str | None) -> str | None:
    """`TRIALBOT_ADMINS` are admins; otherwise the member row decides; on the embedded
    console with no admins configured, the console's own user is an admin (see
    `access.effective_role`). The system principal has rights, never a role."""
    if request.system:
        return None
    if request.user in settings.admins:
        return "admin"
    if member_role is not None:
        return member_role
    if request.console and not settings.admins and request.user == settings.user:
        return "admin"
    return None
