"""The shape of the code: functions short enough to read at a glance, and every silenced type
error named and explained."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "listener"
EXEMPT = PACKAGE / "simulator"
MAX_LINES = 60
TYPED = ("listener", "testbed", "tests", "bench")
"""The folders mypy checks."""
EXPLAINED_IGNORE = re.compile(r"# type: ignore\[[a-z-]+(, [a-z-]+)*\]  # \S")


def functions(path: Path) -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, line count) of every function in ``path``, nested ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                assert child.end_lineno is not None
                yield name, child.lineno, child.end_lineno - first + 1
                yield from walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


def long_functions(root: Path, *, exempt: Path, limit: int) -> list[str]:
    """``path:line name (n lines)`` for every function under ``root`` longer than ``limit``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(exempt):
            continue
        for name, line, length in functions(path):
            if length > limit:
                found.append(f"{path.relative_to(root.parent)}:{line} {name} ({length} lines)")
    return found


def test_no_function_outside_the_simulator_is_longer_than_60_lines() -> None:
    """Every function in listener/ (the simulator aside) fits in 60 lines, decorators included."""
    assert long_functions(PACKAGE, exempt=EXEMPT, limit=MAX_LINES) == []


def test_the_check_finds_a_long_function(tmp_path: Path) -> None:
    """The walk reports a 61-line method by its qualified name, and skips the exempt folder."""
    body = "\n".join(f"        x = {n}" for n in range(59))
    source = f"class C:\n    def long(self) -> None:\n{body}\n        return None\n"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(source, encoding="utf-8")
    (tmp_path / "pkg" / "skipped").mkdir()
    (tmp_path / "pkg" / "skipped" / "mod.py").write_text(source, encoding="utf-8")
    found = long_functions(tmp_path / "pkg", exempt=tmp_path / "pkg" / "skipped", limit=60)
    assert found == ["pkg/mod.py:2 C.long (61 lines)"]


def unexplained_ignores(source: str) -> list[int]:
    """Lines of ``source`` whose ``type: ignore`` comment lacks an error code or a reason."""
    return [
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
        and "type: ignore" in token.string
        and not EXPLAINED_IGNORE.match(token.string)
    ]


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    """A silenced type error reads ``# type: ignore[code]  # why``, in all the checked code."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in TYPED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in unexplained_ignores(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_ignore_check_finds_bare_and_unexplained_ignores() -> None:
    """Without a code, or without a reason, an ignore is reported; with both it is not."""
    source = (
        "a = 1  # type: ignore\n"
        "b = 2  # type: ignore[arg-type]\n"
        "c = 3  # type: ignore[arg-type]  # the wrong type on purpose\n"
        'd = "# type: ignore"\n'
    )
    assert unexplained_ignores(source) == [1, 2]
