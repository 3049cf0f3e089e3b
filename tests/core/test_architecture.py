"""The import graph keeps the house's rules (docs/architecture.md, "Dependencies"): imports run downhill, the lab is
never imported by product code, there are no import cycles, and an import inside a function names the cycle it breaks.

These read the source with `ast`, so a wrong-way import fails here before it can tangle the apps.
"""
from __future__ import annotations

import ast
import collections
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each app and the apps it may import, downhill only (docs/architecture.md has the picture).
ALLOWED = {
    "core": set(),
    "enrollment": {"core"},
    "settings": {"core", "enrollment"},
    "inventory": {"core", "enrollment", "settings"},
    "replication": {"core", "enrollment", "settings", "inventory"},
    "failover": {"core", "enrollment", "settings", "inventory", "replication"},
    "scheduler": {"core", "enrollment", "settings", "inventory", "replication"},
    "waves": {"core", "enrollment", "settings", "inventory", "replication", "failover", "scheduler"},
    # approval turns cohorts into scheduler groups and network mappings into failover's
    "planner": {"core", "enrollment", "settings", "inventory", "replication", "failover", "scheduler",
                "waves"},
    # People and the portal's settings (seed 004): users, roles, departments, branding, notifications; it listens
    # to replication's finish signal for the replication_failed emails.
    "accounts": {"core", "enrollment", "settings", "inventory", "replication"},
    # Snapshot policies and restore act on CloudStack through the settings app's client and resource records.
    "snapshots": {"core", "enrollment", "settings"},
    # The operations portal over CloudStack (seed 004): reads CloudStack through settings' client.
    "portal": {"core", "enrollment", "settings"},
    # Metering samples the portal's collected tables, snapshots' runs and restores and accounts' request counters.
    "metering": {"core", "enrollment", "settings", "inventory", "replication", "accounts", "snapshots", "portal"},
    # Runbooks act on CloudStack through settings' client and read its resource records (seed 004).
    # The runbooks read the portal's collected tables and the snapshot policies and runs (reports, forecasts).
    # An approval left waiting past its policy's timeout is told to the admins through accounts' notifications.
    "runbooks": {"core", "enrollment", "settings", "portal", "snapshots", "accounts"},
    # The ops copilot (seed 004) reads the portal's collected tables and the migrations' VM contexts and jobs.
    "copilot": {"core", "enrollment", "settings", "inventory", "replication", "failover", "portal"},
    # The operations console's pages span every app it shows; nothing imports it.
    "console": {"core", "enrollment", "settings", "inventory", "replication", "failover", "scheduler",
                "planner", "waves", "accounts", "snapshots", "portal", "metering", "runbooks", "copilot"},
}
DEVLAB = "devlab"  # development equipment: may import every app and the lab; nothing imports it
PROJECT = ("apps", "lab", "agent", "datamover", "config", "bench")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module, absolute
    line: int
    in_function: bool
    reason: str  # the comment on the import's line or the line above


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _comment(lines: list[str], lineno: int) -> str:
    """The import's own comment, or the comment heading the block of imports it stands in."""
    text = lines[lineno - 1]
    found = text.split("#", 1)[1] if "#" in text else ""
    index = lineno - 2
    while index >= 0:
        above = lines[index].strip()
        if above.startswith("#"):
            return found + above
        if above and not above.startswith(("from ", "import ")):
            break
        index -= 1
    return found


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    source = path.read_text()
    lines = source.splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, child, path.name == "__init__.py")
                # `from apps.x import services` imports the module apps.x.services.
                targets = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                           for alias in child.names]
            for target in targets:
                if target.split(".")[0] in PROJECT:
                    found.append(Import(module, target, child.lineno, in_function, _comment(lines, child.lineno)))
            visit(child, nested)

    visit(ast.parse(source), False)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _product_files() -> list[Path]:
    files = []
    for top in ("apps", "config", "agent", "datamover", "lab"):
        files += [p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return [imp for path in _product_files() for imp in _imports(path)]


def _app(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else None


def test_apps_import_only_downhill(imports):
    wrong = []
    for imp in imports:
        source, target = _app(imp.module), _app(imp.target)
        if source is None or source == DEVLAB:
            continue
        if target == DEVLAB or imp.target.split(".")[0] == "lab":
            wrong.append(f"{imp.module}:{imp.line} imports {imp.target} (development equipment)")
        elif target is not None and target != source and target not in ALLOWED[source]:
            wrong.append(f"{imp.module}:{imp.line} imports {imp.target} ({source} may import {sorted(ALLOWED[source])})")
    assert not wrong, "imports that run uphill:\n" + "\n".join(wrong)


def test_every_app_has_a_place_in_the_rule():
    apps_on_disk = {p.parent.name for p in (ROOT / "apps").glob("*/apps.py")}
    assert apps_on_disk == set(ALLOWED) | {DEVLAB}


def test_agent_datamover_and_lab_stand_apart(imports):
    """The agent and the datamover run beside vCenter without Django; the lab never reaches into the product."""
    wrong = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in imports
             if imp.module.split(".")[0] in ("agent", "datamover", "lab")
             and imp.target.split(".")[0] in ("apps", "config")]
    for path in [*(ROOT / "agent").rglob("*.py"), *(ROOT / "datamover").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            wrong += [f"{_module_name(path)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] == "django"]
    assert not wrong, "\n".join(wrong)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles(imports):
    """Counting every import, top-level or inside a function: a loop hidden in a function is still a loop."""
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for imp in imports:
        if imp.module.startswith("apps.") and imp.target.startswith("apps.") and imp.target != imp.module:
            # A package's __init__ re-exporting its submodules is not a loop between them.
            if imp.target.startswith(imp.module + ".") or imp.module.startswith(imp.target + "."):
                continue
            if ".apps" in imp.module and imp.module.endswith(".apps"):
                continue  # AppConfig.ready() imports signal receivers once the app registry is ready
            edges[imp.module].add(imp.target)
    assert not _cycles(edges), "import cycles:\n" + "\n".join(" <-> ".join(c) for c in _cycles(edges))


def test_imports_inside_functions_say_why(imports):
    silent = [f"{imp.module}:{imp.line} imports {imp.target}" for imp in imports
              if imp.in_function and _app(imp.module) not in (None, DEVLAB)
              and not any(word in imp.reason.lower() for word in ("cycle", "app registry"))]
    assert not silent, ("imports inside functions without a comment naming the cycle they break "
                        "(or the app registry they wait for):\n" + "\n".join(silent))


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
