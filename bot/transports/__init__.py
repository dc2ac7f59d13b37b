"""Transports: how the `/trial` language and the product's posts reach people.

- `notifier`: the `Notifier` protocol (`deliver(post) -> message id`), a recording stub, and
  `drain_outbox`, which delivers what the outbox holds the way the Slack sender will;
- `console`: `trialbot chat` and `trialbot demo` — the language on a terminal, posts
  printed with their destination.
"""
