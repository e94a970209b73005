"""The code's shape: drapto's modules import one another without a circle, counting the
imports inside functions too (a circle there is one all the same: it only fails later) and
the package __init__ an import runs on its way; and every import points down the floors
of docs/pages/design.md (a package imports its own floor or those below it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "drapto"


# The packages from the lowest floor up; drapto's own root modules (errors, files,
# settings, progress) are the lowest floor, its entry points (TOP) the highest.
FLOORS = ("drapto", "drapto.media", "drapto.quality", "drapto.work", "drapto.cluster",
          "drapto.stages", "drapto.run")
TOP = ("drapto.tasks", "drapto.__main__", "drapto.sample")


def floor_of(module: str) -> int:
    if module in TOP:
        return len(FLOORS)
    package = module if module in FLOORS else module.rsplit(".", 1)[0]
    return FLOORS.index(package)


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(modules: dict[str, Path], packages: bool = True) -> dict[str, set[str]]:
    """Each module's imports of drapto's own modules, anywhere in its text; *packages*: and
    the package __init__ each import runs on its way."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                for a in node.names:
                    sub = f"{module}.{a.name}"
                    found.add(sub if sub in modules else module)
        # Importing drapto.a.b runs drapto/a/__init__.py first: an edge all the same.
        # (not its own package's: that one has run before the module itself).
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        if packages:
            found |= {".".join(m.split(".")[:i]) for m in found
                      for i in range(1, m.count(".") + 1)} - own
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each a path that comes back to where it started."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                found.append([*path[path.index(n):], n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


def test_no_import_circle() -> None:
    graph = imports(modules())
    assert "drapto.quality.segment_run" in graph["drapto.cluster.worker"]
    assert "drapto.media" in graph["drapto.stages.crop"]  # a package's __init__ runs first
    assert circles(graph) == []


def test_every_import_points_down() -> None:
    graph = imports(modules())
    assert all(m in graph for m in [*FLOORS, *TOP])
    up = sorted((m, n) for m, targets in graph.items() for n in targets
                if floor_of(n) > floor_of(m))
    assert up == []


def test_floors() -> None:
    assert floor_of("drapto.media.proc") < floor_of("drapto.stages.probe") < \
        floor_of("drapto.tasks")
    assert floor_of("drapto.errors") == floor_of("drapto") == 0


def test_a_circle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]
