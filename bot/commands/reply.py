"""What a command answers: plain data, rendered to text by a template in `templates/replies/`.

`Reply.to_json()` is the one-shot `trialbot chat --json` contract:

    {"ok": bool, "error": str|null, "text": str, "grades": [...], "decisions": [...],
     "events": [...], "posts": [{"channel", "text", "blocks"}]}

`grades` are `trialbot grade --json` results, `decisions` are `Decision.to_json()` with
their `id` ("D12") and `status`, `events` are calendar events in the calendar's JSON shape,
`posts` are what the command queued in the outbox, each as the transport printing the
object renders it (`trialbot chat --json`: as Slack would be given it, see
`bot.transports.slack.blocks.message`). The reply itself keeps them as data (`bot.posts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.posts import Post
from bot.services.outcome import Outcome

EXIT_OK = 0
EXIT_FAILED = 1  # something unexpected went wrong; nothing was recorded
EXIT_REFUSED = 2  # the command was refused (bad input, role); nothing was recorded


@dataclass
class Reply:
    ok: bool = True
    error: str | None = None
    text: str = ""
    grades: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)  # as data; each transport renders them
    # How the text is made (not part of the JSON): the dispatcher renders `template` with
    # `view` once the handler returns, so handlers only ever produce data.
    template: str | None = None
    view: dict[str, Any] = field(default_factory=dict)
    failed: bool = False  # an unexpected error, not a refusal

    @classmethod
    def of(cls, template: str, outcome: Outcome | None = None, **view: Any) -> Reply:
        """A successful reply rendering `template` with `view` (and the outcome, if any,
        as `outcome`); grades, decisions, events and posts come from the outcome."""
        if outcome is None:
            return cls(template=template, view=view)
        return cls(
            grades=list(outcome.grades),
            decisions=list(outcome.decisions),
            events=list(outcome.events),
            posts=list(outcome.posts),
            template=template,
            view={"outcome": outcome.model_dump(mode="json"), **view},
        )

    @property
    def exit_code(self) -> int:
        if self.ok:
            return EXIT_OK
        return EXIT_FAILED if self.failed else EXIT_REFUSED

    def to_json(
        self, render_post: Callable[[Post], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The contract when `render_post` gives each post's {"channel", "text", "blocks"}
        (what `trialbot chat --json` passes); without it, each post as its data."""
        if render_post is None:
            render_post = _post_data
        return {
            "ok": self.ok,
            "error": self.error,
            "text": self.text,
            "grades": self.grades,
            "decisions": [_contract(d) for d in self.decisions],
            "events": self.events,
            "posts": [render_post(post) for post in self.posts],
        }


# Decision data the templates read but the --json contract (docs/commands.md) leaves
# out: how to answer a question is in `text`, rendered by the transport.
_NOT_IN_CONTRACT = ("questions",)


def _contract(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in _NOT_IN_CONTRACT}


def _post_data(post: Post) -> dict[str, Any]:
    return post.model_dump(mode="json")
