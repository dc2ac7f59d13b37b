"""Files the product hands out through the outbox: an export to the user who asked for it,
the swimmer plot to a site's study channel.

Each is a snapshot made when it is asked for — the CSV, .ics or PNG bytes are a fact of
the `upload` post (`bot.posts.file_fact`), queued in the transaction that audits the
export — so a Slack outage delays the file, never loses or changes it. Each transport
delivers the file its own way: Slack uploads it (`files_upload_v2`), the console writes
it to a folder and says where.

Who may: exports and the swimmer plot need the coordinator role or above (`FILE_ROLE`).
An export is the study's data in bulk, leaving the audit-trailed system as a file that can
be forwarded; a viewer reads every patient in trialbot, but taking the tables out is an
act of the study team, and each one is audited (who, what, how many rows, the SHA-256 of
the bytes). The swimmer plot is posted to the study channel for everyone in it, which a
viewer's commands never do. Study IDs only, as everywhere: nothing here adds an
identifier. The system principal (the scheduler) may do neither.
"""

from __future__ import annotations

import uuid
from typing import Any

from bot.errors import UserError
from bot.posts import Audience, Post, file_fact
from bot.services.access import require_role
from bot.services.constants import EXPORT_TABLES, EXPORTS, FILE_ROLE, FORMATS
from bot.services.context import Request, ServiceContext
from bot.services.exports import TABLES, export_table
from bot.services.notify import channel_of, enqueue_post
from bot.services.outcome import Outcome
from bot.storage.audit import add_audit
from bot.storage.models import normalise_study_id

assert TABLES == EXPORT_TABLES, "bot.services.constants names the export tables"
CSV = "text/csv"
ICS = "text/calendar"
PNG = "image/png"


def _dedupe_key(request: Request, what: str) -> str:
    """A retried request (same key) queues its file once; without a key, every request
    is its own (asking twice sends twice, as the user would expect)."""
    return f"upload:{what}:{request.key or uuid.uuid4().hex}"


def _queue(
    ctx: ServiceContext, request: Request, post: Post, *, what: str, details: dict[str, Any]
) -> bool:
    now = ctx.now()
    with ctx.db.transaction() as session:
        queued = enqueue_post(session, post, dedupe_key=_dedupe_key(request, what), now=now)
        if queued:
            file = post.facts["file"]
            add_audit(
                session,
                actor=request.user,
                action="file sent",
                subject=what,
                details={
                    **details,
                    "file": file["name"],
                    "bytes": file["size"],
                    "sha256": file["sha256"],
                    "to": post.address,
                    "source": request.source,
                },
                now=now,
            )
    return queued


def export(
    ctx: ServiceContext,
    request: Request,
    what: str,
    *,
    fmt: str = "csv",
    site: str | None = None,
    study_id: str | None = None,
) -> Outcome:
    """`what` (one of `EXPORTS`) of every patient, or of `site`'s (`study_id`: one
    patient's calendar, ics only), as a file for the user who asked."""
    require_role(ctx, request, FILE_ROLE, "exporting study data")
    if what not in EXPORTS:
        raise UserError(f"unknown export {what!r}", field="export", allowed=", ".join(EXPORTS))
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}", field="format", allowed=", ".join(FORMATS))
    day = ctx.now().date().isoformat()
    if what == "ics":
        from bot.services.ics import calendar_feed

        if study_id is not None and site is not None:
            raise UserError(
                "give patient= or site=, not both", field="patient", allowed="one of the two"
            )
        if study_id is not None:
            study_id = normalise_study_id(study_id)
        data = calendar_feed(ctx, study_id=study_id, site=site)
        scope = study_id or (f"site {site}" if site else "all sites")
        name = f"trialbot-calendar-{study_id or site or 'all'}-{day}.ics"
        file = file_fact(name, f"Trial calendar · {scope}", ICS, data)
        count, unit = data.count(b"BEGIN:VEVENT"), "events"
    else:
        if study_id is not None:
            raise UserError(
                "patient= goes with `export ics`", field="patient", allowed="site=S for tables"
            )
        from bot.reports.tables import csv_bytes

        table = export_table(ctx, what, site=site)
        scope = f"site {site}" if site else "all sites"
        name = f"trialbot-{what}-{site or 'all'}-{day}.csv"
        file = file_fact(
            name, f"Export · {what} · {scope}", CSV, csv_bytes(table.columns, table.rows)
        )
        count, unit = len(table.rows), "rows"
    about = {
        "what": "export",
        "table": what,
        "scope": scope,
        "count": count,
        "unit": unit,
        "day": day,
        "by": request.user,
    }
    post = Post(
        kind="upload",
        audience=Audience.one_user(request.user),
        facts={"file": file, "about": about},
    )
    queued = _queue(
        ctx, request, post, what=f"export {what}", details={"scope": scope, unit: count}
    )
    return Outcome(
        operation="export",
        posts=[post] if queued else [],
        data={**about, "file": file["name"], "bytes": file["size"], "queued": queued},
    )


def swimmer(ctx: ServiceContext, request: Request, *, site: str | None = None) -> Outcome:
    """The swimmer plot of a site's patients (site=, else the study channel's site, the
    member's own, the default), posted to that site's study channel."""
    require_role(ctx, request, FILE_ROLE, "posting the swimmer plot")
    from bot.services.queries import site_of_user
    from bot.services.reports import swimmer_lanes, swimmer_png

    with ctx.db.transaction(readonly=True) as session:
        site_row = site_of_user(session, ctx, request, site)
        audience = channel_of(site_row)
    lanes, today = swimmer_lanes(ctx, site=site_row.id)
    if not lanes:
        raise UserError(
            f"no patient is enrolled at site {site_row.id} yet",
            field="site",
            allowed="a site with patients",
        )
    png = swimmer_png(ctx, lanes, title=f"{ctx.rules.name} · site {site_row.id}", today=today)
    day = today.isoformat()
    name = f"trialbot-swimmer-{site_row.id}-{day}.png"
    file = file_fact(name, f"Swimmer plot · site {site_row.id} · {day}", PNG, png)
    about = {
        "what": "swimmer",
        "scope": f"site {site_row.id}",
        "site": site_row.id,
        "count": len(lanes),
        "unit": "patients",
        "day": day,
        "by": request.user,
    }
    post = Post(kind="upload", audience=audience, facts={"file": file, "about": about})
    queued = _queue(
        ctx, request, post, what="swimmer", details={"site": site_row.id, "patients": len(lanes)}
    )
    return Outcome(
        operation="swimmer",
        posts=[post] if queued else [],
        data={
            **about,
            "file": name,
            "bytes": len(png),
            "queued": queued,
            "channel": audience.address,
        },
    )
