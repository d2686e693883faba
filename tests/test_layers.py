"""The import graph read from the source (ast): arrows point down the layer order written in
README's "Layout", no module imports another that imports it back (function-local imports
included), flows/ uses only the top of the library, and no function in pose/ is over 60 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 60


def readme_layers() -> dict[str, int]:
    """Package name -> layer number, from the README list between the ``layers`` markers."""
    text = (PROJECT / "README.md").read_text("utf-8")
    block = text.split("<!-- layers: bottom to top -->", 1)[1].split("<!-- /layers -->", 1)[0]
    ranks: dict[str, int] = {}
    for rank, line in enumerate(ln for ln in block.splitlines() if re.match(r"\d+\. ", ln)):
        names = re.findall(r"`(\w+)`", line.split(":", 1)[0])
        ranks.update({name: rank for name in names})
    return ranks


def module_files(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``PROJECT / package``."""
    out = {}
    for path in sorted((PROJECT / package).rglob("*.py")):
        parts = list(path.relative_to(PROJECT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name the file imports, anywhere in it (function bodies included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a name resolves to its longest module prefix)."""
    modules = module_files("pose") | module_files("flows")
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                targets.add(name)
        graph[module] = targets
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "pose" and len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_readme_states_every_package() -> None:
    ranks = readme_layers()
    packages = {package_of(m) for m in module_files("pose")} - {"pose"}
    assert {"errors", "params", "data", "models", "engine", "publish", "pipeline", "cli"} <= set(ranks)
    assert packages <= set(ranks), f"packages missing from README's layer list: {sorted(packages - set(ranks))}"


def test_no_arrow_points_up() -> None:
    ranks = readme_layers()
    ranks["pose"] = 0  # the package root holds only __version__
    bad = [f"{a} -> {b}" for a, targets in import_graph().items() if a.startswith("pose")
           for b in sorted(targets) if ranks[package_of(b)] > ranks[package_of(a)]]
    assert not bad, "imports that point up the README's layer order:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_flows_use_only_the_top_of_the_library() -> None:
    bad = [f"{a} -> {b}" for a, targets in import_graph().items() if a.startswith("flows")
           for b in sorted(targets) if b.startswith("pose") and package_of(b) not in ("pipeline", "cli")]
    assert not bad, "flows/ may import only pose.pipeline and pose.cli:\n" + "\n".join(bad)


def test_no_function_is_over_60_lines() -> None:
    long = []
    for module, path in module_files("pose").items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, "functions over 60 lines:\n" + "\n".join(long)
