"""The repository's import layers, read from the source with `ast`, and the contracts they keep.

Every `import` and `from ... import` counts, including those inside functions (a lazy import is
still a dependency); imports under `if TYPE_CHECKING:` do not (they never run). Run it as
`python tools/layers.py` (exit status 1 and one line per broken contract) or through
tests/unit/test_layers.py, which `make check` and `make test` run.

Contracts:
- the function (cgw_provisioner, index) never imports localcloud, tools or bench;
- in the function only the adapters (cgw_provisioner.vpc, .destinations, .token_queue) import a
  cloud SDK;
- localcloud never imports the function;
- localcloud's service packages (auth, vpc, mns, fc) never import localcloud.server;
- tools never imports bench (the reliability tool must not depend on the benchmarks);
- no import circle among the repository's modules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"
# Where each top-level name lives: the function's directory is its own import root (as on FC).
SOURCE_ROOTS = {
    "cgw_provisioner": FUNCTION_DIR,
    "index": FUNCTION_DIR,
    "localcloud": ROOT,
    "tools": ROOT,
    "bench": ROOT,
}
FUNCTION = ("cgw_provisioner", "index")
FUNCTION_ADAPTERS = (
    "cgw_provisioner.vpc",
    "cgw_provisioner.destinations",
    "cgw_provisioner.token_queue",
)
CLOUD_SDKS = (
    "aliyunsdkcore",
    "aliyunsdkvpc",
    "alibabacloud_vpc20160428",
    "alibabacloud_tea_openapi",
    "Tea",
    "mns",
    "fc2",
    "requests",
)
LOCALCLOUD_SERVICES = ("localcloud.auth", "localcloud.vpc", "localcloud.mns", "localcloud.fc")
SERVER = ("localcloud.server", "localcloud.__main__")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def within(module: str, packages: Iterable[str]) -> bool:
    """Is `module` one of `packages` or inside one of them?"""
    return any(module == p or module.startswith(p + ".") for p in packages)


def module_name(path: Path) -> str:
    """The dotted name a file is imported as (relative to its source root)."""
    for top, root in SOURCE_ROOTS.items():
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            continue
        if relative.parts[0] not in (top, f"{top}.py"):
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)
    raise ValueError(f"{path} is not under a known source root")


def source_files() -> dict[str, Path]:
    """Every module of the repository's Python packages, by dotted name."""
    files: dict[str, Path] = {}
    for top, root in SOURCE_ROOTS.items():
        candidates = [root / f"{top}.py"] if top == "index" else (root / top).rglob("*.py")
        for path in candidates:
            if path.is_file():
                files[module_name(path)] = path
    return files


def imports_in(
    source: str, module: str, is_package: bool, known: Iterable[str] = ()
) -> list[Import]:
    """The imports `module`'s source makes at run time, resolved to dotted names.

    `from a import b` names the module `a.b` when that is one of `known`, else `a`.
    """
    known_set = set(known)
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in _runtime_nodes(tree.body):
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in known_set else base
                found.append(Import(module, target, node.lineno))
    return found


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _runtime_nodes(body: Iterable[ast.stmt]) -> Iterator[ast.AST]:
    """Every node, skipping the bodies of `if TYPE_CHECKING:` (but not their `else`)."""
    for statement in body:
        if isinstance(statement, ast.If) and _is_type_checking(statement.test):
            yield from _runtime_nodes(statement.orelse)
            continue
        yield statement
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                yield from _runtime_nodes([child])
            else:
                yield from ast.walk(child)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def all_imports(files: Mapping[str, Path]) -> list[Import]:
    found: list[Import] = []
    for name, path in sorted(files.items()):
        source = path.read_text(encoding="utf-8")
        found.extend(imports_in(source, name, path.name == "__init__.py", files))
    return found


def broken_contracts(imports: Iterable[Import], modules: Iterable[str]) -> list[str]:
    """One line per import that breaks a contract, and one per import circle."""
    problems: list[str] = []
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        a, b = imp.importer, imp.imported
        where = f"{a} (line {imp.line}) imports {b}"
        if within(a, FUNCTION) and within(b, ("localcloud", "tools", "bench")):
            problems.append(f"{where}: the function never imports localcloud, tools or bench")
        if within(a, FUNCTION) and within(b, CLOUD_SDKS) and not within(a, FUNCTION_ADAPTERS):
            problems.append(f"{where}: only {', '.join(FUNCTION_ADAPTERS)} import cloud SDKs")
        if within(a, ("localcloud",)) and within(b, FUNCTION):
            problems.append(f"{where}: localcloud never imports the function")
        if within(a, LOCALCLOUD_SERVICES) and within(b, SERVER):
            problems.append(f"{where}: a localcloud service never imports the server")
        if b == "localcloud" and within(a, LOCALCLOUD_SERVICES):
            problems.append(f"{where}: the package root re-exports the server")
        if within(a, ("tools",)) and within(b, ("bench",)):
            problems.append(f"{where}: tools never imports bench")
        if a in edges and b in edges and a != b:
            edges[a].add(b)
    for circle in import_circles(edges):
        problems.append("import circle among: " + ", ".join(circle))
    return list(dict.fromkeys(problems))  # `from a import b, c` is one line, said once


def import_circles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return circles


def main() -> int:
    files = source_files()
    problems = broken_contracts(all_imports(files), files)
    for problem in problems:
        print(problem)
    print(f"{len(files)} modules, {len(problems)} broken contract(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
