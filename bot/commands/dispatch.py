"""`run(ctx, request, text) -> Reply`: one `/trial` command, start to finish.

Strips `/trial`, finds the subcommand (any case; a typo gets "did you mean"), runs its
handler and renders the reply's template. Every refusal (`UserError`, role refusals
included) becomes a refusal reply with the subcommand's usage line; anything unexpected
becomes a polite "nothing was recorded" reply — the service's transaction has rolled back
— and is logged to stderr with no patient data beyond the study ID. Never a traceback to
the user.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING

from bot import inputs
from bot.commands.args import Args
from bot.commands.registry import Command, Registry, build_registry, trial_names
from bot.commands.reply import Reply
from bot.commands.tokens import Tokens, split_command, strip_prefix
from bot.errors import AccessRefused, UserError
from bot.inputs import STUDY_ID_PATTERN

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

log = logging.getLogger("trialbot.commands")


def run(
    ctx: ServiceContext, request: Request, text: str, registry: Registry | None = None
) -> Reply:
    registry = registry or build_registry()
    command: Command | None = None
    try:
        tokens = split_command(strip_prefix(inputs.check_command(text)))
        if not tokens.words:
            if tokens.options:
                raise UserError(
                    "no subcommand given",
                    field="subcommand",
                    allowed=", ".join(registry.names()),
                )
            command = registry.find("help")
            tokens = Tokens(words=["help"])
        else:
            command = _command(registry, tokens.words[0])
        args = Args(
            _after_subcommand(tokens),
            study_id_example=_study_id_example(ctx),
            names=_names(ctx),
        )
        if request.key is not None:
            inputs.check_request_key(request.key)
            request = replace(request, content=fingerprint(request, command, args))
        reply = command.handler(ctx, request, args)
    except AccessRefused as exc:
        # A role refusal is about who asks, not what they typed: no usage line.
        return refusal(ctx, str(exc), None)
    except UnknownSubcommand as exc:
        return refusal(ctx, exc.message, exc.guess)
    except UserError as exc:
        return refusal(ctx, exc.message, command or _first_word_command(registry, text))
    except Exception as exc:
        _log_failure(exc, command, request, text)
        return failure(ctx, command)
    try:
        return _render(ctx, reply)
    except Exception as exc:
        # The command itself ran (and committed): say so rather than "nothing recorded".
        _log_failure(exc, command, request, text)
        return Reply(
            ok=False,
            failed=True,
            error="the command ran, but its reply could not be shown",
            text="The command ran, but its reply could not be shown (the error is logged). "
            "Check the result with `patient <study ID>`.",
        )


def fingerprint(request: Request, command: Command, args: Args) -> str:
    """SHA-256 of what a request asks: who, which subcommand, its words and options (as
    typed after the width folding). The idempotency key is stored with it, so a retry
    (same text) gets the first answer and a different command under the same key is
    refused."""
    from bot.storage.jsonvalues import canonical_json

    body = {
        "user": request.user,
        "command": command.name,
        "words": list(args.words),
        "options": sorted(args.options.items()),
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _first_word_command(registry: Registry, text: str) -> Command | None:
    """The subcommand a text that could not be split starts with (for its usage line)."""
    words = strip_prefix(text).split(maxsplit=1)
    return registry.find(words[0]) if words else None


def _after_subcommand(tokens: Tokens) -> Tokens:
    order = list(tokens.order)
    first = next((i for i, (kind, _) in enumerate(order) if kind == "word"), None)
    if first is not None:
        del order[first]
    return Tokens(words=tokens.words[1:], options=dict(tokens.options), order=order)


def _command(registry: Registry, word: str) -> Command:
    command = registry.find(word)
    if command is not None:
        return command
    guess = registry.suggest(word)
    raise UnknownSubcommand(word, guess)


class UnknownSubcommand(UserError):
    def __init__(self, word: str, guess: Command | None) -> None:
        self.guess = guess
        super().__init__(
            f"unknown subcommand '{word}'",
            suggestion=f"'{guess.name}'" if guess else None,
            allowed=None if guess else "see `help` for the list",
        )


MESSAGE_LIMIT = 400  # a refusal quotes what was typed, never a pasted page of it


def _study_id_example(ctx: ServiceContext) -> str:
    return ctx.rules.study_id_example


def _names(ctx: ServiceContext) -> dict[str, str]:
    """The loaded trial's names for the usage line a refusal quotes."""
    try:
        return trial_names(ctx.rules)
    except Exception as exc:  # rules that failed to load must not turn a refusal into a crash
        log.error("the trial's names for the usage line failed: %s", type(exc).__name__)
        return {}


def _usage(ctx: ServiceContext, command: Command | None) -> str | None:
    """The usage line with the loaded trial's example study ID and site."""
    if command is None:
        return None
    try:
        return command.for_trial(ctx).usage
    except Exception as exc:  # rules that failed to load must not turn a refusal into a crash
        log.error("the trial's names for the usage line failed: %s", type(exc).__name__)
        return command.usage


def refusal(ctx: ServiceContext, message: str, command: Command | None) -> Reply:
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    usage = _usage(ctx, command)
    topic = command.name if command else None
    reply = Reply(
        ok=False,
        error=message,
        template="replies/refusal.j2",
        view={"message": message, "usage": usage, "topic": topic},
    )
    try:
        return _render(ctx, reply)
    except Exception as exc:  # a broken template must not turn a refusal into a crash
        log.error("the refusal template failed: %s", type(exc).__name__)
        reply.text = message + (f"\nusage: /trial {usage}" if usage else "")
        return reply


def failure(ctx: ServiceContext, command: Command | None) -> Reply:
    message = "something went wrong — nothing was recorded"
    reply = Reply(ok=False, failed=True, error=message)
    try:
        return _render(
            ctx,
            Reply(
                ok=False,
                failed=True,
                error=message,
                template="replies/failure.j2",
                view={"message": message, "command": command.name if command else None},
            ),
        )
    except Exception:  # even the template is broken: the message alone still goes out
        reply.text = f"Sorry — {message}. The error is logged; please try again or tell the admin."
        return reply


def _render(ctx: ServiceContext, reply: Reply) -> Reply:
    if reply.template is not None:
        reply.text = ctx.renderer.render(reply.template, **reply.view)
    return reply


def _log_failure(exc: BaseException, command: Command | None, request: Request, text: str) -> None:
    """Where it failed, without the exception's message or any value typed: the command,
    the study ID, the user, the exception type and the code locations."""
    study = next(
        (w.upper() for w in text[:200].split() if STUDY_ID_PATTERN.match(w.strip().upper())),
        "-",
    )
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    where = " < ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames))
    log.error(
        "internal error in '%s' (study %s, user %s, from %s): %s at %s",
        command.name if command else "?",
        study,
        request.user,
        request.source,
        type(exc).__name__,
        where or "?",
    )


def _short(path: str) -> str:
    marker = "/bot/"
    return "bot/" + path.split(marker, 1)[1] if marker in path else path.rsplit("/", 1)[-1]


__all__ = ["Reply", "UnknownSubcommand", "failure", "refusal", "run"]
