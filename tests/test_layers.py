"""Imports flow one way (STYLE rules 11 and 15): surfaces → services →
models, and ``app/core`` and ``tenants/`` import no domain.

The checker reads every ``.py`` under ``app/`` and ``tenants/`` with ``ast``
(imports at module level and inside functions alike), puts each module in a
layer, and lists every import that runs the wrong way:

- ``core`` (``app/core/``, ``app/extensions.py``, ``app/config.py``) imports
  only core; ``tenants`` imports only core and tenants;
- a ``models`` module imports no services or surface;
- a ``services`` module (any other module of a domain) imports no surface;
- a ``surface`` (``api.py``, ``views.py``, ``cli.py``, ``jobs.py``,
  ``webhooks.py``, ``*_api.py``, ``*_views.py``, anything in
  ``app/console/``) imports no other surface.

The app assembly (``app/__init__.py`` and the API registration in
``app/api/__init__.py``) may import anything: it is where the domains meet.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CORE_MODULES = ("app.core", "app.extensions", "app.config")
# Modules that put the app together: the app factory, the API's blueprint
# list, and the console package, which registers its page modules and the
# navigation's template global.
ASSEMBLY = frozenset({"app", "app.api", "app.console"})
SURFACE_NAMES = frozenset({"api", "views", "cli", "jobs", "webhooks"})
SURFACE_PACKAGES = ("app.console",)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """``core``, ``tenants``, ``models``, ``services``, ``surface``,
    ``assembly``, or ``None`` for a module outside the app."""
    if module in ASSEMBLY:
        return "assembly"
    if any(_within(module, core) for core in CORE_MODULES):
        return "core"
    if _within(module, "tenants"):
        return "tenants"
    if not _within(module, "app"):
        return None
    name = module.rsplit(".", 1)[-1]
    if (
        any(_within(module, p) for p in SURFACE_PACKAGES)
        or name in SURFACE_NAMES
        or name.endswith(("_api", "_views"))
    ):
        return "surface"
    if name == "models":
        return "models"
    return "services"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]):
    """(line, imported module) for every import statement anywhere in ``tree``.
    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if candidate in known else base


def _offence(importer: str, target: str) -> str | None:
    """Why ``importer`` may not import ``target`` (``None`` when it may)."""
    mine, theirs = layer_of(importer), layer_of(target)
    if theirs is None or mine in (None, "assembly"):
        return None
    if mine == "core" and theirs != "core":
        return "core imports only core"
    if mine == "tenants" and theirs not in ("core", "tenants"):
        return "tenants import only core and tenants"
    if mine == "models" and theirs in ("services", "surface", "assembly"):
        return f"a models module imports {theirs}"
    if mine == "services" and theirs in ("surface", "assembly"):
        return f"a services module imports {theirs}"
    if mine == "surface" and theirs in ("surface", "assembly") and target != importer:
        return f"a surface imports another {theirs}"
    return None


def layer_offences(root: Path) -> list[str]:
    """Every wrong-way import under ``root/app`` and ``root/tenants``, as
    ``path:line: importer -> target (why)``."""
    files = sorted(
        p for top in ("app", "tenants") if (root / top).is_dir() for p in (root / top).rglob("*.py")
    )
    known = {_module_name(p, root) for p in files}
    found = []
    for path in files:
        module = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imports(tree, module, path.name == "__init__.py", known):
            why = _offence(module, target)
            entry = f"{path.relative_to(root)}:{line}: {module} -> {target} ({why})"
            if why and entry not in found:  # one line for ``from x import a, b``
                found.append(entry)
    return found


def test_imports_flow_one_way():
    offences = layer_offences(ROOT)
    assert not offences, "imports against the layers:\n" + "\n".join(offences)


def _plant(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_the_checker_finds_every_kind_of_wrong_way_import(tmp_path):
    _plant(tmp_path, "app/__init__.py", "from app.orders import views\n")
    _plant(tmp_path, "app/core/money.py", "def f():\n    from app.orders import services\n")
    _plant(tmp_path, "app/core/ids.py", "import tenants.context\n")
    _plant(tmp_path, "tenants/cli.py", "from app.accounts.models import Membership\n")
    _plant(tmp_path, "tenants/context.py", "from app.core import money\n")
    _plant(tmp_path, "app/orders/models.py", "from . import services\n")
    _plant(tmp_path, "app/orders/services.py", "from app.orders.models import Order\n")
    _plant(tmp_path, "app/orders/state.py", "from app.orders.jobs import fulfil\n")
    _plant(tmp_path, "app/orders/jobs.py", "from app.orders import services\n")
    _plant(tmp_path, "app/orders/api.py", "from app.orders import services\n")
    _plant(tmp_path, "app/orders/views.py", "x = 1\n\ndef page():\n    from .api import blp\n")
    _plant(tmp_path, "app/console/orders_views.py", "from app.catalog.cards_api import blp\n")

    found = layer_offences(tmp_path)

    assert sorted(found) == sorted(
        [
            "app/core/money.py:2: app.core.money -> app.orders.services (core imports only core)",
            "app/core/ids.py:1: app.core.ids -> tenants.context (core imports only core)",
            "tenants/cli.py:1: tenants.cli -> app.accounts.models"
            " (tenants import only core and tenants)",
            "app/orders/models.py:1: app.orders.models -> app.orders.services"
            " (a models module imports services)",
            "app/orders/state.py:1: app.orders.state -> app.orders.jobs"
            " (a services module imports surface)",
            "app/orders/views.py:4: app.orders.views -> app.orders.api"
            " (a surface imports another surface)",
            "app/console/orders_views.py:1: app.console.orders_views -> app.catalog.cards_api"
            " (a surface imports another surface)",
        ]
    )


def test_the_checker_accepts_imports_that_flow_one_way(tmp_path):
    _plant(tmp_path, "app/__init__.py", "from app.orders import views\n")
    _plant(tmp_path, "app/core/money.py", "from app.extensions import db\nimport app.config\n")
    _plant(
        tmp_path, "tenants/guard.py", "from app.core import money\nfrom tenants import context\n"
    )
    _plant(tmp_path, "app/orders/models.py", "from tenants.guard import TenantOwned\n")
    _plant(tmp_path, "app/orders/services.py", "from app.catalog import stock\n")
    _plant(tmp_path, "app/orders/views.py", "from app.orders import services, models\n")

    assert layer_offences(tmp_path) == []
