"""The layer rule of ARCHITECTURE.md, checked against every import in the package.

Every `import` counts: at module level, inside functions (a lazy import still ties the
importer to the imported at run time) and under `if TYPE_CHECKING:` (a type-only import still
means the lower layer knows the upper one). An import of `a.b.c` is an edge to `a.b.c` only,
not to its parent packages (Python runs their `__init__` too, but counting that would make
every package a cycle with its own submodules); `from a.b import c` is an edge to `a.b.c`
when `c` is a submodule, else to `a.b`.

Two checks: (a) no cycle between modules; (b) each module imports only its own unit or units
of lower layers, per LAYERS below, which must equal the table in ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Bottom to top. A unit is a package or module (the longest matching name wins); a module may
# import its own unit and any unit of a LOWER layer, never a sibling in its own layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("errors", "sigmask", "_forkserver_quiet", "runtime.naming",
              "runtime.linkkinds")),
    ("model and files", ("model", "textfile")),
    ("leaf services", ("probes", "image", "nsenter")),
    ("lab and evidence", ("runtime", "diagnose")),
    ("rule book", ("engine.judge",)),
    ("scenario", ("scenario",)),
    ("orchestration", ("engine", "baseline", "doctor")),
    ("outputs", ("reports", "discover", "vm")),
    ("commands", ("cli", "diagnose.recorded", "diagnose.catalogue")),
    ("entry points", ("__main__", "pytest_plugin", "vm.guest")),
)

def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """Every module of `known` that the module `name` imports, anywhere in its body."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _resolve(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield from _resolve(sub if sub in known else target, known)


def _resolve(target: str, known: set[str]) -> Iterator[str]:
    if target in known:
        yield target


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> modules of the package at `root` it imports."""
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {
            t for t in imports_of(tree, name, path.name == "__init__.py", known) if t != name
        }
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def unit_of(module: str, package: str,
            layers: Sequence[tuple[str, tuple[str, ...]]]) -> tuple[int, str]:
    """(layer number, unit) of a module: the longest unit name that is it or contains it."""
    best: tuple[int, str] | None = None
    for number, (_, units) in enumerate(layers):
        for unit in units:
            full = f"{package}.{unit}"
            if (module == full or module.startswith(full + ".")) and (
                best is None or len(unit) > len(best[1])
            ):
                best = (number, unit)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add its unit to LAYERS and "
                             "ARCHITECTURE.md")
    return best


def upward_imports(graph: Mapping[str, set[str]], package: str,
                   layers: Sequence[tuple[str, tuple[str, ...]]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that break the rule: same-layer siblings or upward."""
    bad: list[tuple[str, str]] = []
    for module, targets in sorted(graph.items()):
        if module == package:
            continue
        layer, unit = unit_of(module, package, layers)
        for target in sorted(targets):
            if target == package:
                continue
            t_layer, t_unit = unit_of(target, package, layers)
            if t_unit != unit and t_layer >= layer:
                bad.append((module, target))
    return bad


def architecture_table(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The layer table of ARCHITECTURE.md: `| layer | units |` rows, bottom first."""
    section = text.split("<!-- layers -->")[1]
    rows: list[tuple[str, tuple[str, ...]]] = []
    for line in section.splitlines():
        m = re.match(r"\|\s*\d+\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|", line)
        if m:
            units = tuple(u.strip().strip("`") for u in m[2].split(","))
            rows.append((m[1], units))
        elif rows and not line.startswith("|"):
            break
    return tuple(rows)


PACKAGE = ROOT / "netcheck"


@functools.cache
def package_graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def test_no_import_cycles() -> None:
    assert find_cycles(package_graph()) == []


def test_no_upward_imports() -> None:
    assert upward_imports(package_graph(), "netcheck", LAYERS) == [], (
        "import only your own unit or lower layers (ARCHITECTURE.md, layers)")


def test_every_module_has_a_layer() -> None:
    for module in package_graph():
        if module != "netcheck":
            unit_of(module, "netcheck", LAYERS)


def test_the_rule_is_the_one_architecture_md_states() -> None:
    assert architecture_table((ROOT / "ARCHITECTURE.md").read_text()) == LAYERS


# --- the checks themselves fail on a bad package ------------------------------------------

SYNTHETIC_LAYERS = (("low", ("low",)), ("high", ("high", "side")))


def synthetic(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in {"__init__.py": "", "low/__init__.py": "", "high/__init__.py": "",
                      "side.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_good_synthetic_package_passes(tmp_path: Path) -> None:
    root = synthetic(tmp_path, {"low/a.py": "X = 1\n",
                                "high/b.py": "from pkg.low.a import X\nfrom ..low import a\n"})
    graph = import_graph(root)
    assert graph["pkg.high.b"] == {"pkg.low.a"}
    assert upward_imports(graph, "pkg", SYNTHETIC_LAYERS) == []
    assert find_cycles(graph) == []


@pytest.mark.parametrize("where", [
    "from pkg.high import b\n",  # module level
    "def f():\n    from pkg.high.b import Y\n    return Y\n",  # inside a function
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.high.b\n",
    "from ..high import b\n",  # relative
])
def test_a_deliberately_upward_import_fails(tmp_path: Path, where: str) -> None:
    root = synthetic(tmp_path, {"low/a.py": where, "high/b.py": "Y = 1\n"})
    assert upward_imports(import_graph(root), "pkg", SYNTHETIC_LAYERS) == [
        ("pkg.low.a", "pkg.high.b")
    ]


def test_a_sibling_in_the_same_layer_is_refused(tmp_path: Path) -> None:
    root = synthetic(tmp_path, {"high/b.py": "import pkg.side\n"})
    assert upward_imports(import_graph(root), "pkg", SYNTHETIC_LAYERS) == [
        ("pkg.high.b", "pkg.side")
    ]


def test_a_cycle_fails_even_through_type_checking(tmp_path: Path) -> None:
    root = synthetic(tmp_path, {
        "low/a.py": "from pkg.low import c\n",
        "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from pkg.low.a import X\n",
    })
    assert find_cycles(import_graph(root)) == [["pkg.low.a", "pkg.low.c"]]


def test_a_module_in_no_layer_fails(tmp_path: Path) -> None:
    root = synthetic(tmp_path, {"stray.py": ""})
    with pytest.raises(AssertionError, match=r"pkg\.stray is in no layer"):
        unit_of("pkg.stray", "pkg", SYNTHETIC_LAYERS)
    assert "pkg.stray" in import_graph(root)


def test_a_table_that_differs_from_the_document_is_seen() -> None:
    doc = ("<!-- layers -->\n| # | layer | may be imported by higher layers |\n|---|---|---|\n"
           "| 0 | low | `low` |\n| 1 | high | `high`, `side` |\n\nprose\n")
    assert architecture_table(doc) == SYNTHETIC_LAYERS
    assert architecture_table(doc.replace("`side`", "`other`")) != SYNTHETIC_LAYERS
