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
# A service's answer, as an outcome or a reply carries it: a handler hands it on whole
# (which part of a calendar, which rows of a list is the service's to choose).
ANSWERS = ("events", "decisions", "grades", "posts")
# Date arithmetic (windows, weeks, "from") is the services'; a handler reads dates only.
HANDLER_FORBIDDEN_NAMES = ("timedelta",)
HANDLER_PACKAGE = "bot.commands.handlers."


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


def _is_answer(node: ast.AST, answers: set[str]) -> bool:
    """`outcome.events` (any of ANSWERS), or a name bound to one."""
    if isinstance(node, ast.Attribute):
        return node.attr in ANSWERS
    return isinstance(node, ast.Name) and node.id in answers


def _reshaping(tree: ast.AST, module: str) -> list[str]:
    """A service's answer filtered or rewritten: a filtering comprehension over
    `outcome.events` (or a name bound to it), a reply's `events` / `decisions` / …
    assigned anew, date arithmetic in a handler."""
    answers: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_answer(node.value, answers):
            answers |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            # a view of each item (`[grade_view(g) for g in outcome.grades]`) is display;
            # keeping some of them is choosing what the service answered
            if any(_is_answer(g.iter, answers) and g.ifs for g in node.generators):
                found.append(f"{module}:{node.lineno} filters a service's answer")
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr in ANSWERS for t in targets):
                found.append(f"{module}:{node.lineno} rewrites a reply's answer")
        elif isinstance(node, ast.Name | ast.alias) and module.startswith(HANDLER_PACKAGE):
            name = node.id if isinstance(node, ast.Name) else node.name
            if name in HANDLER_FORBIDDEN_NAMES:
                found.append(f"{module}:{node.lineno} does date arithmetic ({name})")
    return found


def violations(source: str, module: str) -> list[str]:
    """What in `source` (the text of `module`) a translating module may not do."""
    tree = ast.parse(source)
    found = _reshaping(tree, module)
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
        (
            "def f(ctx, r):\n    out = queries.calendar(ctx, r, 'X')\n    events = out.events\n"
            "    return [e for e in events if e['date'] > '2027']",
            "filters a service's answer",
        ),
        (
            "def f(o):\n    return [d for d in o.decisions if d['open']]",
            "filters a service's answer",
        ),
        ("def f(reply, kept):\n    reply.events = kept", "rewrites a reply's answer"),
        ("from datetime import timedelta", "does date arithmetic (timedelta)"),
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
        "    outcome = entries.record_lab(ctx, request, 'LACC-007', 'ANC 0.4', on=on)\n"
        "    return Reply.of('replies/lab.j2', outcome, grades=[view(g) for g in outcome.grades])\n"
    )
    assert violations(source, "bot.commands.handlers.example") == []
