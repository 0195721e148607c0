"""Running tau2-bench's own toolkits on an episode's database.

An imported pack's Python tools are one-line functions that call `Tau2Toolkit.tool`. Our
environment owns the state (the copy-on-write `Database`: savepoints, hashes, change records);
each call builds a `Tau2View` over it, runs tau2's method on that view, and writes the records it
changed back. The result is what tau2's `Environment.get_response` would show the model: its
`to_json_str` of the value, or `Error: {exception}` (raised here as `ToolError`, so that our
environment reports it the same way and undoes the call's writes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, JsonValue

from policy_agent.environment import Database, ToolError
from policy_agent.tau2._domains import Side, import_tau2, tau2_domain
from policy_agent.tau2._layout import Tau2View


class Tau2Toolkit:
    """One side's toolkit of a tau2-bench domain, e.g. `Tau2Toolkit("airline")`.

    tau2 is imported at the first call, so that loading a pack stays fast.
    """

    def __init__(self, domain: str, *, side: Side = "assistant") -> None:
        """`side` is `user` for the user's toolkit (telecom's device tools)."""
        self.domain = tau2_domain(domain)
        self.side: Side = side
        if side not in self.domain.toolkits:
            raise ValueError(f"tau2 domain {domain!r} has no {side} toolkit")
        self._classes: tuple[type[Any], type[BaseModel]] | None = None
        self._lock = threading.Lock()

    def tool(self, db: Database, name: str, arguments: Mapping[str, JsonValue]) -> str:
        """Call tau2's tool `name` as tau2's environment does; its result as tau2 serialises it.

        A tau2 exception becomes `ToolError(str(exception))`: the model reads `Error: ...` as it
        would in tau2-bench.
        """
        toolkit_class, database_class = self._toolkit_classes()
        view = Tau2View(db, database_class)
        try:
            result = toolkit_class(view.model).use_tool(name, **arguments)
        except Exception as error:
            raise ToolError(str(error)) from error
        view.write_back()
        return self._to_json_str(result)

    def function(self, db: Database, name: str, arguments: Mapping[str, JsonValue]) -> object:
        """Call any method of the toolkit (tau2's env assertions call `assert_*` methods)."""
        toolkit_class, database_class = self._toolkit_classes()
        view = Tau2View(db, database_class)
        method: Callable[..., object] = getattr(toolkit_class(view.model), name)
        result = method(**arguments)
        view.write_back()
        return result

    def _toolkit_classes(self) -> tuple[type[Any], type[BaseModel]]:
        with self._lock:
            if self._classes is None:
                module, class_name = self.domain.toolkits[self.side]
                toolkit_class = getattr(import_tau2(module), class_name)
                # The DB class, from tau2's own annotation of the toolkit's `db`.
                database_class = toolkit_class.__annotations__["db"]
                if isinstance(database_class, str):
                    database_class = getattr(import_tau2(toolkit_class.__module__), database_class)
                self._classes = (toolkit_class, database_class)
            return self._classes

    @staticmethod
    def _to_json_str(result: object) -> str:
        environment = import_tau2("tau2.environment.environment")
        text: str = environment.Environment.to_json_str(result)
        return text
