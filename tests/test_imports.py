"""No import cycle between revdial's modules: every `import revdial...` (at the top of a module or inside a function)
is an edge; a cycle fails with its path."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in (SRC / "revdial").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name and not name.startswith(f"{t}.")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_function_level_imports():
    graph = _graph()
    assert "revdial.prompts" in graph["revdial.crs.experiment"]  # imported inside sft_rows


def test_revdial_has_no_import_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_revdial_packages_have_no_import_cycle():
    """Stages too (generation <-> curation, crs.benchmarks <-> crs.evaluate were loops): revdial.X -> revdial.Y."""
    packages: dict[str, set[str]] = {}
    for name, targets in _graph().items():
        package = ".".join(name.split(".")[:2])
        packages.setdefault(package, set())
        packages[package] |= {".".join(t.split(".")[:2]) for t in targets} - {package}
    for targets in list(packages.values()):
        for target in targets:
            packages.setdefault(target, set())
    cycle = _cycle(packages)
    assert cycle is None, " -> ".join(cycle or [])
