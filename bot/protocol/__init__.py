"""The protocol as validated data: loading a trial's rules directory (see `loader`)."""

from bot.protocol.loader import Trial, load_trial

__all__ = ["Trial", "load_trial"]
