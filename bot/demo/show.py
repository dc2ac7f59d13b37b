"""What `trialbot demo` prints: the day's heading, each command as it would have been
typed (who, when), every post as the console transport prints it, a rich progress bar on
a terminal, and the summary. `--quiet` keeps only the progress bar and the summary."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, datetime

from bot.posts import Post
from bot.render import Renderer
from bot.transports.console import TextPrinter
from bot.transports.text import post_text


class DemoShow:
    def __init__(self, printer: TextPrinter, renderer: Renderer, *, quiet: bool = False) -> None:
        self.printer = printer
        self.renderer = renderer
        self.quiet = quiet
        self.posts = 0

    # --- the runner's side ---------------------------------------------------------------
    def day(self, day: date, number: int, total: int) -> None:
        if not self.quiet:
            self.printer.note(f"\n━━ {day:%a %d %b %Y} · day {number} of {total} ━━")

    def command(self, text: str, *, user: str, when: datetime) -> None:
        if not self.quiet:
            self.printer.command(text, user=user, when=when)

    def post(self, post: Post) -> None:
        self.posts += 1
        if not self.quiet:
            self.printer.post(post.address, post_text(self.renderer, post))

    def note(self, text: str) -> None:
        if not self.quiet:
            self.printer.note(text)

    # --- the CLI's side ------------------------------------------------------------------
    def intro(self, text: str) -> None:
        self.printer.note(text)

    def summary(self, text: str) -> None:
        self.printer.note("")
        self.printer.text(text)

    @contextlib.contextmanager
    def progress(self, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar over the simulated days on a terminal (printed output scrolls
        above it); nothing elsewhere."""
        console = self.printer.rich_console
        if console is None:
            yield lambda done: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("[cyan]simulated trial"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("days", total=total)
            yield lambda done: bar.update(task, completed=done)
