"""The console transport: the `/trial` language on a terminal, through the same
dispatcher the Slack transport uses, with every post the product makes printed and
marked with its destination (`→ #trial-main:`, `→ DM @U0INV:`).

`Console.run(text)` runs one command as the console's user (`Request(console=True)`),
prints the reply, then drains the outbox through the notifier — the claim/finish cycle the
Slack sender uses — so the posts appear after the reply that caused them. `repl()` is the
interactive loop of `trialbot chat`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.clock import Clock, FixedClock, SystemClock
from bot.commands import dispatch
from bot.commands.registry import Registry, build_registry
from bot.commands.reply import Reply
from bot.commands.tokens import strip_prefix
from bot.posts import Post, file_bytes
from bot.render import Renderer
from bot.services.context import Request, ServiceContext
from bot.settings import SLACK_USER_ID, Settings
from bot.transports.notifier import Delivery, Notifier, RecordingNotifier, drain_outbox
from bot.transports.slack import blocks as slack_blocks
from bot.transports.text import post_text

PROMPT = "trial> "
HISTORY_FILE = ".trialbot_history"
HISTORY_LENGTH = 1000
LEAVE_WORDS = ("exit", "quit", "bye")

_MENTION = re.compile(r"<@([^>|\s]+)(?:\|[^>]*)?>")
# Slack's *bold*: stars around text, not inside words ("1/25*" marks a provisional date).
_BOLD_TEXT = r"(?<![\w*])\*(?=\S)(?P<bold>[^*\n]*?\S)\*(?![\w*])"
_BOLD = re.compile(_BOLD_TEXT)
_MARKED = re.compile(r"(?P<code>`[^`\n]+`)|" + _BOLD_TEXT)
_FENCE = re.compile(r"^\s*```\s*$")
# Slack emoji codes the product's texts use, as characters for a terminal (every code a
# template writes is here: tests/console/test_notifier.py); any other code is dropped.
EMOJI = {
    ":new:": "+",
    ":rotating_light:": "!!",
    ":warning:": "!",
    ":white_check_mark:": "✓",
    ":pencil2:": "✎",
    ":no_entry:": "✗",
    ":sunrise:": "🌅",
    ":hourglass:": "⏳",
    ":test_tube:": "🧪",
    ":camera:": "📷",
    ":bar_chart:": "📊",
    ":page_facing_up:": "📄",
}
# A Slack emoji code: a lowercase name between colons, not inside a word or a time
# ("10:31:00", "slack:command:1" are not emoji).
_EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z][a-z0-9_+-]*:(?![\w:]) ?")


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is when the record comes (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:
            self.handleError(record)


def log_to_stderr() -> None:
    """trialbot's warnings and errors (e.g. an unexpected error in a command, logged
    without patient data) go to stderr, apart from the replies on stdout."""
    logger = logging.getLogger("trialbot")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler(logging.WARNING)
        handler.setFormatter(logging.Formatter("trialbot %(levelname)s: %(message)s"))
        logger.addHandler(handler)


def console_clock(settings: Settings) -> Clock:
    """`TRIALBOT_NOW` pins the console's clock (replaying a trial from a script, tests);
    otherwise the system clock."""
    return FixedClock(settings.now) if settings.now is not None else SystemClock()


# --- turning Slack-flavoured text into terminal text --------------------------------------
def plain_text(text: str, *, keep_bold: bool = False) -> str:
    """Slack mrkdwn as plain text: no code fences, no *bold* stars (unless `keep_bold`,
    for styling), emoji codes as signs, `<@U123>` as @U123. Backticks stay: they mark
    what to type."""
    lines = [line for line in text.splitlines() if not _FENCE.match(line)]
    out = "\n".join(lines)
    out = _MENTION.sub(r"@\1", out).replace("<!here>", "@here")
    if not keep_bold:
        out = _BOLD.sub(r"\g<bold>", out)
    for code, sign in EMOJI.items():
        out = out.replace(code, sign)
    return _EMOJI_CODE.sub("", out)


def destination(target: str) -> str:
    """`#trial-main` for a channel; `DM @U0INV` for a user."""
    if SLACK_USER_ID.match(target):
        return f"DM @{target}"
    return target


# --- output ------------------------------------------------------------------------------
class TextPrinter:
    """Human output: styled with rich on a terminal, plain text otherwise."""

    def __init__(self, stream: TextIO | None = None, *, styled: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.styled = isatty() if styled is None else styled
        self._rich = None
        if self.styled:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(
                file=self.stream, highlight=False, markup=False, emoji=False, soft_wrap=True
            )

    @property
    def rich_console(self):
        """The rich console styled output goes to (None when plain): a progress bar
        shares it so that printed lines scroll above the bar."""
        return self._rich

    def _print(self, text: str, style: str | None = None, *, slack: bool = True) -> None:
        """`text` is Slack-flavoured when `slack` (replies, posts): plain on a pipe,
        styled on a terminal. Otherwise it is printed as it is (what the user typed)."""
        if self._rich is None:
            print(plain_text(text) if slack else text, file=self.stream, flush=True)
            return
        if slack:
            self._rich.print(_styled(plain_text(text, keep_bold=True), style))
        else:
            from rich.text import Text

            self._rich.print(Text(text, style=style or ""))

    def command(self, text: str, *, user: str | None = None, when: datetime | None = None) -> None:
        """Echo a command (scripts, the demo), the way it would have been typed."""
        context = " · ".join(
            part for part in (user, when.strftime("%a %d %b %Y %H:%M") if when else None) if part
        )
        prefix = f"[{context}] " if context else ""
        self._print(f"{prefix}{PROMPT}{text}", "bold", slack=False)

    def reply(self, reply: Reply) -> None:
        self._print(reply.text, None if reply.ok else "red")

    def post(self, address: str, text: str, *, queued: bool = False) -> None:
        where = destination(address) + (" (queued for Slack)" if queued else "")
        self._print(f"  → {where}:", "magenta")
        self._print("\n".join(f"    {line}" for line in text.splitlines()), "dim")

    def note(self, text: str) -> None:
        self._print(text, "cyan", slack=False)

    def text(self, text: str) -> None:
        """Slack-flavoured text (a digest) as it is, plain or styled."""
        self._print(text)


def _styled(text: str, style: str | None):
    """A rich Text: the base style, with Slack's *bold* and `code` shown as such."""
    from rich.text import Text

    rendered = Text(style=style or "")
    for line_number, line in enumerate(text.splitlines()):
        if line_number:
            rendered.append("\n")
        position = 0
        for match in _MARKED.finditer(line):
            rendered.append(line[position : match.start()])
            if match.group("code"):
                rendered.append(match.group("code"), style="cyan")
            else:
                rendered.append(match.group("bold"), style="bold")
            position = match.end()
        rendered.append(line[position:])
    return rendered


