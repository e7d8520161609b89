"""Compile our packages' bytecode for the Lambda zip without their docstrings, keeping their sources.

    python -X no_debug_ranges scripts/compile_without_docstrings.py DIR [DIR ...]

Writes each module's __pycache__/<name>.<cache tag>.pyc as unchecked-hash bytecode (valid whatever the
zip's timestamps). Unlike `python -OO`, asserts stay and the file name is the one a normal interpreter
loads; line numbers are the source's, so tracebacks still quote the shipped .py. Nothing a function
runs reads our docstrings (they document the code; the CLI, which shows some as help, is not in the
zip), and they are a tenth of our bytecode.
"""

from __future__ import annotations

import ast
import importlib.util
import marshal
import sys
from pathlib import Path

UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, not checked against the source


class _DocstringRemover(ast.NodeTransformer):
    def _without_docstring(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        body: list[ast.stmt] = node.body  # type: ignore[attr-defined]
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            rest = body[1:]
            node.body = rest or [ast.copy_location(ast.Pass(), first)]  # type: ignore[attr-defined]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _without_docstring


def compile_module(path: Path) -> None:
    source = path.read_bytes()
    tree = _DocstringRemover().visit(ast.parse(source, filename=str(path)))
    code = compile(tree, str(path), "exec", dont_inherit=True)
    header = (
        importlib.util.MAGIC_NUMBER
        + UNCHECKED_HASH.to_bytes(4, "little")
        + importlib.util.source_hash(source)
    )
    target = Path(importlib.util.cache_from_source(str(path)))
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(header + marshal.dumps(code))


def main(directories: list[str]) -> None:
    for directory in directories:
        for path in sorted(Path(directory).rglob("*.py")):
            compile_module(path)


if __name__ == "__main__":
    main(sys.argv[1:])
