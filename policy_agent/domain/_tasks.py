"""The pydantic models of a pack's tasks: the user's scenario, where the episode starts from
(`initial_state`), and the criteria it is scored by, in tau2-bench's vocabulary."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, JsonValue, Tag, model_validator

from policy_agent.domain._models import Expression, PythonReference, Tables, _Strict, _text_or
from policy_agent.domain._rules import TaskRules
from policy_agent.records import (
    RecordedAction,
    RecordedAssertion,
    RewardType,
    assertion_source,
)


class TaskDescription(_Strict):
    """Notes for people reading the task; never shown to the models."""

    purpose: str | None = Field(default=None, description="What the task tests.")
    relevant_policies: str | None = Field(
        default=None, description="The parts of the policy the task exercises."
    )
    notes: str | None = None


class StructuredInstructions(_Strict):
    """What the simulated user is told, in tau2-bench's structure."""

    domain: str | None = None
    reason_for_call: str = Field(description="Why the customer is calling.")
    known_info: str | None = Field(
        default=None, description="What the customer knows: names, ids, dates."
    )
    unknown_info: str | None = Field(
        default=None, description="What the customer does not know (and must not make up)."
    )
    task_instructions: str = Field(description="How the customer behaves during the call.")


class UserScenario(_Strict):
    """The customer the user simulator plays."""

    persona: str | None = Field(default=None, description="Who the customer is and how they talk.")
    instructions: Annotated[
        Annotated[StructuredInstructions, Tag("structured")] | Annotated[str, Tag("text")],
        Discriminator(_text_or("structured")),
    ] = Field(description="Free text, or tau2-bench's structured instructions.")
    script: list[str] | None = Field(
        default=None,
        description=(
            "Lines for the scripted user, said in order (deterministic runs); "
            "the last one should end the call, e.g. with ###STOP###."
        ),
    )


class Action(_Strict):
    """A tool call the agent (or, with `requestor: user`, the user) is expected to make."""

    action_id: str = Field(description="An id for the action, unique within the task.")
    requestor: Literal["assistant", "user"] = Field(
        default="assistant", description="Who makes the call: `user` for user tools."
    )
    name: str = Field(description="The tool's name.")
    arguments: dict[str, JsonValue] = Field(
        default_factory=dict, description="The arguments, by parameter name."
    )
    info: str | None = None
    compare_args: list[str] | None = Field(
        default=None,
        description=(
            "Arguments compared with the agent's call: null compares every argument the call "
            "passed (tau2-bench's rule: one it left out to take its default is not compared), "
            "[] the name only."
        ),
    )

    def recorded(self) -> RecordedAction:
        """The action as a reward records it."""
        return RecordedAction.model_validate(self.model_dump())


class EnvAssertion(_Strict):
    """A statement about the final database that must hold.

    Either `check`, an expression that reaches the tables with `lookup`, `exists`, `find` and
    `count`; or, as tau2-bench writes them, a Python function called as
    `function(db, **arguments)` whose result must equal `assert_value`.
    """

    check: Expression | None = None
    python: PythonReference | None = None
    arguments: dict[str, JsonValue] = Field(
        default_factory=dict, description="The Python function's arguments, by name."
    )
    assert_value: bool = Field(
        default=True, description="What the Python function must return for the assertion to hold."
    )
    env_type: Literal["assistant", "user"] = Field(
        default="assistant", description="`user` to check the user's database."
    )
    message: str | None = Field(default=None, description="Shown when the assertion fails.")

    @model_validator(mode="after")
    def _check_or_python(self) -> EnvAssertion:
        if (self.check is None) == (self.python is None):
            raise ValueError("give exactly one of `check` (an expression) and `python`")
        if self.check is not None and (self.arguments or not self.assert_value):
            raise ValueError("`arguments` and `assert_value` go with `python`, not with `check`")
        return self

    @property
    def source(self) -> str:
        """The assertion as text: the expression, or `file.py:function(arguments) is value`."""
        return assertion_source(self.check, self.python, self.arguments, self.assert_value)

    def recorded(self) -> RecordedAssertion:
        """The assertion as a reward records it."""
        return RecordedAssertion.model_validate(self.model_dump())


class EvaluationCriteria(_Strict):
    """How an episode of the task is scored, as in tau2-bench."""

    actions: list[Action] = Field(
        default_factory=list,
        description="The expected tool calls; also replayed to build the expected database.",
    )
    env_assertions: list[EnvAssertion] = Field(default_factory=list)
    communicate_info: list[str] = Field(
        default_factory=list,
        description="Text the agent must say (case-insensitive, commas ignored).",
    )
    nl_assertions: list[str] = Field(
        default_factory=list, description="Statements about the conversation, judged by an LLM."
    )
    reward_basis: list[RewardType] = Field(
        default_factory=lambda: [RewardType.DB, RewardType.COMMUNICATE],
        description="The components whose product is the reward (tau2-bench's default).",
    )


