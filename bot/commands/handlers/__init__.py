"""One module per group of `/trial` subcommands; each lists its commands in `COMMANDS`
(see `bot.commands.registry`)."""
