"""Outside engine/models/, nothing branches on the model implementation: no isinstance (or
issubclass) of a concrete model class and no comparison of an implementation's name with a
literal. Code asks the family instead (`family_of(spec)`, engine/models/family.py).

The check walks each module's syntax tree, so a name in a string or a comment does not
count and an aliased or wrapped comparison still does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import REPO

ROOT = REPO
MODELS = ROOT / "engine" / "models"
CONCRETE = {"NumpyRNN", "ScratchRNN", "LibraryRNN", "ArrayModel"}


def _is_impl(node: ast.expr) -> bool:
    """`impl`, `x.impl` or `x["impl"]`: an implementation's name."""
    if isinstance(node, ast.Name):
        return node.id == "impl"
    if isinstance(node, ast.Attribute):
        return node.attr == "impl"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "impl"
    return False


def _is_literal(node: ast.expr) -> bool:
    """A string, or a tuple, list or set of them."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_is_literal(e) for e in node.elts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _names(node: ast.expr) -> set[str]:
    """The class names an isinstance second argument mentions (`A`, `m.A`, `(A, B)`)."""
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, (ast.Name, ast.Attribute))}


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(map(_is_impl, sides)) and any(map(_is_literal, sides)):
                found.append(f"line {node.lineno}: compares an implementation's name")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2
              and (hit := _names(node.args[1]) & CONCRETE)):
            found.append(f"line {node.lineno}: {node.func.id} of {', '.join(sorted(hit))}")
    return found


def _checked() -> list[Path]:
    files = [*(ROOT / "engine").rglob("*.py"), *(ROOT / "charrnn_tui").rglob("*.py")]
    return sorted(f for f in files if not f.is_relative_to(MODELS))


@pytest.mark.parametrize("source", [
    "if isinstance(model, NumpyRNN): pass",
    "ok = isinstance(m, (models.ArrayModel, int))",
    "ok = issubclass(cls, LibraryRNN)",
    'if spec.impl == "numpy": pass',
    'x = 1 if impl != "torch" else 2',
    'ok = args["impl"] in ("numpy", "scratch")',
    'ok = "scratch" == self.spec.impl',
])
def test_a_branch_on_the_implementation_is_found(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize("source", [
    "if family_of(spec).autograd: pass",
    "ok = isinstance(x, ModelSpec)",
    'text = f"{spec.impl}/{spec.cell}"',
    'ok = impl != model["impl"]',  # a choice compared with another, not with a name
    'ok = impl in IMPL_DEFAULTS',
    '"NumpyRNN"',
])
def test_asking_the_family_is_not_a_branch(source: str) -> None:
    assert violations(source) == []


def test_the_tree_keeps_model_knowledge_inside_models() -> None:
    files = _checked()
    assert len(files) > 50  # the walk found the tree
    found = [f"{f.relative_to(ROOT)}: {v}" for f in files
             for v in violations(f.read_text(encoding="utf-8"))]
    assert found == []
