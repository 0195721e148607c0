"""The layout STYLE.md and docs/architecture.md describe, checked on the code itself.

- `policy_agent.records` is a leaf: a reader of `episodes.jsonl` needs only pydantic; the store,
  `policy_agent.trajectory`, needs only the records.
- No package imports another package's private (`_module`) files: public names only.
- Every `match` over one of our unions ends with `case _: assert_never(...)`, so mypy names the
  match a new variant leaves unhandled.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "policy_agent"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Matches that are not over a closed union, each with the reason.
NOT_OVER_A_UNION = {
    ("simulation/_loop.py", "_failure"): "exceptions: what is not ours is a bug, handled after",
    ("expressions/_ast.py", "children"): "a class hierarchy of syntax nodes, not a union",
    ("expressions/_ast.py", "to_source"): "a class hierarchy of syntax nodes, not a union",
    ("expressions/_ast.py", "_precedence"): "a class hierarchy of syntax nodes, not a union",
    ("expressions/_evaluate.py", "_value"): "a class hierarchy of syntax nodes, not a union",
    ("format/_grammar_syntax.py", "_quantifier"): "a guarded match on two numbers",
    ("scripted/_from_run.py", "_said"): "a filter: the records a model wrote, nothing else",
    ("scripted/_from_run.py", "_unless"): "a guarded test of a recorded string",
    ("tui/_conversation.py", "action_unfold"): "a Textual action's string argument",
}


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_the_records_package_imports_nothing_of_the_runtime() -> None:
    allowed_roots = {"pydantic", "pydantic_core", "policy_agent"} | set(sys.stdlib_module_names)
    found = []
    for path in (PACKAGE / "records").rglob("*.py"):
        for name in _imports(ast.parse(path.read_text())):
            root = name.split(".")[0]
            ours = name == "policy_agent.records" or name.startswith("policy_agent.records.")
            if root not in allowed_roots or (root == "policy_agent" and not ours):
                found.append(f"{_relative(path)}: {name}")
    assert found == []


def _loaded_by(module: str, *others: str) -> tuple[list[str], list[bool]]:
    """What importing `module` alone, in a fresh interpreter, loads: the packages of ours (the
    name after `policy_agent.`) and, for each of `others`, whether it was loaded."""
    code = (
        f"import sys, json, {module}\n"
        "ours = {m.split('.')[1] for m in sys.modules if m.startswith('policy_agent.')}\n"
        f"print(json.dumps([sorted(ours), [name in sys.modules for name in {list(others)!r}]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ours, present = json.loads(out.stdout)
    return ours, present


def test_reading_records_loads_no_other_package_of_ours() -> None:
    assert _loaded_by("policy_agent.records", "litellm") == (["records"], [False])


def test_the_store_loads_only_the_records() -> None:
    # A trainer or a reader that opens runs (`policy_agent.trajectory`) pays for no runtime:
    # the store hashed configs through `environment`, which loaded domain, expressions and
    # jsonschema too (a second more before the first line was read).
    loaded = _loaded_by("policy_agent.trajectory", "litellm", "jsonschema")
    assert loaded == (["errors", "records", "trajectory"], [False, False])


def test_no_package_imports_another_packages_private_modules() -> None:
    found = []
    for path in MODULES:
        package = path.relative_to(PACKAGE).parts[0]
        for name in _imports(ast.parse(path.read_text())):
            parts = name.split(".")
            private = next((i for i, part in enumerate(parts) if part.startswith("_")), None)
            if parts[0] != "policy_agent" or private is None or private < 2:
                continue
            if parts[1] != package:
                found.append(f"{_relative(path)}: {name}")
    assert found == []


def _matches() -> list[tuple[str, str, ast.Match]]:
    found = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [
                    (_relative(path), function.name, node)
                    for node in ast.walk(function)
                    if isinstance(node, ast.Match)
                ]
    return found


def _ends_with_assert_never(match: ast.Match) -> bool:
    last = match.cases[-1]
    wildcard = isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None
    return wildcard and last.guard is None and "assert_never(" in ast.unparse(last.body[-1])


@pytest.mark.parametrize(
    ("where", "function", "match"),
    [m for m in _matches() if (m[0], m[1]) not in NOT_OVER_A_UNION],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_match_over_a_union_ends_with_assert_never(
    where: str, function: str, match: ast.Match
) -> None:
    assert _ends_with_assert_never(match), f"{where}:{match.lineno} in {function}"


def test_the_exceptions_to_the_match_rule_still_exist() -> None:
    # An entry left behind after its match is gone would let a new match slip through.
    present = {(where, function) for where, function, _ in _matches()}
    assert set(NOT_OVER_A_UNION) <= present


def test_every_public_error_has_the_one_root() -> None:
    import importlib

    from policy_agent.errors import PolicyAgentError

    outside = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        module = importlib.import_module(f"policy_agent.{init.parent.name}")
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if (
                isinstance(value, type)
                and issubclass(value, Exception)
                and not issubclass(value, Warning)
                and not issubclass(value, PolicyAgentError)
            ):
                outside.append(f"policy_agent.{init.parent.name}.{name}")
    assert outside == []
