"""The `/trial` command language, shared by every transport (console now, Slack later).

- `dispatch.run(ctx, request, text) -> Reply` — one command, start to finish; never raises
- `reply.Reply` — the reply as data (`to_json()` is the `trialbot chat --json` contract)
- `registry.build_registry()` — the subcommands (`handlers/`), their usage, help and roles
- `tokens.split_command`, `tokens.strip_prefix` — words and `key=value` options

See docs/commands.md for the language.
"""

from bot.commands.dispatch import run
from bot.commands.registry import Command, Registry, build_registry
from bot.commands.reply import Reply

__all__ = ["Command", "Registry", "Reply", "build_registry", "run"]
