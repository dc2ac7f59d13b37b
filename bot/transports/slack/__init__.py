"""The Slack transport: how posts look on Slack (`blocks`) and, later, the Bolt app that
routes slash commands and button clicks to the same dispatcher and services."""