# --------------------------------------------------------------------------- initial state


class InitialAction(_Strict):
    """A call made before the episode starts, to put the world in the task's state.

    Either a tool call (`name`, with `requestor: user` for a user tool), which must succeed; or,
    as tau2-bench's initialization actions, a Python function called as
    `function(db, **arguments)` on the agent's database (`env_type: user`: the user's), whose
    writes are kept and whose result is ignored.
    """

    name: str | None = Field(default=None, description="A tool to call.")
    requestor: Literal["assistant", "user"] | None = Field(
        default=None, description="Who calls the tool: `user` for a user tool (default: the agent)."
    )
    python: PythonReference | None = None
    env_type: Literal["assistant", "user"] | None = Field(
        default=None, description="The database the Python function acts on (default: the agent's)."
    )
    arguments: dict[str, JsonValue] = Field(
        default_factory=dict, description="The arguments, by parameter name."
    )

    @model_validator(mode="after")
    def _tool_or_python(self) -> InitialAction:
        if (self.name is None) == (self.python is None):
            raise ValueError("give exactly one of `name` (a tool) and `python` (a function)")
        if self.name is not None and self.env_type is not None:
            raise ValueError("`env_type` goes with `python`; a tool call takes `requestor`")
        if self.python is not None and self.requestor is not None:
            raise ValueError("`requestor` goes with a tool `name`; a function takes `env_type`")
        return self

    @property
    def side(self) -> Literal["assistant", "user"]:
        """Whose tool or database: `assistant` (the agent's) or `user`."""
        return self.requestor or self.env_type or "assistant"

    @property
    def label(self) -> str:
        """The action as people read it: `toggle_data (user)`, `file.py:function (user)`."""
        what = self.name if self.name is not None else self.python
        return f"{what} ({self.side})"


class HistoryToolCall(_Strict):
    """A tool call in the message history."""

    name: str = Field(description="The tool's name.")
    arguments: dict[str, JsonValue] = Field(
        default_factory=dict, description="The arguments, by parameter name."
    )


class HistoryMessage(_Strict):
    """One turn of the conversation before the episode starts: a message or one tool call.

    A tool call is made on the episode's database when it starts, and its result is what the
    model reads; `result`, when given, is what it must return (JSON compared as values), so a
    history that no longer fits the tools fails loudly instead of telling the model a lie.
    """

    role: Literal["user", "assistant"] = Field(description="Who speaks or calls.")
    content: str | None = Field(default=None, description="What they say.")
    tool_call: HistoryToolCall | None = Field(
        default=None, description="The tool they call (a user tool for `role: user`)."
    )
    result: str | None = Field(
        default=None, description="What the tool call must return (checked when given)."
    )

    @model_validator(mode="after")
    def _content_or_call(self) -> HistoryMessage:
        if (self.content is None) == (self.tool_call is None):
            raise ValueError("give exactly one of `content` and `tool_call`")
        if self.result is not None and self.tool_call is None:
            raise ValueError("`result` goes with a `tool_call`")
        return self


class InitialState(_Strict):
    """Where an episode of the task starts, when not from the pack's databases and a new call
    (tau2-bench's `initial_state`). Applied in this order: the data, the actions, the messages'
    tool calls; then the episode goes on from the last message."""

    database: Tables = Field(
        default_factory=dict,
        description=(
            "Records merged into the agent's tables: table to id to fields. A new id is added; "
            "an existing record is merged (nested mappings merged, other values replaced)."
        ),
    )
    user_database: Tables = Field(
        default_factory=dict, description="The same for the user's tables."
    )
    actions: list[InitialAction] = Field(
        default_factory=list, description="Calls made, in order, after the data is merged."
    )
    messages: list[HistoryMessage] = Field(
        default_factory=list,
        description=(
            "The conversation so far; the agent and the user see it, and the episode continues "
            "from its last message (no greeting)."
        ),
    )


# --------------------------------------------------------------------------- the task


class Task(_Strict):
    """One scenario to simulate and the criteria to score it by."""

    id: str = Field(min_length=1, description="Unique within the pack.")
    description: TaskDescription | None = None
    user_scenario: UserScenario
    initial_state: InitialState | None = Field(
        default=None, description="Where episodes start, when not from the pack's initial state."
    )
    evaluation_criteria: EvaluationCriteria = Field(default_factory=EvaluationCriteria)
    rules: TaskRules = Field(
        default_factory=TaskRules,
        description="The task's own policy rules (`add`), and pack rules it `disable`s.",
        # Left out of dumps when unset, so the content hash of a task without rules stays.
        exclude_if=lambda rules: not (rules.disable or rules.add),
    )

    @property
    def history_length(self) -> int:
        """How many conversation records the message history makes (a tool call counts twice:
        the call and its result); an episode's first records are these, then it plays on."""
        if self.initial_state is None:
            return 0
        messages = self.initial_state.messages
        return sum(2 if message.tool_call is not None else 1 for message in messages)
