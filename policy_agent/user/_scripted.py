"""The scripted user: says the task's script lines in order, whatever the agent says.

No model is called, so an episode with a scripted user (and a scripted agent server) runs the
same every time: for pack regression tests and for debugging the agent side in isolation.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_agent.domain import Task
from policy_agent.records import ConversationRecord, UserMessage
from policy_agent.user._step import UserGaveUp, UserStep, stop_signal


class ScriptedUser:
    """Says line n of `task.user_scenario.script` as its n-th message (after the task's history)."""

    def __init__(self, *, task: Task, lines: Sequence[str]) -> None:
        """Prefer `make_user`, which takes the lines from the task."""
        self.task = task
        self.lines = tuple(lines)

    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        """The next line (the seed is unused). Raises `UserGaveUp` once the lines run out."""
        # Counting what was already said, rather than keeping a cursor, keeps the user
        # stateless: one history always gets the same line, resumed or not.
        said = sum(isinstance(r, UserMessage) for r in history[self.task.history_length :])
        if said >= len(self.lines):
            count = len(self.lines)
            raise UserGaveUp(
                f"the script of task {self.task.id} has {count} line{'s' if count != 1 else ''}; "
                "the agent asked for more (end the last line with ###STOP###, or add lines)"
            )
        line = self.lines[said]
        return UserStep(record=UserMessage(content=line), stop=stop_signal(line))
