"""Lint: no source file over ~300 lines and no function over ~50 lines (DESIGN.md, "Rules").

python .ci/check_sizes.py [PATHS...]   (default: latent_lab data_builders recipes bench tests)
Prints each offender and exits 1 if there is any. "About": a file may reach FILE_LIMIT lines,
a function FUNCTION_LIMIT lines (its def line through its last line, decorators excluded).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FILE_LIMIT = 330
FUNCTION_LIMIT = 55
DEFAULT_PATHS = ("latent_lab", "data_builders", "recipes", "bench", "tests")


def offenders(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines > FILE_LIMIT:
        found.append(f"{path}: {lines} lines (limit {FILE_LIMIT}); split it by job")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LIMIT:
                found.append(
                    f"{path}:{node.lineno}: function {node.name} has {length} lines "
                    f"(limit {FUNCTION_LIMIT}); split it"
                )
    return found


def main(argv: list[str]) -> int:
    roots = [Path(p) for p in (argv or DEFAULT_PATHS)]
    files = sorted(f for root in roots for f in ([root] if root.is_file() else root.rglob("*.py")))
    problems = [problem for path in files for problem in offenders(path)]
    print("\n".join(problems) or f"sizes ok: {len(files)} files", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