class JsonPrinter:
    """`--json`: one JSON object per command (the `Reply` contract); posts are inside it,
    each as Slack would be given it (channel, text, blocks)."""

    def __init__(self, renderer: Renderer, stream: TextIO | None = None) -> None:
        self.renderer = renderer
        self.stream = stream or sys.stdout

    def command(self, text: str, *, user: str | None = None, when: datetime | None = None) -> None:
        pass

    def reply(self, reply: Reply) -> None:
        data = reply.to_json(lambda post: slack_blocks.message(self.renderer, post))
        print(json.dumps(data, ensure_ascii=False), file=self.stream, flush=True)

    def post(self, address: str, text: str, *, queued: bool = False) -> None:
        pass

    def note(self, text: str) -> None:
        pass


Printer = TextPrinter | JsonPrinter


def write_file(folder: Path, fact: dict) -> Path:
    """An `upload` post's file written into `folder` under its own name — never over an
    existing file (`name-2.csv`, `-3` … instead); the path written."""
    data = file_bytes(fact)
    name = Path(fact["name"]).name  # a name, never a path
    path = folder / name
    number = 2
    while path.exists():
        path = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
        number += 1
    with path.open("xb") as out:
        out.write(data)
    return path


@dataclass
class ConsoleNotifier:
    """Prints each post as text (`templates/posts/`), marked with its destination; a
    file (`upload`) is written into `files_dir` and the text says where. Message ids
    are console-1, -2, …"""

    printer: Printer
    renderer: Renderer
    delivered: int = 0
    files_dir: Path = field(default_factory=Path)

    def deliver(self, post: Post) -> str:
        text = post_text(self.renderer, post)
        if post.kind == "upload":
            path = write_file(self.files_dir, post.facts["file"])
            text += f"\nfile written to {path}"
        self.printer.post(post.address, text)
        self.delivered += 1
        return f"console-{self.delivered}"


