"""The documentation as a reader meets it: a short front page that links every page of
``docs/``, an architecture map that matches the tree, and no name of a module, package,
function or file that does not exist (a rename that forgets the docs fails here, listing
each stale name)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
FRONT_PAGE_MAX_LINES = 300

# where a dotted name's first part lives
PACKAGE_ROOTS = {"findining_mlops": ROOT / "include", "findining_airflow": ROOT / "plugins", "devtools": ROOT}
# a path in prose is checked when it starts at one of these folders
PATH_ROOTS = ("include/", "plugins/", "devtools/", "dags/", "tests/", "bench/", "infra/", "docs/",
              "findining_mlops/", "findining_airflow/")
PATH = re.compile(r"(?<![\w./<>-])(?:" + "|".join(map(re.escape, PATH_ROOTS)) + r")[\w./<>*{},…-]*")
DOTTED = re.compile(r"(?<![\w./-])(?:" + "|".join(PACKAGE_ROOTS) + r")(?:\.\w+)+")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```")


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _relative(page: Path) -> str:
    return str(page.relative_to(ROOT))


# -- paths -----------------------------------------------------------------------------------------


def _on_disk(path: str) -> Path:
    """A path as written in the docs, on disk: the two packages may be named without their folder."""
    for package, folder in (("findining_mlops/", "include/"), ("findining_airflow/", "plugins/")):
        if path.startswith(package):
            return ROOT / folder / path
    return ROOT / path


def _exists(path: str) -> bool:
    """Whether a documented path exists; a ``<placeholder>``, ``*`` or ``{a,b}`` segment
    matches any name (``models/<model>/train.py``: some model has a ``train.py``), and an
    elided tail (``…``) asks only for the folder before it."""
    parts = str(_on_disk(path.rstrip(".,;:")).relative_to(ROOT)).split("/")
    if "…" in parts:
        parts = parts[: parts.index("…")]
    pattern = "/".join(re.sub(r"<[^>]*>|\{[^}]*\}|…", "*", part) for part in parts)
    if "*" not in pattern:
        return (ROOT / pattern).exists()
    return next(ROOT.glob(pattern), None) is not None


def _prose_paths(page: Path) -> set[str]:
    return {match.group(0) for match in PATH.finditer(_text(page))}


# -- dotted names ----------------------------------------------------------------------------------


def _module_file(parts: list[str]) -> Path | None:
    """The file of a module or package named by ``parts``, if there is one."""
    base = PACKAGE_ROOTS[parts[0]].joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@cache
def _defined_names(module: Path) -> dict[str, ast.AST]:
    """The names a module defines at its top level (functions, classes, assignments, imports)."""
    names: dict[str, ast.AST] = {}
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update({(alias.asname or alias.name).split(".")[0]: node for alias in node.names})
    return names


def _class_members(node: ast.ClassDef) -> set[str]:
    members = set()
    for child in node.body:
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            members.add(child.name)
        elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
            members.add(child.target.id)
        elif isinstance(child, ast.Assign):
            members.update(target.id for target in child.targets if isinstance(target, ast.Name))
    return members


def _resolves(dotted: str) -> bool:
    """The longest prefix that is a module or package, then the rest as its attributes
    (a top-level name, and a member when that name is a class), read with ast, never imported."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = _module_file(parts[:end])
        if module is None:
            continue
        attributes = parts[end:]
        if not attributes:
            return True
        node = _defined_names(module).get(attributes[0])
        if node is None:
            return False
        if len(attributes) > 1 and isinstance(node, ast.ClassDef):
            return attributes[1] in _class_members(node)
        return True
    return False


# -- the architecture map --------------------------------------------------------------------------


def _map_block() -> list[str]:
    """The fenced block under the README's ``## Architecture`` heading."""
    lines = _text(README).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Architecture"))
    opening = next(i for i in range(start, len(lines)) if FENCE.match(lines[i]))
    closing = next(i for i in range(opening + 1, len(lines)) if FENCE.match(lines[i]))
    return lines[opening + 1: closing]


ENTRY = re.compile(r"^( *)(\S+?/|\S+\.(?:py|toml|yaml|tf|md|txt))(?:\s|$)")


def _map_entries() -> list[str]:
    """Each entry of the map as a path from the root: an entry indented two spaces under a
    folder is inside it; other lines (wrapped descriptions) are not entries."""
    entries: list[str] = []
    stack: list[tuple[int, str]] = []
    for line in _map_block():
        found = ENTRY.match(line)
        if not found:
            continue
        indent, name = len(found.group(1)), found.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack and indent != stack[-1][0] + 2:
            continue  # not a child of the folder above: part of a description
        path = (stack[-1][1] if stack else "") + name
        entries.append(path)
        if name.endswith("/"):
            stack.append((indent, path))
    return entries


def _packages(folder: str) -> list[str]:
    return sorted(f"{init.parent.relative_to(ROOT)}/" for init in (ROOT / folder).rglob("__init__.py")
                  if "__pycache__" not in init.parts)


# -- the specification -----------------------------------------------------------------------------


def test_the_readme_is_a_front_page_under_300_lines():
    lines = len(_text(README).splitlines())
    assert lines < FRONT_PAGE_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_the_readme_links_every_page_of_docs():
    linked = {match.group(1).split("#")[0] for match in LINK.finditer(_text(README))}
    missing = [_relative(page) for page in DOCS if _relative(page) not in linked]
    assert not missing, f"README.md does not link: {missing}"


def test_every_path_named_in_the_docs_exists():
    missing = sorted(f"{_relative(page)}: {path}" for page in PAGES for path in _prose_paths(page)
                     if not _exists(path))
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


def test_every_dotted_module_or_name_in_the_docs_exists():
    missing = sorted({f"{_relative(page)}: {match.group(0)}" for page in PAGES
                      for match in DOTTED.finditer(_text(page)) if not _resolves(match.group(0))})
    assert not missing, "dotted names in the docs that resolve to nothing:\n" + "\n".join(missing)


def test_every_entry_of_the_architecture_map_exists():
    entries = _map_entries()
    assert len(entries) > 20, f"the map under '## Architecture' was not found: {entries}"
    missing = [entry for entry in entries if not _exists(entry)]
    assert not missing, "entries of README.md's map that do not exist:\n" + "\n".join(missing)


def test_the_architecture_map_names_every_package():
    entries = _map_entries()
    packages = _packages("include/findining_mlops") + _packages("plugins/findining_airflow") + _packages("devtools")
    patterns = [re.compile("^" + re.sub(r"<[^>]+>", "[^/]+", re.escape(entry)) + "$") for entry in entries]
    unnamed = [package for package in packages if not any(p.match(package) for p in patterns)]
    assert not unnamed, "packages missing from README.md's map:\n" + "\n".join(unnamed)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    anchors, fenced = set(), False
    for line in _text(page).splitlines():
        fenced ^= bool(FENCE.match(line))
        heading = None if fenced else re.match(r"^#+ (.*)", line)
        if heading:
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors


def test_every_relative_link_in_the_docs_points_to_a_file_and_heading():
    broken = []
    for page in PAGES:
        for match in LINK.finditer(_text(page)):
            target, _, anchor = match.group(1).partition("#")
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # a URL
            linked = page.parent / target if target else page
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{_relative(page)}: {match.group(1)}")
    assert not broken, "links to files or headings that do not exist:\n" + "\n".join(broken)
