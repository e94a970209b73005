"""The code's shape in figures: modules and lines per package, untyped dictionaries
(``dict[str, Any]``, the ``Task`` alias counted apart) and subscripts by a string, the
import levels (the longest chain of imports below a module), and the imports that point
back up a package's floor.

    .venv/bin/python bench/structure.py

Nothing is encoded: it reads drapto/'s text (the import graph is tests/test_structure.py's).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.test_structure import FLOORS, circles, floor_of, imports, modules  # noqa: E402


def main() -> None:
    mods = modules()
    graph = imports(mods)
    plain = imports(mods, packages=False)

    @functools.cache
    def level(m: str) -> int:
        return 1 + max((level(n) for n in plain[m]), default=-1)

    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    typed_dicts = task_alias = subscripts = 0
    for name, path in mods.items():
        text = path.read_text(encoding="utf-8")
        package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
        per[package][0] += 1
        per[package][1] += len(text.splitlines())
        typed_dicts += text.count("dict[str, Any]")
        task_alias += len(re.findall(r"\bTask\b", text))
        subscripts += sum(1 for n in ast.walk(ast.parse(text))
                          if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant)
                          and isinstance(n.slice.value, str))
    print("package                 modules  lines")
    for package, (count, lines) in sorted(per.items()):
        print(f"{package:<24}{count:>7}{lines:>7}")
    print(f"{'total':<24}{sum(c for c, _ in per.values()):>7}"
          f"{sum(n for _, n in per.values()):>7}")
    print(f"dict[str, Any] written: {typed_dicts}; the Task alias named: {task_alias}")
    print(f"subscripts by a string: {subscripts}")
    print(f"import levels (the longest chain of module imports): "
          f"{max(level(m) for m in plain) + 1}")
    found = circles(graph)
    print(f"import circles, counting the package __init__ an import runs: {len(found)}")
    for c in found[:3]:
        print("  " + " -> ".join(c))
    up = [(m, n) for m, targets in graph.items() for n in targets
          if floor_of(n) > floor_of(m)]
    print(f"floors (lowest first): {', '.join(FLOORS)}")
    print(f"imports pointing up a floor: {len(up)}")
    for m, n in sorted(up):
        print(f"  {m} -> {n}")


if __name__ == "__main__":
    main()
