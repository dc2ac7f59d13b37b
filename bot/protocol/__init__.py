"""The protocol as validated data: loading a trial's rules directory (see `loader`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.lazy import lazy_names

if TYPE_CHECKING:
    from bot.protocol.loader import Trial, load_trial

# The loader (and with it every schema) is imported when first asked for: reading the
# validated-rules cache (`bot.protocol.cache`) must not load what it saves loading.
__getattr__ = lazy_names(
    __name__, {"Trial": "bot.protocol.loader", "load_trial": "bot.protocol.loader"}
)

__all__ = ["Trial", "load_trial"]
