"""A post as text: `templates/posts/<kind>.j2` rendered with the post's facts.

The console prints this text (with the typed commands an investigator answers with,
`confirm D…` / `override D…`); Slack uses it inside its blocks and as the notification
text. Rendering happens at delivery, from the facts the outbox row keeps.
"""

from __future__ import annotations

from bot.posts import Post
from bot.render import Renderer


def post_text(renderer: Renderer, post: Post, *, buttons: bool = False) -> str:
    """`buttons`: the transport answers with buttons (Slack), so a decision says what the
    investigator is asked in words and leaves out the commands the console would type."""
    return renderer.render(
        f"posts/{post.kind}.j2", study_id=post.study_id, buttons=buttons, **post.facts
    )
