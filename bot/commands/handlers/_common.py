"""What several handlers share: reading the `reason="…"` option."""

from __future__ import annotations

from bot.commands.args import Args
from bot.errors import UserError


def reason_option(args: Args, command: str, why: str, usage: str) -> str | None:
    """The `reason="…"` option, after the command's words are all read (`usage` otherwise).
    A reason typed as bare words is refused with the command written the right way."""
    if args.words and not args.has("reason"):
        raise UserError(
            'the reason goes in reason="…"',
            field="reason",
            allowed=f'{command} reason="{" ".join(args.words)}"',
        )
    args.done(usage)
    return args.text("reason", allowed=f'reason="{why}"')