@dataclass
class JsonNotifier(RecordingNotifier):
    """`--json`: the posts are in the printed object; a file is still written."""

    files_dir: Path = field(default_factory=Path)

    def deliver(self, post: Post) -> str:
        if post.kind == "upload":
            write_file(self.files_dir, post.facts["file"])
        return super().deliver(post)


# --- the transport ------------------------------------------------------------------------
@dataclass
class Console:
    ctx: ServiceContext
    user: str
    printer: Printer
    notifier: Notifier | None = None
    registry: Registry = field(default_factory=build_registry)
    owner: str = "console"
    deliveries: list[Delivery] = field(default_factory=list)
    request_id: str | None = None  # `trialbot chat --request-id`: the idempotency key
    files_dir: Path = field(default_factory=Path)  # where files sent to the console go
    # Slack is configured (SLACK_BOT_TOKEN): the posts a command queues are shown but left
    # in the outbox for the Slack sender (`trialbot serve` or `trialbot tick`) — were the
    # console to deliver them, the on-call investigator's alert would reach only this
    # terminal.
    slack_delivers: bool = False

    def __post_init__(self) -> None:
        if self.notifier is None:
            self.notifier = (
                JsonNotifier(files_dir=self.files_dir)
                if isinstance(self.printer, JsonPrinter)
                else ConsoleNotifier(self.printer, self.ctx.renderer, files_dir=self.files_dir)
            )

    def request(self, user: str | None = None) -> Request:
        return Request(user=user or self.user, source="console", console=True, key=self.request_id)

    def run(self, text: str, *, user: str | None = None, echo: bool = False) -> Reply:
        """Run one command, print its reply, then deliver what is waiting in the outbox."""
        if echo:
            self.printer.command(text, user=user or self.user, when=None)
        queued_after = self._newest_outbox_id() if self.slack_delivers else 0
        reply = dispatch.run(self.ctx, self.request(user), text, self.registry)
        self.printer.reply(reply)
        if self.slack_delivers:
            self.show_queued(queued_after)
        else:
            self.deliver()
        return reply

    def _newest_outbox_id(self) -> int:
        from sqlalchemy import func
        from sqlmodel import select

        from bot.storage.models import OutboxMessage

        with self.ctx.db.transaction(readonly=True) as session:
            return session.exec(select(func.max(OutboxMessage.id))).one() or 0

    def show_queued(self, after: int) -> None:
        """Print the posts queued since outbox row `after`, as they will go out, without
        delivering them: they stay pending for the Slack sender."""
        from sqlmodel import select

        from bot.storage.models import OutboxMessage

        with self.ctx.db.transaction(readonly=True) as session:
            rows = session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.id > after, OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
            ).all()
            posts = [Post.model_validate(row.payload or {}) for row in rows]
        for post in posts:
            self.printer.post(post.address, post_text(self.ctx.renderer, post), queued=True)

    def deliver(self) -> list[Delivery]:
        assert self.notifier is not None
        delivered = drain_outbox(self.ctx.db, self.notifier, now=self.ctx.now(), owner=self.owner)
        self.deliveries.extend(delivered)
        return delivered


# --- `help` without the database layer -------------------------------------------------
def is_help(text: str) -> bool:
    """Whether `text` is the `help` subcommand (or its alias), with or without a topic."""
    from bot.commands.handlers.help import COMMANDS

    words = strip_prefix(text).split(maxsplit=1)
    names = {name for command in COMMANDS for name in (command.name, *command.aliases)}
    return bool(words) and words[0].lower() in names


