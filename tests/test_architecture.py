"""The import structure of market/: no cycles, and lower layers never reach up into a feature.

The graph is read from the source with `ast` (nothing is imported), every `import` and `from ... import` counted
wherever it stands: at module level, inside a function, under `if TYPE_CHECKING`. An import moved into a function
to dodge a cycle is still the cycle. Run `python tests/test_architecture.py` to print the report.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "market"

#: features: one package per part of the product; they may use each other and everything below
FEATURES = ("auth", "listings", "review", "admin", "deals", "contracts", "dashboard", "matching", "notifications")
#: the layers features stand on: these import only each other (and libraries), never a feature or the app's wiring
FEATURES += ("members",)  # 单位成员 and invitation links (issue 17 item 6)
LOWER = ("models", "extensions", "database", "money", "text", "forms", "permissions", "errors", "events",
         "registries", "jobs", "search", "orgs", "outbox", "imports", "clitools", "reference", "pagination",
         "sanitize", "uscc", "config", "data", "formtokens", "redisconn")
LOWER += ("divisions",)  # where parties are (issue 16): the national division list, 国别, flow classes
LOWER += ("broker_cert",)  # the 技术经纪人证书编号 rule shared by registration, the admin forms and the registry
FEATURES += ("registration",)  # 技术合同登记: 登记点, 登记员, submissions, 登记证明 (issue 16 item 4)
FEATURES += ("happenings",)  # events: 路演, 对接会, 成果巡展 with sign-up and check-in (issue 19 section 2)
FEATURES += ("agencies",)  # 服务机构, 技术经纪人, 专家库 (issue 19 section 3)
FEATURES += ("campaigns",)  # 揭榜挂帅: 榜单, 榜, 揭榜方案, panel scores, 公示 (issue 19 section 1)
FEATURES += ("api",)  # the open JSON API /api/v1 and the account's API tokens (issue 21)
FEATURES += ("auctions",)  # 竞价 sessions: lots, deposits, bids and proxies, the close, results (issue 20)
FEATURES += ("transfers",)  # 协议定价 公示 with objections, and 挂牌 at a fixed price (issue 20 sections 1-2)
#: the rest wires the app together and may import anything: create_app (market/__init__.py), what it registers,
#: the demo, the home page
WIRING = ("blueprints", "cli", "pipeline", "pagecache", "security", "templating", "seed", "backup", "main")
WIRING += ("usercache",)  # the signed-in page cache (issue 18), registered by create_app beside the page cache


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under market/ (a package by its __init__.py)."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours that `name` (a module or a name inside one) lives in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_edges(known: dict[str, Path] | None = None) -> dict[str, dict[str, str]]:
    """module -> {imported module -> "file:line" of its first import}, for imports of market modules."""
    known = known if known is not None else modules()
    edges: dict[str, dict[str, str]] = defaultdict(dict)
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # `from market.search import analyzer` imports the submodule; `from .models import User` the package
                submodules = [f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known]
                targets = submodules or [source]
            else:
                continue
            for target in targets:
                if target != PACKAGE and not target.startswith(PACKAGE + "."):
                    continue
                imported = _owner(target, known)
                if imported and imported != module:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    edges[module].setdefault(imported, where)
    return dict(edges)


def cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        # iterative Tarjan: (node, iterator over its successors)
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(edges: dict[str, dict[str, str]]) -> list[str]:
    """"file:line: a -> b" for every import from a lower layer to anything that is not a lower layer."""
    out = []
    for module, imported in sorted(edges.items()):
        if _top(module) not in LOWER:
            continue
        for target, where in sorted(imported.items()):
            if _top(target) not in LOWER:
                kind = "a feature" if _top(target) in FEATURES else "the app's wiring"
                out.append(f"{where}: {module} -> {target} (a lower layer importing {kind})")
    return out


def _cycle_report(component: list[str], edges: dict[str, dict[str, str]]) -> str:
    members = set(component)
    lines = [f"cycle among {', '.join(component)}:"]
    for module in component:
        for target, where in sorted(edges.get(module, {}).items()):
            if target in members:
                lines.append(f"    {where}: {module} -> {target}")
    return "\n".join(lines)


def test_every_top_level_part_is_classified_or_wiring():
    """A new top-level package or module is placed in a layer on purpose (or left to the wiring list)."""
    tops = {_top(m) for m in modules()} - {""}
    assert tops - set(FEATURES) - set(LOWER) - set(WIRING) == set()


def test_no_import_cycle():
    edges = import_edges()
    found = cycles(edges)
    assert not found, "\n" + "\n".join(_cycle_report(c, edges) for c in found)


def test_no_lower_layer_imports_a_feature():
    violations = layer_violations(import_edges())
    assert not violations, "\n" + "\n".join(violations)


def test_the_check_sees_function_level_imports_and_cycles(tmp_path):
    """The checker itself: a late import inside a function is an edge, and a two-module loop is a cycle."""
    pkg = tmp_path / PACKAGE
    (pkg / "models").mkdir(parents=True)
    (pkg / "deals").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("from .user import User\n")
    (pkg / "models" / "user.py").write_text("def f():\n    from ..deals.access import g\n")
    (pkg / "deals" / "__init__.py").write_text("")
    (pkg / "deals" / "access.py").write_text("from ..models import User\n")
    known = modules(tmp_path)
    edges = {m: {t: w.replace(str(tmp_path) + "/", "") for t, w in e.items()}
             for m, e in _edges_under(tmp_path, known).items()}
    assert edges["market.models.user"] == {"market.deals.access": "market/models/user.py:2"}
    assert cycles(edges) == [["market.deals.access", "market.models", "market.models.user"]]
    assert layer_violations(edges) == [
        "market/models/user.py:2: market.models.user -> market.deals.access (a lower layer importing a feature)"]


def _edges_under(root: Path, known: dict[str, Path]) -> dict[str, dict[str, str]]:
    global ROOT
    saved, ROOT = ROOT, root
    try:
        return import_edges(known)
    finally:
        ROOT = saved


if __name__ == "__main__":
    graph = import_edges()
    problems = [_cycle_report(c, graph) for c in cycles(graph)] + layer_violations(graph)
    print("\n".join(problems) or f"{len(graph)} modules, no cycle, no lower layer importing upwards")
    sys.exit(1 if problems else 0)
