"""Who may do what. Roles live in the database; the first admins come from settings.

Roles rank viewer < coordinator < investigator < admin: entering data needs coordinator or
above, confirming and overriding a decision needs investigator or above, setting roles
needs admin; anyone with a role can read. A refusal is polite, names the role needed, and
is written to the audit trail (in its own transaction, so it stays when the command does
not run).
"""

from __future__ import annotations

from sqlmodel import Session

from bot.errors import UserError
from bot.services.context import Request, ServiceContext
from bot.storage.audit import add_audit
from bot.storage.models import ROLES, Member

RANK = {"viewer": 0, "coordinator": 1, "investigator": 2, "admin": 3}
assert set(RANK) == set(ROLES)


class AccessRefused(UserError):
    """The user's role does not allow the action."""


def effective_role(session: Session, ctx: ServiceContext, request: Request) -> str | None:
    """The user's role: `TRIALBOT_ADMINS` are admins; otherwise the member table decides.

    On the embedded console with no admins configured, the console's own user
    (`TRIALBOT_USER`) is an admin: a single person running trialbot locally must be able to
    try everything, and grant roles to the other users they play (`--as`). Slack always
    needs configured admins.
    """
    if request.user in ctx.settings.admins:
        return "admin"
    member = session.get(Member, request.user)
    if member is not None:
        return member.role
    if request.console and not ctx.settings.admins and request.user == ctx.settings.user:
        return "admin"
    return None


def require_role(ctx: ServiceContext, request: Request, needed: str, what: str) -> str:
    """The user's role if it is `needed` or above; otherwise audit the refusal and raise."""
    with ctx.db.transaction(readonly=True) as session:
        role = effective_role(session, ctx, request)
    if role is not None and RANK[role] >= RANK[needed]:
        return role
    with ctx.db.transaction() as session:
        add_audit(
            session,
            actor=request.user,
            action="refused",
            subject=what,
            details={"needed": needed, "role": role, "source": request.source},
            now=ctx.now(),
        )
    who = f"your role is {role}" if role else "you have no role in this trial yet"
    raise AccessRefused(
        f"sorry — {what} needs the {needed} role or above, and {who}. "
        f"An admin can grant it with: role {request.user} {needed}",
        field="role",
    )
