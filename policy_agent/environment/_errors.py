"""The environment's errors: what a tool reports to the model, and what a pack author must fix."""

from __future__ import annotations

from policy_agent.errors import PolicyAgentError


class ToolError(PolicyAgentError):
    """Raise inside a tool to tell the model its call failed: `ToolError("Booking B9 not found")`.

    The message becomes the tool's result (`Error: Booking B9 not found`) and the episode goes on;
    the model can read it and try again. Any other exception raised by a tool is a crash: it is
    reported to the model the same way, but flagged so that it can be logged and fixed.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolDefinitionError(PolicyAgentError):
    """A pack's tool cannot be prepared: a bad expression, a missing Python file or function.

    Raised when an `Environment` is built from a pack, before any episode runs; the message names
    the tool, the field and what to change.
    """


class AssertionCheckError(PolicyAgentError):
    """An end-state assertion could not be decided: its expression failed or gave a non-boolean."""


class InitialStateError(PolicyAgentError):
    """A task's initial state could not be set: an initial action failed, or a tool call of its
    message history returned something other than the history says. The message names the task
    and the step; fix the task (or the tool it calls)."""


def describe_record(table: str, record_id: str) -> str:
    """`Booking B999` for table `bookings`: how tau2-bench's tools name a missing record."""
    name = _singular(table).replace("_", " ")
    return f"{name[:1].upper()}{name[1:]} {record_id}"


def _singular(table: str) -> str:
    lowered = table.lower()
    if lowered.endswith("ies"):
        return table[:-3] + "y"
    if lowered.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return table[:-2]
    if lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")):
        return table[:-1]
    return table
