"""The rules files' strict base model lives in `bot.strict` (every rules file uses it)."""

from bot.strict import StrictModel, custom_error, raise_errors

__all__ = ["StrictModel", "custom_error", "raise_errors"]