def help_once(settings: Settings, user: str, text: str, *, as_json: bool) -> int | None:
    """`trialbot chat "/trial help …"` as one command, without building the service
    context: the trial's names from their own cache entry (`bot.services.help_rules`; the
    whole rules only if a topic needs them), the member row read with the standard library
    (`bot.storage.lite`), no database layer, no migration, no outbox drain (help queues
    nothing). The same reply as the ordinary path; None when the database is not a SQLite
    file this can read (the caller takes the ordinary path)."""
    from bot.services.help_rules import HelpRules
    from bot.storage.lite import LiteDatabase, LiteUnavailable

    lite = LiteDatabase.for_url(settings.database_url)
    if lite is None:
        return None
    try:
        lite.member_row(user)  # readable this way? (else the ordinary path migrates it)
    except LiteUnavailable:
        return None
    renderer = Renderer()
    rules = HelpRules(settings)
    rules.help_names  # noqa: B018 — a wrong TRIALBOT_DEFAULT_SITE is refused here, as load_rules does
    ctx = ServiceContext(
        db=lite,  # type: ignore[arg-type]  (help reads only the member row)
        rules=rules,  # type: ignore[arg-type]  (the names, the rest on demand)
        clock=console_clock(settings),
        settings=settings,
        renderer=renderer,
        # help grades nothing and builds no calendar: not even their memos are loaded
        findings_memo=None,  # type: ignore[arg-type]
        histories=None,  # type: ignore[arg-type]
        calendars=None,  # type: ignore[arg-type]
    )
    printer: Printer = JsonPrinter(renderer) if as_json else TextPrinter()
    request = Request(user=user, source="console", console=True)
    reply = dispatch.run(ctx, request, text, build_registry())
    printer.reply(reply)
    return reply.exit_code


# --- the interactive loop -----------------------------------------------------------------
def history_path() -> Path:
    """`~/.trialbot_history`, or the working directory's when the home is not writable."""
    home = Path(os.path.expanduser("~"))
    if home.is_dir() and os.access(home, os.W_OK):
        return home / HISTORY_FILE
    return Path.cwd() / HISTORY_FILE


def _readline(path: Path):
    try:
        import readline
    except ImportError:  # not every platform has it; the REPL works without history
        return None
    readline.set_history_length(HISTORY_LENGTH)
    with contextlib.suppress(OSError):  # no history yet, or not readable: start afresh
        readline.read_history_file(path)
    return readline


def _save_history(readline_module, path: Path) -> None:
    if readline_module is None:
        return
    with contextlib.suppress(OSError):  # history is a convenience: never fail a session
        readline_module.write_history_file(path)


def repl(console: Console, *, stdin: TextIO | None = None, interactive: bool | None = None) -> int:
    """Read commands until Ctrl-D (or exit): a prompt with history on a terminal; from a
    pipe, each line is echoed before its reply so the output reads as a transcript.
    Blank lines and lines starting with # are skipped. Always returns 0: a refused
    command inside a session is part of the conversation, not a failure of it."""
    stdin = stdin or sys.stdin
    if interactive is None:
        interactive = stdin.isatty()
    readline_module = None
    path = history_path()
    if interactive:
        readline_module = _readline(path)
        console.printer.note(
            f"trialbot chat — you are {console.user}. Type `help`; Ctrl-D to leave."
        )
    try:
        source = None if interactive else iter(stdin)
        while True:
            try:
                if source is None:
                    line = input(PROMPT)
                else:
                    line = next(source, None)
                    if line is None:
                        break
            except EOFError:
                if interactive:
                    print(file=sys.stdout)
                break
            except KeyboardInterrupt:
                print("^C", file=sys.stdout)
                continue
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.lower() in LEAVE_WORDS:
                break
            if not interactive:
                console.printer.command(text)
            try:
                console.run(text)
            except KeyboardInterrupt:
                # the session goes on; an unfinished transaction has rolled back
                print("^C — interrupted; `patient <study ID>` shows what was recorded")
    finally:
        if interactive:
            _save_history(readline_module, path)
    return 0
