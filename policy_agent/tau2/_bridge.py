"""Running tau2-bench's own toolkits on an episode's database.

An imported pack's Python tools are one-line functions that call `Tau2Toolkit.tool`. Our
environment owns the state (the copy-on-write `Database`: savepoints, hashes, change records);
each call builds a `Tau2View` over it, runs tau2's method on that view, and writes the records it
changed back. The result is what tau2's `Environment.get_response` would show the model: its
`to_json_str` of the value, or `Error: {exception}` (raised here as `ToolError`, so that our
environment reports it the same way and undoes the call's writes).

`Tau2Sync` is a pack's sync hook for the domains whose environment overrides `sync_tools`
(telecom): tau2's own `sync_tools`, run on views of the episode's two databases.
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
        toolkit, view = self.over(db)
        try:
            result = toolkit.use_tool(name, **arguments)
        except Exception as error:
            raise ToolError(str(error)) from error
        view.write_back()
        return self._to_json_str(result)

    def function(self, db: Database, name: str, arguments: Mapping[str, JsonValue]) -> object:
        """Call any method of the toolkit (tau2's env assertions call `assert_*` methods)."""
        toolkit, view = self.over(db)
        method: Callable[..., object] = getattr(toolkit, name)
        result = method(**arguments)
        view.write_back()
        return result

    def over(self, db: Database) -> tuple[Any, Tau2View]:
        """tau2's toolkit over a view of `db`; `view.write_back()` keeps what it changed."""
        toolkit_class, database_class = self._toolkit_classes()
        view = Tau2View(db, database_class)
        return toolkit_class(view.model), view

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


class Tau2Sync:
    """tau2's `sync_tools` of a domain's environment as a pack's sync hook, e.g.
    `Tau2Sync("telecom").sync(db, user_db)`: after each call tau2 copies the line's state into
    the user's surroundings, marks a paid bill paid and posts a new payment request."""

    def __init__(self, domain: str) -> None:
        """The domain must have its own environment class (`Tau2Domain.environment_class`)."""
        self.domain = tau2_domain(domain)
        if self.domain.environment_class is None:
            raise ValueError(f"tau2 domain {domain!r} has no environment of its own to sync")
        self._agent = Tau2Toolkit(domain)
        self._user = Tau2Toolkit(domain, side="user")

    def sync(self, db: Database, user_db: Database) -> None:
        """Run tau2's `sync_tools` on the agent's database `db` and the user's `user_db`."""
        agent, agent_view = self._agent.over(db)
        user, user_view = self._user.over(user_db)
        environment_class = getattr(
            import_tau2(self.domain.environment_module), str(self.domain.environment_class)
        )
        # tau2's Environment.__init__ stores the toolkits and ends with self.sync_tools(): built
        # over the two views (no policy, no database load), it is exactly one of tau2's syncs.
        environment_class(domain_name=self.domain.name, policy="", tools=agent, user_tools=user)
        agent_view.write_back()
        user_view.write_back()
