"""Python tools: `python: tools/hotel.py:request_cribs` runs `request_cribs(db, **arguments)`.

The file is found inside the pack's repository (after resolving symlinks: a link pointing out
of the repository is refused), imported once under a private module name (so that no two packs'
`tools/hotel.py` collide, and no top-level `tools` package is created), and cached.

A tool reads and writes the episode's `Database` (the records it reads are shared and
read-only: it writes with `db.update`); it returns any JSON-able value (pydantic models and
dataclasses are converted) and raises `ToolError` to refuse. The file's own imports
resolve through the normal `sys.path`: import shared code from an installed package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

from pydantic import JsonValue
from pydantic_core import PydanticSerializationError, to_jsonable_python

from policy_agent.domain import PythonImplementation, ToolSpec
from policy_agent.environment._database import Database
from policy_agent.environment._errors import ToolDefinitionError
from policy_agent.environment._records import copy_json

_modules: dict[tuple[Path, int], ModuleType] = {}
"""Loaded tool files by resolved path and modification time: a file edited on disk reloads."""


class PythonTool:
    """A pack tool implemented by a Python function."""

    def __init__(self, tool: ToolSpec, implementation: PythonImplementation, repository: Path):
        """Import the function; ToolDefinitionError if the file or function cannot be used."""
        self.name = tool.name
        self.reference = implementation.python
        """`file.py:function`, as the pack names it."""
        self._function = load_function(implementation.python, repository, owner=f"tool {tool.name}")

    def run(self, database: Database, arguments: Mapping[str, JsonValue]) -> JsonValue:
        """Call `function(database, **arguments)` and return its result as JSON values.

        ToolError from the function propagates (a refusal); so does anything else (a crash).
        """
        result = self._function(database, **arguments)
        try:
            jsonable = to_jsonable_python(result)
        except PydanticSerializationError as error:
            raise TypeError(
                f"tool {self.name} returned a value that is not JSON ({error}); return dicts, "
                "lists, strings, numbers, booleans, None or pydantic models"
            ) from None
        return copy_json(jsonable, where=f"the result of {self.name}")


def load_function(reference: str, repository: Path, *, owner: str) -> Callable[..., object]:
    """The function `path.py:function` names; ToolDefinitionError (naming `owner`) if unusable."""
    relative, function_name = reference.rsplit(":", 1)
    path = _resolve(owner, relative, repository)
    module = _load(owner, path)
    function: object = getattr(module, function_name, None)
    if not callable(function):
        defined = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise ToolDefinitionError(
            f"{owner}: python: {relative} has no function {function_name!r}; "
            f"it defines: {', '.join(defined) or '(nothing callable)'}"
        )
    return function


def _resolve(tool: str, relative: str, repository: Path) -> Path:
    root = repository.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ToolDefinitionError(
            f"{tool}: python: {relative} resolves to {path}, outside the repository {root}; "
            "keep tool files (and what their symlinks point to) inside the repository"
        )
    if not path.is_file():
        raise ToolDefinitionError(
            f"{tool}: python: there is no file {path}; paths are relative to the repository {root}"
        )
    return path


def _load(tool: str, path: Path) -> ModuleType:
    key = (path, path.stat().st_mtime_ns)
    if key in _modules:
        return _modules[key]
    # A private, path-derived name: unique per file, and registered in sys.modules because
    # dataclasses and pydantic look their module up there while the file executes.
    name = f"_policy_agent_tools_{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else getattr(error, "lineno", None)
        at = f" at line {line}" if line else ""
        raise ToolDefinitionError(
            f"{tool}: python: importing {path} failed{at}: {type(error).__name__}: {error}"
        ) from error
    _modules[key] = module
    return module
