"""The rules stack imports one way: the trial loader → the schemas and the pure core →
the file reader; nothing below imports what is above it, and no import cycle exists
among these packages — not even one kept quiet by an import inside a function.

The graph is built from the source with `ast`, so it sees every import statement: at the
top of a module, inside a function, and a module named by a `"bot.x:Name"` string or an
`importlib.import_module("bot.x")` call (how the loader used to name its schemas).

A note on function-level imports. Some imports sit inside a function on purpose, so that
a command which does not need a heavy module never loads it (start-up time, see
docs/benchmarks.md): that is *lazy loading* and is fine. What is not fine is an import
moved into a function because, at the top, it would fail — module A needs B while B is
still importing A. That does not remove the cycle, it only defers it to whoever calls
first. So this graph counts lazy imports as edges like any other: a lazy import may save
time, but it can never be what keeps the graph acyclic.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOT = REPO / "bot"

# The rules stack: the protocol loader and every package whose schemas it validates with.
STACK = ("bot.protocol", "bot.grading", "bot.decisions", "bot.eligibility", "bot.calendar")
# What the pure core must never reach (docs/architecture.md: the core uses neither).
ABOVE_THE_CORE = ("bot.storage", "bot.services", "bot.commands", "bot.transports", "bot.cli")
_SPEC = re.compile(r"^(bot(?:\.\w+)+):\w+$")


def _modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _named(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """(dotted name, node) of everything the module imports or names as a module."""
    out: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node))
            out += [(f"{node.module}.{alias.name}", node) for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _SPEC.match(node.value)
            if match:
                out.append((match.group(1), node))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append((node.args[0].value, node))
    return out


@cache
def import_graph() -> dict[str, set[str]]:
    """module -> the bot modules importing it runs (package `__init__`s included)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for target, node in _named(tree):
            if not target.startswith("bot") or _type_checking_only(node, parents):
                continue
            if target not in modules:  # `from bot.x import name`: the module is bot.x
                continue
            # Importing a.b.c runs a, a.b and a.b.c — except the packages the importer
            # itself is inside (they are already being imported when it runs).
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                step = ".".join(parts[:i])
                if step in modules and step != name and not name.startswith(step + "."):
                    graph[name].add(step)
    return graph


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _reachable(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One cycle among `nodes`, or None (depth-first search, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node] & nodes):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_finds_the_rules_stack_and_its_known_imports():
    graph = import_graph()
    for package in STACK:
        members = [m for m in graph if _in(m, (package,))]
        assert len(members) >= 2, f"no modules found for {package}: the test would pass vacuously"
    # edges the code is known to have: if these are missing, the parser sees nothing
    assert "bot.grading.terms" in graph["bot.protocol.loader"]
    assert "bot.decisions.schema" in graph["bot.protocol.loader"]
    assert "bot.rulefile" in graph["bot.grading.terms"]
    assert "bot.grading" in graph["bot.decisions.findings"]


def test_the_graph_sees_imports_inside_functions_and_module_names_in_strings():
    tree = ast.parse(
        "def f():\n    from bot.protocol.loader import read_yaml\n"
        'SPEC = "bot.grading.ranges:ReferenceRangesFile"\n'
        'importlib.import_module("bot.eligibility.rules")\n'
        "if TYPE_CHECKING:\n    from bot.services import x\n"
    )
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    named = {name for name, node in _named(tree) if not _type_checking_only(node, parents)}
    assert {"bot.protocol.loader", "bot.grading.ranges", "bot.eligibility.rules"} <= named
    assert "bot.services" not in named


def test_the_rules_stack_has_no_import_cycle_lazy_imports_included():
    graph = import_graph()
    stack = {m for m in graph if _in(m, STACK)}
    nodes = _reachable(graph, stack)
    assert len(nodes) > len(stack)  # the leaves (errors, paths, rulefile, events) are in it
    cycle = _cycle(graph, nodes)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_schemas_and_the_core_never_import_the_loader_or_the_shell():
    graph = import_graph()
    below = {m for m in graph if _in(m, STACK[1:])}
    reached = _reachable(graph, below)
    assert not [m for m in reached if _in(m, ("bot.protocol",))]
    assert not sorted(m for m in reached if _in(m, ABOVE_THE_CORE))


def test_each_module_of_the_rules_stack_imports_on_its_own():
    """Every module imported first, in a process where no other bot module is loaded:
    an import that only works after some other module was imported fails here."""
    graph = import_graph()
    names = sorted(m for m in graph if _in(m, STACK))
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'bot' or m.startswith('bot.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
        "print(len(" + repr(names) + "), 'imported')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{len(names)} imported", done.stdout
