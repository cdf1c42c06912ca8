"""The layer rules of DESIGN.md §2, checked on the source tree with the ``ast`` module.

1. Core packages (crypto ... node) import no IO or nondeterminism modules and never
   call ``open()``; the one exception is ``crypto/entropy.py``'s use of ``os.urandom``.
2. Imports go only downwards in the layer order, and siblings (link, routing, session;
   crypto, wire; runtime, sim) never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "meshnet"

CORES = ("crypto", "wire", "noise", "link", "routing", "session", "services", "node")
FORBIDDEN_IN_CORES = {
    "asyncio",
    "socket",
    "selectors",
    "threading",
    "time",
    "random",
    "subprocess",
    "multiprocessing",
    "secrets",
}

# Rank in the import order; a module may import only packages of strictly lower rank
# (or its own package, or the shared leaves ``errors`` and ``ids``).
RANK = {
    "wire": 0,
    "crypto": 0,
    "noise": 1,
    "link": 2,
    "routing": 2,
    "session": 2,
    "services": 3,
    "node": 4,
    "api": 5,
    "runtime": 6,
    "sim": 6,
    "cli": 7,
    "demo": 7,
}
SHARED = {"errors", "ids", "version", "deadlines"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _imports(tree: ast.AST, path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the module's package
                base = list(path.relative_to(SRC.parent).with_suffix("").parts)
                base = base[: len(base) - node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((name, node.lineno))
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_layer_rules(path: Path) -> None:
    pkg = _package_of(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    problems: list[str] = []
    for name, line in _imports(tree, path):
        top = name.split(".")[0]
        if pkg in CORES and top in FORBIDDEN_IN_CORES:
            problems.append(f"line {line}: core package {pkg!r} imports {name!r}")
        if top != "meshnet" or pkg not in RANK:
            continue
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else ""
        if target in SHARED or target == pkg:
            continue
        if target == "":
            problems.append(f"line {line}: imports the root facade; import the defining module")
        elif target in RANK and RANK[target] >= RANK[pkg]:
            problems.append(f"line {line}: {pkg!r} may not import {name!r} (layer order)")
    if pkg in CORES:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "open"
            ):
                problems.append(f"line {node.lineno}: core package {pkg!r} calls open()")
    assert not problems, "\n".join(problems)


def test_checker_catches_violations(tmp_path: Path) -> None:
    """The rule must be able to fail: a core importing asyncio is reported."""
    bad = ast.parse("import asyncio\nfrom meshnet.node import Node\n")
    names = [n for n, _ in _imports(bad, SRC / "link" / "x.py")]
    assert "asyncio" in names
    assert "meshnet.node" in names
    assert RANK["node"] >= RANK["link"]
