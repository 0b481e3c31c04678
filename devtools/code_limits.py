"""The size limits a reader can rely on, checked in ``make lint``.

No function or method in ``include/``, ``plugins/`` or ``devtools/`` is above cyclomatic
complexity 15 (radon's measure) or longer than 60 lines; no module in ``include/`` or
``plugins/`` is longer than 400 lines; ``include/findining_mlops/`` has at most 5 modules
beside its packages, so every concern is a package one hop from the root.

Usage: ``python -m devtools.code_limits [--root DIR]``: prints each violation as
``path:line name (value > limit)`` and exits 1, or prints a one-line summary.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from radon.complexity import add_inner_blocks, cc_visit
from radon.visitors import Function

MAX_COMPLEXITY = 15
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
MAX_ROOT_MODULES = 5

FUNCTION_FOLDERS = ("include", "plugins", "devtools")
MODULE_FOLDERS = ("include", "plugins")
PACKAGE_ROOT = "include/findining_mlops"
SKIPPED = {"__pycache__", ".venv"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    name: str
    what: str
    value: int
    limit: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.name} ({self.what} {self.value} > {self.limit})"


@dataclass(frozen=True)
class FunctionSize:
    name: str  # qualified within the module: Class.method, outer.inner
    line: int
    lines: int
    complexity: int


def python_files(root: Path, folders: tuple[str, ...]) -> Iterator[Path]:
    for folder in folders:
        if (root / folder).is_dir():
            yield from sorted(p for p in (root / folder).rglob("*.py") if not SKIPPED & set(p.parts))


def function_sizes(source: str) -> list[FunctionSize]:
    """Every def of a module, nested ones included: lines from ``def`` to its last line,
    complexity as radon counts it."""
    complexity = {block.lineno: block.complexity for block in add_inner_blocks(cc_visit(source))
                  if isinstance(block, Function)}
    sizes: list[FunctionSize] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                sizes.append(FunctionSize(name, child.lineno, lines, complexity.get(child.lineno, 1)))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return sizes


def function_violations(root: Path) -> Iterator[Violation]:
    for path in python_files(root, FUNCTION_FOLDERS):
        shown = path.relative_to(root).as_posix()
        for size in function_sizes(path.read_text(encoding="utf-8")):
            if size.complexity > MAX_COMPLEXITY:
                yield Violation(shown, size.line, size.name, "complexity", size.complexity, MAX_COMPLEXITY)
            if size.lines > MAX_FUNCTION_LINES:
                yield Violation(shown, size.line, size.name, "lines", size.lines, MAX_FUNCTION_LINES)


def module_violations(root: Path) -> Iterator[Violation]:
    for path in python_files(root, MODULE_FOLDERS):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            yield Violation(path.relative_to(root).as_posix(), 1, path.stem, "lines", lines, MAX_MODULE_LINES)


def root_module_violations(root: Path) -> Iterator[Violation]:
    package = root / PACKAGE_ROOT
    if not package.is_dir():
        return
    modules = sorted(p.stem for p in package.glob("*.py") if p.name != "__init__.py")
    if len(modules) > MAX_ROOT_MODULES:
        yield Violation(PACKAGE_ROOT, 0, ", ".join(modules), "top-level modules", len(modules), MAX_ROOT_MODULES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the repository to check (default: this one)")
    root = parser.parse_args(argv).root.resolve()
    violations = [*function_violations(root), *module_violations(root), *root_module_violations(root)]
    for violation in violations:
        print(violation)
    if violations:
        return 1
    checked = sum(1 for _ in python_files(root, FUNCTION_FOLDERS))
    print(f"code limits OK: {checked} files; functions <= complexity {MAX_COMPLEXITY} and {MAX_FUNCTION_LINES} "
          f"lines, modules <= {MAX_MODULE_LINES} lines, <= {MAX_ROOT_MODULES} modules beside the packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
