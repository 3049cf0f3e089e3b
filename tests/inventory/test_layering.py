"""Dependencies run one way: replication builds on the inventory, so the inventory's API imports no replication."""
from __future__ import annotations

import ast
from pathlib import Path

from django.urls import resolve

import apps.inventory.api as inventory_api
from apps.inventory.api.views import UngroupedVMsView
from apps.replication.api.views import RecentJobsView, VMContextDetailView


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_inventory_api_imports_no_replication():
    for path in Path(inventory_api.__file__).parent.glob("*.py"):
        assert not [n for n in _imports(path) if n.startswith("apps.replication")], path


def test_vm_context_routes_resolve_to_the_right_app():
    # Inventory's urls come first, so 'ungrouped' is never taken for a VM name.
    assert resolve("/api/v1/vm-contexts/ungrouped").func.view_class is UngroupedVMsView
    assert resolve("/api/v1/vm-contexts/pgtest1").func.view_class is VMContextDetailView
    assert resolve("/api/v1/vm-contexts/ctx-pgtest1/recent-jobs").func.view_class is RecentJobsView
    assert resolve("/api/v1/vm-contexts/pgtest1").url_name == "vm-context-detail"
