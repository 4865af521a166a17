"""The import directions of docs/architecture.md, checked on the source (no imports executed).

- ``shared/``: the standard library only; pyzmq only where guarded: inside a ``try`` that handles
  ImportError, or inside a function (reached only once ``pyzmq_available()`` said yes).
- ``daemon/engine/``: the maths; no service, client, command line, bench or socket code.
- ``daemon/service/``: the daemon; never the command line or the bench.
- the plug-in (``gimp_plugin/neural-style/``): ``shared`` and GIMP (gi) only, besides its own modules.
- torchvision only inside a function (never imported on the main path: it cannot load next to the
  CPU build of torch).
- no import cycle among the project's modules, counting imports inside functions too (a lazy import
  is still a dependency a reader has to follow).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "gimp_plugin" / "neural-style"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def _module_name(path: Path) -> str:
    if path.parent == PLUGIN_DIR:
        return "plugin." + path.stem.replace("-", "_")
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> Dict[str, Path]:
    files = [p for d in ("daemon", "shared") for p in (ROOT / d).rglob("*.py")]
    files += sorted(PLUGIN_DIR.glob("*.py"))
    return {_module_name(p): p for p in files if "__pycache__" not in p.parts}


def _guarded(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    """Is the import inside a try whose handlers catch ImportError (or everything)?"""
    while node in parents:
        node, child = parents[node], node
        if isinstance(node, ast.Try) and child in node.body:
            for h in node.handlers:
                names = [] if h.type is None else [n.id for n in ast.walk(h.type) if isinstance(n, ast.Name)]
                if h.type is None or {"ImportError", "ModuleNotFoundError", "Exception"} & set(names):
                    return True
    return False


def _in_function(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
    return False


def imports(name: str, path: Path, modules: Dict[str, Path]) -> List[Tuple[str, ast.AST, dict]]:
    """(imported module, node, facts) for every import in the file; relative imports resolved, and
    ``from pkg import sub`` counted as an import of ``pkg.sub`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                if name.startswith("plugin."):
                    base = []  # the plug-in's siblings are imported as top-level modules
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
                if name.startswith("plugin.") and "plugin." + mod.split(".")[0] in modules:
                    mod = "plugin." + mod
            for a in node.names:
                sub = f"{mod}.{a.name}" if mod else a.name
                targets.append(sub if sub in modules else mod)
        else:
            continue
        facts = {"guarded": _guarded(node, parents), "in_function": _in_function(node, parents),
                 "line": node.lineno}
        for t in targets:
            if name.startswith("plugin.") and "plugin." + t.split(".")[0] in modules:
                t = "plugin." + t
            out.append((t, node, facts))
    return out


def _graph(modules) -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = {m: set() for m in modules}
    for m, p in modules.items():
        for t, _, _ in imports(m, p, modules):
            if t in modules and t != m:
                graph[m].add(t)
    return graph


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_package_of(pkg: str, module: str) -> bool:
    return module == pkg or module.startswith(pkg + ".")


def test_no_import_cycle():
    modules = project_modules()
    graph = _graph(modules)
    # a package's __init__ re-exporting its own modules is not a cycle a reader has to follow
    for m in graph:
        if modules[m].name == "__init__.py":
            graph[m] = {t for t in graph[m] if not _is_package_of(m, t)}
    assert _cycles(graph) == []


def _violations(rule) -> List[str]:
    modules = project_modules()
    bad = []
    for m, p in modules.items():
        for t, _, facts in imports(m, p, modules):
            why = rule(m, t, facts, modules)
            if why:
                bad.append(f"{p.relative_to(ROOT)}:{facts['line']} imports {t}: {why}")
    return bad


def test_shared_uses_the_standard_library_only():
    def rule(m, t, facts, modules):
        if not m.startswith("shared") or _is_package_of("shared", t) or t.split(".")[0] in STDLIB:
            return None
        if t.split(".")[0] == "zmq" and (facts["guarded"] or facts["in_function"]):
            return None
        return "shared/ may use the standard library (and pyzmq where guarded) only"
    assert _violations(rule) == []


def test_engine_knows_nothing_of_service_client_or_command_line():
    def rule(m, t, facts, modules):
        if not _is_package_of("daemon.engine", m):
            return None
        for pkg in ("daemon.service", "daemon.cli", "daemon.bench", "shared", "zmq"):
            if _is_package_of(pkg, t):
                return "the engine is the maths only"
        return None
    assert _violations(rule) == []


def test_service_never_imports_the_command_line():
    def rule(m, t, facts, modules):
        if _is_package_of("daemon.service", m) and any(_is_package_of(p, t) for p in ("daemon.cli", "daemon.bench")):
            return "the service never imports the command line"
        return None
    assert _violations(rule) == []


def test_plugin_uses_shared_and_gimp_only():
    def rule(m, t, facts, modules):
        if not m.startswith("plugin."):
            return None
        top = t.split(".")[0]
        if top in STDLIB or top in ("gi", "shared", "plugin"):
            return None
        return "the plug-in uses shared/ and GIMP only"
    assert _violations(rule) == []


def test_torchvision_is_never_imported_on_the_main_path():
    def rule(m, t, facts, modules):
        if t.split(".")[0] == "torchvision" and not facts["in_function"]:
            return "torchvision only inside the function that loads its weights"
        return None
    assert _violations(rule) == []


def test_the_checks_see_the_project():
    """The rules above would pass on an empty list: make sure they read the real tree."""
    modules = project_modules()
    assert {"daemon.engine.transfer", "shared.client", "shared.protocol"} <= set(modules)
    assert any(m.startswith("plugin.") for m in modules)
    graph = _graph(modules)
    assert "daemon.engine.losses" in graph["daemon.engine.transfer"]
    # a made-up cycle is found
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
