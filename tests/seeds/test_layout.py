"""Seed loading runs one way (sources -> reading -> values/scrub -> tables -> build) and stays readable (radon <= C)."""

import ast
from pathlib import Path

import pytest

import revdial.seeds

SEEDS = Path(revdial.seeds.__file__).parent
# What each module may import from revdial.seeds; nothing imports a module to its right in this order.
ORDER = [
    "errors",
    "scrub",
    "collaborative",
    "render",
    "sources",
    "reading",
    "values",
    "tables",
    "build",
    "steps",
]


def _seed_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            names |= (
                {f"{module}.{alias.name}" for alias in node.names} if module == "revdial.seeds" else {module}
            )
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {n.split(".")[2] for n in names if n.startswith("revdial.seeds.")}


def test_every_seeds_module_is_placed_in_the_order():
    modules = {p.stem for p in SEEDS.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_seed_modules_import_only_modules_before_them(module):
    allowed = set(ORDER[: ORDER.index(module)])
    imported = _seed_imports(SEEDS / f"{module}.py")
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)}, which come after it"


def test_seeds_import_no_later_stage():
    for path in SEEDS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        later = {
            m
            for m in modules
            if m.startswith("revdial.")
            and m.split(".")[1] in {"selection", "generation", "curation", "hub", "argilla", "crs", "cli"}
        }
        assert not later, f"{path.name} imports {sorted(later)}"


def test_no_seeds_function_is_rated_worse_than_c():
    radon = pytest.importorskip("radon.complexity", reason="radon is a dev tool (pip install radon)")
    worst = [
        (path.name, block.name, block.complexity)
        for path in SEEDS.glob("*.py")
        for block in radon.cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > 20
    ]
    assert worst == []
