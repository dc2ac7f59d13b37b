"""Files through Slack: `/trial export …` uploads the file to the requester's DM, `/trial
swimmer` the swimmer plot to the study channel — a signed slash command through the real
Bolt app, the upload through `files_upload_v2` (getUploadURLExternal → the bytes to the
URL → completeUploadExternal) against the fake Slack, which keeps the bytes uploaded."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from datetime import timedelta

from sqlmodel import select

from bot.reports.tables import cell
from bot.services.exports import export_table
from bot.storage.models import AuditEntry, OutboxMessage


def _some_data(server) -> None:
    for line in (
        f"dose {server.sid} cisplatin mg=62",
        f"lab {server.sid} ANC 0.4 PLT 62",
        f"ae {server.sid} pneumonitis grade=3 irae=yes",
        f"ae {server.sid} nausea grade=1",
    ):
        assert server.command(line).status == 200
    server.fake.reset()


def _csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # opens in a spreadsheet as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _answer_text(server) -> str:
    return "\n".join(c.text_of_blocks() for c in server.fake.called("response_url"))


def test_export_uploads_the_csv_to_the_requester_and_it_reads_back_as_the_database(server):
    _some_data(server)
    assert server.command("export aes", user=server.nurse).status == 200
    assert "it is sent to you as a file" in _answer_text(server)
    # the three steps of files_upload_v2, in order, after the DM was opened
    methods = [m for m in server.fake.methods() if m != "response_url"]
    assert methods == [
        "conversations.open",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [upload] = server.fake.uploads()
    assert upload.channel == "D" + server.nurse[1:]  # the nurse's DM, nobody else's
    assert upload.filename.startswith("trialbot-aes-all-") and upload.filename.endswith(".csv")
    assert "Export aes" in (upload.comment or "")
    table = export_table(server.ctx, "aes")
    rows = _csv(upload.data)
    assert len(rows) == len(table.rows) == 2
    assert rows == [{c: cell(row.get(c)) for c in table.columns} for row in table.rows]
    assert {r["ctcae_term"] for r in rows} == {"Pneumonitis", "Nausea"}
    assert list(rows[0]) == list(table.columns)


def test_export_labs_of_a_site_with_the_command_line_format_flag(server):
    _some_data(server)
    assert server.command("export labs --format csv site=main").status == 200
    [upload] = server.fake.uploads()
    rows = _csv(upload.data)
    table = export_table(server.ctx, "labs", site="main")
    assert rows == [{c: cell(row.get(c)) for c in table.columns} for row in table.rows]
    assert {(r["analyte"], r["grade"]) for r in rows} == {("anc", "4"), ("plt", "2")}


def test_export_is_audited_with_the_checksum_of_the_bytes_sent(server):
    import hashlib

    _some_data(server)
    assert server.command("export decisions").status == 200
    [upload] = server.fake.uploads()
    with server.ctx.db.transaction(readonly=True) as session:
        row = session.exec(select(AuditEntry).where(AuditEntry.action == "file sent")).one()
    assert row.actor == server.nurse and row.subject == "export decisions"
    assert row.details["sha256"] == hashlib.sha256(upload.data).hexdigest()


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG, each CRC checked (a truncated or altered file fails)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def test_swimmer_uploads_a_valid_png_to_the_study_channel(server):
    _some_data(server)
    assert server.command("swimmer", user=server.nurse).status == 200
    assert "is being posted to the site's study channel" in _answer_text(server)
    [upload] = server.fake.uploads()
    assert upload.channel == server.study and upload.filename.endswith(".png")
    assert "Swimmer plot" in (upload.comment or "") and f"<@{server.nurse}>" in upload.comment
    chunks = _png_chunks(upload.data)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width >= 600 and height >= 200  # readable at Slack's preview size
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) > width * height  # the image data is all there


def test_a_viewer_may_neither_export_nor_post_the_swimmer_plot(server):
    _some_data(server)
    before = server.outbox()
    for line in ("export aes", "swimmer"):
        assert server.command(line, user=server.viewer).status == 200
    assert "needs the coordinator role" in _answer_text(server)
    assert server.fake.uploads() == [] and server.outbox() == before


def test_a_slack_outage_delays_the_upload_and_loses_nothing(server, slack_clock):
    _some_data(server)
    server.fake.fail("files.getUploadURLExternal", error="internal_error")
    assert server.command("export aes").status == 200
    assert server.fake.uploads() == []
    [row] = [m for m in server.outbox() if m.kind == "upload"]
    assert row.status == "pending" and row.attempts == 1
    slack_clock.advance(timedelta(minutes=5))  # past the first backoff
    server.slack.transport.deliver()
    [upload] = server.fake.uploads()
    table = export_table(server.ctx, "aes")
    assert _csv(upload.data) == [{c: cell(r.get(c)) for c in table.columns} for r in table.rows]
    with server.ctx.db.transaction(readonly=True) as session:
        sent = session.get(OutboxMessage, row.id)
    assert sent.status == "sent" and sent.message_id.endswith(f":file:{upload.file_id}")


def test_the_scheduler_s_sender_uploads_a_file_left_in_the_outbox(server, slack_clock):
    """The Slack app could not upload (Slack down); `trialbot tick`'s sender, draining the
    same outbox, uploads the file — never posts its comment without it."""
    from bot.render import Renderer
    from bot.transports.delivery import deliver
    from bot.transports.slack_sender import SlackSender, slack_client

    _some_data(server)
    server.fake.fail("files.getUploadURLExternal", error="internal_error")
    assert server.command("export doses").status == 200
    assert server.fake.uploads() == []
    slack_clock.advance(timedelta(minutes=5))
    sender = SlackSender(slack_client("xoxb-test-token", server.fake.url), Renderer())
    report = deliver(server.ctx.db, sender, slack_clock, owner="tick", pace=None)
    assert len(report.delivered) == 1 and not report.failed
    [upload] = server.fake.uploads()
    assert upload.channel == "D" + server.nurse[1:]
    table = export_table(server.ctx, "doses")
    assert _csv(upload.data) == [{c: cell(r.get(c)) for c in table.columns} for r in table.rows]
    assert "chat.postMessage" not in server.fake.methods()
