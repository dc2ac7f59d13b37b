"""Names a package exports but imports only when first asked for (PEP 562).

`bot.services` and `bot.storage` re-export names from their modules; importing one small
module of either (the command language's constants, `bot.storage.lite`) must not load
SQLAlchemy, every table and the service context (start-up, docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `modules` maps each name to its module."""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return getattr(importlib.import_module(modules[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
