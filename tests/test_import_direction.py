"""`apicore/` is the runtime every process imports: it never imports back up.

The services, the gateway, the runner (`stack/`), the benchmarks (`bench/`) and the
development tools (`tools/`) build on `apicore/`; were it to import any of them, every
process would load the others' code (and a cycle would be one edit away). Each module under
`apicore/` is parsed, not imported, so an import inside a function, under `TYPE_CHECKING`,
relative, or by name through `importlib.import_module` counts as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APICORE = ROOT / "apicore"
FORBIDDEN = ("graphql_gateway", "service_users", "service_orders", "stack", "bench", "tools")
# Calls that import the module named by their first argument.
IMPORTING_CALLS = {"import_module", "__import__"}


def module_name(path: Path) -> str:
    """`apicore/contract/users.py` -> `apicore.contract.users` (a package: its __init__)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from ... import` names, relative ones resolved against `module`."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module the source imports, by statement or by `importlib.import_module("…")`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, is_package)
            # `from . import x` names a module too: check `package.x` as well as `package`.
            found += [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call) and node.args:
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            first = node.args[0]
            if name in IMPORTING_CALLS and isinstance(first, ast.Constant):
                found.append(str(first.value))
    return found


def forbidden(imported: list[str]) -> list[str]:
    return sorted({name for name in imported if name.split(".")[0] in FORBIDDEN})


def test_apicore_imports_nothing_above_it() -> None:
    modules = sorted(APICORE.rglob("*.py"))
    assert len(modules) > 20, "apicore/ was not found where this test looks"
    offenders = {}
    for path in modules:
        imported = imported_modules(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
        )
        if bad := forbidden(imported):
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}, f"apicore/ must not import {FORBIDDEN}: {offenders}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import graphql_gateway", ["graphql_gateway"]),
        ("import service_users.app as users", ["service_users.app"]),
        (
            "from service_orders.repository import find",
            ["service_orders.repository", "service_orders.repository.find"],
        ),
        ("def f():\n    from stack import seed\n", ["stack", "stack.seed"]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bench.report\n",
            ["bench.report"],
        ),
        ("import importlib\nimportlib.import_module('tools.embedded')", ["tools.embedded"]),
        ("__import__('graphql_gateway.app')", ["graphql_gateway.app"]),
    ],
)
def test_each_way_of_importing_is_seen(source: str, expected: list[str]) -> None:
    """The check itself: every form of import of a forbidden package is caught."""
    imported = imported_modules(source, "apicore.contract.users")
    assert forbidden(imported) == sorted(expected), imported


@pytest.mark.parametrize(
    "source",
    [
        "import apicore.errors",
        "from apicore.contract import users",
        "from . import orders",
        "from .. import errors",
        "import toolz",  # a name that only starts like a forbidden one
        "import stackprinter",
        "from typing import TYPE_CHECKING",
        "import importlib\nimportlib.import_module(name)",  # not a constant: nothing to read
    ],
)
def test_imports_within_apicore_and_of_libraries_pass(source: str) -> None:
    assert forbidden(imported_modules(source, "apicore.contract.users")) == []


def test_relative_imports_resolve_against_the_module() -> None:
    assert module_name(APICORE / "contract" / "__init__.py") == "apicore.contract"
    assert module_name(APICORE / "errors.py") == "apicore.errors"
    module = "apicore.contract.users"
    assert imported_modules("from . import orders", module) == [
        "apicore.contract",
        "apicore.contract.orders",
    ]
    assert imported_modules("from ..errors import ApiError", module) == [
        "apicore.errors",
        "apicore.errors.ApiError",
    ]
    # In a package's __init__, `.` is the package itself.
    assert imported_modules("from . import users", "apicore.contract", is_package=True) == [
        "apicore.contract",
        "apicore.contract.users",
    ]
