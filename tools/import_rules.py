"""The import rules of the house (DESIGN.md: "the import graph is part of the design"), checked over the AST.

    .venv/bin/python tools/import_rules.py          # exit 1 and one line per violation; run by `make test`

Every import statement counts, at module level or inside a function (a lazy import is still a dependency),
except those under `if TYPE_CHECKING:` (annotations only; they never run). The rules:
  cycle        no import cycle among the project's modules;
  tensorflow   `kws` never imports TensorFlow (tensorflow, tf_keras, onnx2tf, ai_edge_litert);
  export-edge  `kws` imports `export` only from its CLI edge (kws.commands.*);
  device-eval  `kws.device` never imports `kws.eval`;
  private      no module imports another module's private (_underscore) name.
Why our own checker rather than import-linter's contracts: the private-name rule and the TYPE_CHECKING
exemption need the AST anyway, and the whole check is ~150 lines with no extra dependency.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kws", "export")
TENSORFLOW = ("tensorflow", "tf_keras", "onnx2tf", "ai_edge_litert")
CLI_EDGE = "kws.commands"


@dataclass(frozen=True)
class Violation:
    rule: str
    module: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.module}:{self.line}: {self.text}"


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module."""
    target: str
    """The imported module (for `from a.b import c`: a.b.c when that is a module, else a.b)."""
    names: tuple[str, ...]
    """Names taken from the target (`from x import a, b`); empty for `import x`."""
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def collect_imports(root: Path, packages: Sequence[str] = PACKAGES) -> tuple[set[str], list[Import]]:
    """(the project's modules, every import statement in them) for the packages under `root`."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    modules = set(files)
    imports: list[Import] = []
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _walk(tree):
            if isinstance(node, ast.Import):
                imports.extend(Import(name, alias.name, (), node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                    base = ".".join(anchor + ([base] if base else []))
                names = tuple(alias.name for alias in node.names)
                submodules = [n for n in names if f"{base}.{n}" in modules]
                for sub in submodules:
                    imports.append(Import(name, f"{base}.{sub}", (), node.lineno))
                rest = tuple(n for n in names if n not in submodules)
                if rest or not submodules:
                    imports.append(Import(name, base, rest, node.lineno))
    return modules, imports


def _project_target(target: str, modules: set[str]) -> str | None:
    """The project module an import resolves to (the longest known prefix), None for third-party ones."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def find_cycles(modules: set[str], imports: list[Import]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        target = _project_target(imp.target, modules)
        if target is not None and target != imp.module and not imp.module.startswith(target + "."):
            graph[imp.module].add(target)  # a package's own __init__ is not a cycle with its submodules
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm (iterative depth is small: ~100 modules)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return out


def check(root: Path = REPO, packages: Sequence[str] = PACKAGES) -> list[Violation]:
    """Every violation of the rules in the module docstring."""
    modules, imports = collect_imports(root, packages)
    found: list[Violation] = []
    for cycle in find_cycles(modules, imports):
        found.append(Violation("cycle", cycle[0], 0, " -> ".join(cycle)))
    for imp in imports:
        top = imp.target.split(".")[0]
        if imp.module.split(".")[0] == "kws":
            if top in TENSORFLOW:
                found.append(Violation("tensorflow", imp.module, imp.line, f"imports {imp.target}"))
            if top == "export" and not (imp.module == CLI_EDGE or imp.module.startswith(CLI_EDGE + ".")):
                found.append(Violation("export-edge", imp.module, imp.line,
                                       f"imports {imp.target} (only {CLI_EDGE}.* may import export)"))
            if imp.module.startswith("kws.device") and imp.target.startswith("kws.eval"):
                found.append(Violation("device-eval", imp.module, imp.line, f"imports {imp.target}"))
        target = _project_target(imp.target, modules)
        if target is not None and target != imp.module:
            for name in imp.names:
                if name.startswith("_") and not name.startswith("__"):
                    found.append(Violation("private", imp.module, imp.line, f"imports {target}.{name}"))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="folder holding the packages (default: the repo)")
    args = parser.parse_args(argv)
    violations = check(args.root)
    for violation in violations:
        print(violation)
    print(f"import rules: {len(violations)} violation(s) in {', '.join(PACKAGES)}", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
