"""Who may do what. Roles live in the database; the first admins come from settings.

A principal's rights:

- a person's come from their role, ranked viewer < coordinator < investigator < admin:
  anyone with a role can read, entering data needs coordinator or above, confirming and
  overriding a decision investigator or above, setting roles admin (who may also run the
  derived/time-based checks and queue posts by hand);
- the system principal (`Request.scheduler()`: the scheduler, acting as no Slack user) has
  exactly `SYSTEM_RIGHTS` — read what is due, record derived and time-based proposals,
  enqueue posts — and nothing else: it cannot enter data, confirm, override or set roles.

Console-only privileges live in one place, `effective_role`. A refusal is polite, names
what is needed, and is written to the audit trail (in its own transaction, so it stays
when the command does not run).
"""

from __future__ import annotations

from sqlmodel import Session

from bot.errors import UserError
from bot.services.context import SYSTEM_USER, Request, ServiceContext
from bot.storage.audit import add_audit
from bot.storage.models import ROLES, Member

RANK = {"viewer": 0, "coordinator": 1, "investigator": 2, "admin": 3}
assert set(RANK) == set(ROLES)

# Rights. A role has its own and those of the roles below it.
READ = "read"
ENTER = "enter"  # clinical entries, enrolment, corrections
DECIDE = "decide"  # confirm, override, attribute
ADMINISTER = "administer"  # set roles
DERIVE = "derive"  # record derived and time-based proposals (the review checks)
POST = "post"  # enqueue posts
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "coordinator": frozenset({READ, ENTER}),
    "investigator": frozenset({READ, ENTER, DECIDE}),
    "admin": frozenset({READ, ENTER, DECIDE, ADMINISTER, DERIVE, POST}),
}
SYSTEM_RIGHTS = frozenset({READ, DERIVE, POST})
RIGHT_OF_ROLE = {"viewer": READ, "coordinator": ENTER, "investigator": DECIDE, "admin": ADMINISTER}
SYSTEM = "system"  # what `require_role` / `require_right` answer for the system principal


class AccessRefused(UserError):
    """The user's role does not allow the action."""


def effective_role(session: Session, ctx: ServiceContext, request: Request) -> str | None:
    """The user's role: `TRIALBOT_ADMINS` are admins; otherwise the member table decides.

    On the embedded console with no admins configured, the console's own user
    (`TRIALBOT_USER`) is an admin: a single person running trialbot locally must be able to
    try everything, and grant roles to the other users they play (`--as`). Slack always
    needs configured admins.
    """
    if request.system:  # the system principal has rights (SYSTEM_RIGHTS), never a role
        return None
    if request.user in ctx.settings.admins:
        return "admin"
    member = session.get(Member, request.user)
    if member is not None:
        return member.role
    if request.console and not ctx.settings.admins and request.user == ctx.settings.user:
        return "admin"
    return None


def is_system(request: Request) -> bool:
    return request.system and request.user == SYSTEM_USER


def require_role(ctx: ServiceContext, request: Request, needed: str, what: str) -> str:
    """The user's role if it is `needed` or above (for the system principal, `SYSTEM` if
    its rights include what the role would give); otherwise audit the refusal and raise."""
    if is_system(request):
        return require_right(ctx, request, RIGHT_OF_ROLE[needed], what)
    with ctx.db.transaction(readonly=True) as session:
        role = effective_role(session, ctx, request)
    if role is not None and RANK[role] >= RANK[needed]:
        return role
    _audit_refusal(ctx, request, what, {"needed": needed, "role": role})
    who = f"your role is {role}" if role else "you have no role in this trial yet"
    raise AccessRefused(
        f"sorry — {what} needs the {needed} role or above, and {who}. "
        f"An admin can grant it with: role {request.user} {needed}",
        field="role",
    )


def require_right(ctx: ServiceContext, request: Request, right: str, what: str) -> str:
    """`SYSTEM` or the user's role if the principal has `right`; otherwise audit and raise."""
    if is_system(request):
        if right in SYSTEM_RIGHTS:
            return SYSTEM
        _audit_refusal(ctx, request, what, {"needed": right, "role": SYSTEM})
        raise AccessRefused(
            f"sorry — {what} is not among the system principal's rights "
            f"({', '.join(sorted(SYSTEM_RIGHTS))}); a person must do it",
            field="role",
        )
    with ctx.db.transaction(readonly=True) as session:
        role = effective_role(session, ctx, request)
    if role is not None and right in ROLE_RIGHTS[role]:
        return role
    _audit_refusal(ctx, request, what, {"needed": right, "role": role})
    lowest = next(r for r in ROLES_BY_RANK if right in ROLE_RIGHTS[r])
    who = f"your role is {role}" if role else "you have no role in this trial yet"
    raise AccessRefused(
        f"sorry — {what} needs the {lowest} role or above, and {who}. "
        f"An admin can grant it with: role {request.user} {lowest}",
        field="role",
    )


ROLES_BY_RANK = sorted(RANK, key=RANK.__getitem__)


def _audit_refusal(ctx: ServiceContext, request: Request, what: str, details: dict) -> None:
    with ctx.db.transaction() as session:
        add_audit(
            session,
            actor=request.user,
            action="refused",
            subject=what,
            details={**details, "source": request.source},
            now=ctx.now(),
        )
