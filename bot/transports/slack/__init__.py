"""The Slack transport: `/trial`, mentions and DMs, alert buttons and modals, delivery.

- `config`: the SLACK_* and TRIALBOT_SITE_CHANNELS settings, all checked at start;
- `client`: the one WebClient (base URL, proxy, CA bundle, retry handlers);
- `app`: the Bolt app factory and what listeners share (`SlackTransport`);
- `listeners/`: one module per kind (commands, events, actions, views);
- `blocks`: posts and replies as Block Kit (escaping, limits, buttons); `views`: modals;
- `notifier`: delivering outbox posts and updating alert copies in place;
- `dedupe`: one processing per Events API `event_id`; `surfaces`: where a command counts;
- `http_mode`: POST /slack/events and GET /healthz behind waitress; `serve`: start-up.
"""
