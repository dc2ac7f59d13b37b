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

from bot.errors import AccessRefused, UserError  # noqa: F401 (AccessRefused re-exported)
from bot.services.context import SYSTEM_USER, Request, ServiceContext
from bot.services.roles import role_of
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

# Every write, by its operation: the role it needs and what it is called in a refusal.
# `require_write` checks it up front (so a refusal comes before any complaint about the
# input); `unit.transaction` checks it again inside the write's own transaction.
WRITES: dict[str, tuple[str, str]] = {
    "enroll": ("coordinator", "enrolling a patient"),
    "lab": ("coordinator", "entering a lab panel"),
    "ae": ("coordinator", "entering an adverse event"),
    "dose": ("coordinator", "recording a dose"),
    "response": ("coordinator", "recording a response assessment"),
    "correct": ("coordinator", "correcting an entry"),
    "void": ("coordinator", "voiding an entry"),
    "attribute": ("investigator", "attributing an event as immune-related or not"),
    "confirmed": ("investigator", "confirming a decision"),
    "overridden": ("investigator", "overriding a decision"),
    "hold": ("investigator", "holding a drug"),
    "resume": ("investigator", "resuming a drug"),
    "role": ("admin", "setting roles"),
}


def effective_role(session: Session, ctx: ServiceContext, request: Request) -> str | None:
    """The user's role: `TRIALBOT_ADMINS` are admins; otherwise the member table decides.

    On the embedded console with no admins configured, the console's own user
    (`TRIALBOT_USER`) is an admin: a single person running trialbot locally must be able to
    try everything, and grant roles to the other users they play (`--as`). Slack always
    needs configured admins.
    """
    if request.system or request.user in ctx.settings.admins:
        return role_of(ctx.settings, request, None)
    member = session.get(Member, request.user)
    return role_of(ctx.settings, request, member.role if member is not None else None)


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
    refused = _refusal(request, needed, what, role)
    audit_refusal(ctx, request, refused)
    raise refused


def require_write(ctx: ServiceContext, request: Request, operation: str) -> str:
    return require_role(ctx, request, *WRITES[operation])


def check_write_in(session: Session, ctx: ServiceContext, request: Request, operation: str) -> None:
    """Inside the write's transaction: may `request` still do `operation`? On PostgreSQL
    the member row is share-locked, so a demotion waits for this write (or this write sees
    it and is refused). Raises `AccessRefused` unaudited: the write rolls back, and
    `audit_refusal` records the refusal in a transaction of its own."""
    if operation not in WRITES:
        return
    needed, what = WRITES[operation]
    if is_system(request):
        if RIGHT_OF_ROLE[needed] not in SYSTEM_RIGHTS:
            refused = _system_refusal(what)
            refused.in_transaction = True
            raise refused
        return
    if session.get_bind().dialect.name == "postgresql":
        session.get(Member, request.user, with_for_update={"read": True})
    role = effective_role(session, ctx, request)
    if role is None or RANK[role] < RANK[needed]:
        refused = _refusal(request, needed, what, role)
        refused.in_transaction = True
        raise refused


def _refusal(request: Request, needed: str, what: str, role: str | None) -> AccessRefused:
    who = f"your role is {role}" if role else "you have no role in this trial yet"
    refused = AccessRefused(
        f"sorry — {what} needs the {needed} role or above, and {who}. "
        f"An admin can grant it with: role {request.user} {needed}",
        field="role",
    )
    refused.audit = (what, {"needed": needed, "role": role})
    return refused


def _system_refusal(what: str) -> AccessRefused:
    refused = AccessRefused(
        f"sorry — {what} is not among the system principal's rights "
        f"({', '.join(sorted(SYSTEM_RIGHTS))}); a person must do it",
        field="role",
    )
    refused.audit = (what, {"role": SYSTEM})
    return refused


def require_right(ctx: ServiceContext, request: Request, right: str, what: str) -> str:
    """`SYSTEM` or the user's role if the principal has `right`; otherwise audit and raise."""
    if is_system(request):
        if right in SYSTEM_RIGHTS:
            return SYSTEM
        refused = _system_refusal(what)
        refused.audit = (what, {"needed": right, "role": SYSTEM})
        audit_refusal(ctx, request, refused)
        raise refused
    with ctx.db.transaction(readonly=True) as session:
        role = effective_role(session, ctx, request)
    if role is not None and right in ROLE_RIGHTS[role]:
        return role
    lowest = next(r for r in ROLES_BY_RANK if right in ROLE_RIGHTS[r])
    refused = _refusal(request, lowest, what, role)
    refused.audit = (what, {"needed": right, "role": role})
    audit_refusal(ctx, request, refused)
    raise refused


ROLES_BY_RANK = sorted(RANK, key=RANK.__getitem__)


def audit_refusal(ctx: ServiceContext, request: Request, refused: AccessRefused) -> None:
    """Write the refusal to the audit trail, in its own transaction (it stays although the
    command does not run)."""
    what, details = getattr(refused, "audit", ("?", {}))
    with ctx.db.transaction() as session:
        add_audit(
            session,
            actor=request.user,
            action="refused",
            subject=what,
            details={**details, "source": request.source},
            now=ctx.now(),
        )
