"""The shape of the code: no import cycle inside `shop/`, no module importing another's private
names, every route reached through its area's package, forms in `forms.py`."""

import ast
from pathlib import Path

SHOP = Path(__file__).resolve().parent.parent / "shop"

# Imports made inside a function to call "up" the layers, each with its reason. Anything else
# that closes a cycle (even inside a function) fails.
DEFERRED = {
    # A unit back on sale goes to the first person in line; the waitlist builds on devices.
    ("shop.services.devices", "shop.services.waitlist"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SHOP.rglob("*.py"):
        parts = path.relative_to(SHOP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules) -> list[tuple[str, str, bool]]:
    """(imported module, first name imported, at module level?) for each import of a shop module."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                if target in modules and target != name:
                    found.append((target, alias.name, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules and alias.name != name:
                    found.append((alias.name, alias.name, id(node) in top))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph(*, with_deferred: bool) -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _name, at_top in _imports(name, path, modules):
            if at_top or (with_deferred and (name, target) not in DEFERRED):
                graph[name].add(target)
    return graph


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_at_module_level():
    assert _cycles(_graph(with_deferred=False)) == []


def test_no_import_cycle_even_through_imports_inside_functions():
    assert _cycles(_graph(with_deferred=True)) == []


def test_the_deferred_imports_listed_are_still_there():
    modules = _modules()
    for source, target in DEFERRED:
        assert any(t == target and not top for t, _n, top in _imports(source, modules[source], modules))


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    found = [f"{name} imports {target}.{imported}"
             for name, path in modules.items()
             for target, imported, _top in _imports(name, path, modules)
             if imported.startswith("_") and not imported.startswith("__")]
    assert found == []


def test_each_area_package_imports_all_its_route_modules_and_create_app_none():
    factory = (SHOP / "__init__.py").read_text()
    for package in sorted(p.parent for p in SHOP.glob("*/__init__.py")):
        route_modules = {p.stem for p in package.glob("*.py") if "@bp." in p.read_text()}
        if not route_modules:
            continue
        init = (package / "__init__.py").read_text()
        for module in route_modules:
            assert f"shop.{package.name}.{module} import bp" in init or f" {module}" in init.split("import", 2)[-1], (
                f"shop/{package.name}/__init__.py does not import {module}")
            assert f"shop.{package.name}.{module}" not in factory and f"{package.name}.{module}" not in factory


def test_forms_live_in_forms_modules():
    allowed = {
        # Its choices are built from the audit log's own tables of actions, kept with its views.
        "shop/admin/audit_views.py",
    }
    for path in SHOP.glob("*/*.py"):
        if path.name == "forms.py" or str(path.relative_to(SHOP.parent)) in allowed:
            continue
        tree = ast.parse(path.read_text())
        forms = [node.name for node in tree.body if isinstance(node, ast.ClassDef)
                 and any(ast.unparse(b).endswith("Form") for b in node.bases)]
        assert forms == [], f"{path.relative_to(SHOP.parent)} defines {forms}: put them in forms.py"
