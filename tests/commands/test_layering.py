"""Handlers only translate: parsed arguments into one service call, its outcome into a
`Reply`. The service layer owns roles, sites, "today", transactions and grading.

Read from the source with `ast` (imports inside functions included), so a handler that
opens a session, checks a role or reaches into the grading core fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot
from bot.commands import build_registry

BOT = Path(bot.__file__).resolve().parent
HANDLERS = BOT / "commands" / "handlers"
# What handlers and the reply views may not import: storage and the database libraries
# (transactions are the services'), the access checks, and the pure core (the services
# call it and hand back data; the event model `bot.events` stays readable).
FORBIDDEN_IMPORTS = (
    "bot.storage",
    "sqlmodel",
    "sqlalchemy",
    "psycopg",
    "bot.services.access",
    "bot.services.unit",
    "bot.grading",
    "bot.calendar",
    "bot.decisions",
    "bot.eligibility",
    "importlib",
)
# Calls that check access or open a transaction, by name or as an attribute.
FORBIDDEN_CALLS = (
    "require_role",
    "require_write",
    "require_right",
    "check_write_in",
    "effective_role",
    "transaction",
    "run_patient_write",
)
# Attributes that lead to the database.
FORBIDDEN_ATTRIBUTES = ("db", "session", "engine")


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _translating_modules() -> dict[str, Path]:
    found = {_module_name(path): path for path in sorted(HANDLERS.glob("*.py"))}
    found["bot.commands.views"] = BOT / "commands" / "views.py"
    return found


def _imported(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """Every module `tree` imports (absolute names; relative imports resolved)."""
    package = module.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.append((node.lineno, base))
            # `from bot import storage` imports bot.storage
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return names


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def violations(source: str, module: str) -> list[str]:
    """What in `source` (the text of `module`) a translating module may not do."""
    tree = ast.parse(source)
    found = []
    for line, name in _imported(tree, module):
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IMPORTS):
            found.append(f"{module}:{line} imports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) in FORBIDDEN_CALLS:
            found.append(f"{module}:{node.lineno} calls {_called(node)}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"{module}:{node.lineno} uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
            found.append(f"{module}:{node.lineno} names {node.id}")
    return found


def test_the_scan_finds_every_handler_module():
    modules = _translating_modules()
    registered = {command.handler.__module__ for command in build_registry()}
    assert len(registered) >= 15  # every subcommand group has its module
    assert registered <= set(modules), registered - set(modules)
    assert "bot.commands.handlers._common" in modules and "bot.commands.views" in modules
    assert all(path.is_file() for path in modules.values())


@pytest.mark.parametrize("module", sorted(_translating_modules()))
def test_a_handler_only_translates(module):
    path = _translating_modules()[module]
    assert violations(path.read_text(encoding="utf-8"), module) == []


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("from bot.storage.models import Site", "imports bot.storage.models"),
        ("from bot import storage", "imports bot.storage"),
        ("from ...storage import database", "imports bot.storage"),
        ("import sqlmodel", "imports sqlmodel"),
        ("def f():\n    from bot.grading.analytes import ANALYTES", "imports bot.grading.analytes"),
        ("from bot.services.access import AccessRefused", "imports bot.services.access"),
        ("from bot.eligibility import screen", "imports bot.eligibility"),
        ("def f(ctx):\n    with ctx.db.transaction() as s:\n        pass", "calls transaction"),
        ("def f(ctx, r):\n    access.require_role(ctx, r, 'viewer', 'x')", "calls require_role"),
        ("def f(ctx):\n    return ctx.db", "uses .db"),
        ("check = require_write", "names require_write"),
    ],
)
def test_the_scan_sees_each_fault(source, said):
    found = violations(source, "bot.commands.handlers.example")
    assert any(said in line for line in found), found


def test_the_scan_passes_a_handler_that_only_translates():
    source = (
        "from bot.services import entries\n"
        "from bot.services.today import today_at_site\n"
        "def lab(ctx, request, args):\n"
        "    on = args.date('date', today_at_site(ctx, study_id=args.study_id()))\n"
        "    return entries.record_lab(ctx, request, 'LACC-007', 'ANC 0.4', on=on)\n"
    )
    assert violations(source, "bot.commands.handlers.example") == []
