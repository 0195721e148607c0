"""tau2-bench's `Results` file, as pydantic models: the shapes `--format tau2` must produce.

Written from tau2-bench's data model (`data_model/message.py`, `tasks.py`, `simulation.py`, see
TAU2-NOTES.md §2), with its field names, types and defaults. Unlike tau2's own models these
forbid unknown fields, so none of our extras can slip into the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, JsonValue, Tag

from policy_agent.records import RewardType

Requestor = Literal["user", "assistant"]

Tau2TerminationReason = Literal[
    "user_stop",
    "agent_stop",
    "judge_stop",
    "max_steps",
    "too_many_errors",
    "agent_error",
    "user_error",
]


class _Tau2(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------ messages


class Tau2ToolCall(_Tau2):
    id: str = ""
    name: str
    arguments: dict[str, JsonValue]
    requestor: Requestor = "assistant"


class _Participant(_Tau2):
    content: str | None = None
    tool_calls: list[Tau2ToolCall] | None = None
    turn_idx: int | None = None
    timestamp: str | None = None
    cost: float | None = None
    usage: dict[str, JsonValue] | None = None
    raw_data: dict[str, JsonValue] | None = None


class Tau2AssistantMessage(_Participant):
    role: Literal["assistant"] = "assistant"


class Tau2UserMessage(_Participant):
    role: Literal["user"] = "user"


class Tau2ToolMessage(_Tau2):
    id: str
    role: Literal["tool"] = "tool"
    content: str | None = None
    requestor: Requestor = "assistant"
    error: bool = False
    turn_idx: int | None = None
    timestamp: str | None = None


Tau2Message = Annotated[
    Annotated[Tau2AssistantMessage, Tag("assistant")]
    | Annotated[Tau2UserMessage, Tag("user")]
    | Annotated[Tau2ToolMessage, Tag("tool")],
    Discriminator("role"),
]


# --------------------------------------------------------------------------------------- tasks


class Tau2StructuredUserInstructions(_Tau2):
    domain: str
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str


class Tau2UserScenario(_Tau2):
    persona: str | None = None
    instructions: Tau2StructuredUserInstructions | str


class Tau2Description(_Tau2):
    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class Tau2Action(_Tau2):
    action_id: str
    requestor: Requestor = "assistant"
    name: str
    arguments: dict[str, JsonValue]
    info: str | None = None
    compare_args: list[str] | None = None


class Tau2EnvAssertion(_Tau2):
    env_type: Requestor
    func_name: str
    arguments: dict[str, JsonValue]
    assert_value: bool = True
    message: str | None = None


class Tau2EvaluationCriteria(_Tau2):
    actions: list[Tau2Action] | None = None
    env_assertions: list[Tau2EnvAssertion] | None = None
    communicate_info: list[str] | None = None
    nl_assertions: list[str] | None = None
    reward_basis: list[RewardType] = Field(
        default_factory=lambda: [RewardType.DB, RewardType.COMMUNICATE]
    )


class Tau2EnvFunctionCall(_Tau2):
    env_type: Requestor
    func_name: str
    arguments: dict[str, JsonValue]


class Tau2InitializationData(_Tau2):
    agent_data: dict[str, JsonValue] | None = None
    user_data: dict[str, JsonValue] | None = None


class Tau2InitialState(_Tau2):
    initialization_data: Tau2InitializationData | None = None
    initialization_actions: list[Tau2EnvFunctionCall] | None = None
    message_history: list[Tau2Message] | None = None


class Tau2Task(_Tau2):
    id: str
    description: Tau2Description | None = None
    user_scenario: Tau2UserScenario
    ticket: str | None = None
    initial_state: Tau2InitialState | None = None
    evaluation_criteria: Tau2EvaluationCriteria | None = None


# -------------------------------------------------------------------------------------- reward


class Tau2DBCheck(_Tau2):
    db_match: bool
    db_reward: float


class Tau2EnvAssertionCheck(_Tau2):
    env_assertion: Tau2EnvAssertion
    met: bool
    reward: float


class Tau2ActionCheck(_Tau2):
    action: Tau2Action
    action_match: bool
    action_reward: float


class Tau2NLAssertionCheck(_Tau2):
    nl_assertion: str
    met: bool
    justification: str


class Tau2CommunicateCheck(_Tau2):
    info: str
    met: bool
    justification: str


class Tau2RewardInfo(_Tau2):
    reward: float
    db_check: Tau2DBCheck | None = None
    env_assertions: list[Tau2EnvAssertionCheck] | None = None
    action_checks: list[Tau2ActionCheck] | None = None
    nl_assertions: list[Tau2NLAssertionCheck] | None = None
    communicate_checks: list[Tau2CommunicateCheck] | None = None
    reward_basis: list[RewardType] | None = Field(default_factory=lambda: [RewardType.DB])
    reward_breakdown: dict[RewardType, float] | None = None
    info: dict[str, JsonValue] | None = None


# ------------------------------------------------------------------------------------- results


class Tau2SimulationRun(_Tau2):
    id: str
    task_id: str
    timestamp: str
    start_time: str
    end_time: str
    duration: float
    termination_reason: Tau2TerminationReason
    agent_cost: float | None = None
    user_cost: float | None = None
    reward_info: Tau2RewardInfo | None = None
    messages: list[Tau2Message]
    trial: int | None = None
    seed: int | None = None
    skipped: bool = False


class Tau2AgentInfo(_Tau2):
    implementation: str
    llm: str | None = None
    llm_args: dict[str, JsonValue] | None = None


class Tau2UserInfo(_Tau2):
    implementation: str
    llm: str | None = None
    llm_args: dict[str, JsonValue] | None = None
    global_simulation_guidelines: str | None = None


class Tau2EnvironmentInfo(_Tau2):
    domain_name: str
    policy: str
    tool_defs: dict[str, JsonValue] | None = None


class Tau2Info(_Tau2):
    git_commit: str
    num_trials: int
    max_steps: int
    max_errors: int
    user_info: Tau2UserInfo
    agent_info: Tau2AgentInfo
    environment_info: Tau2EnvironmentInfo
    seed: int | None = None


class Tau2Results(_Tau2):
    """tau2-bench's `Results`: what `tau2 run` saves and `tau2 view` / `evaluate-trajs` read."""

    timestamp: str | None = None
    info: Tau2Info
    tasks: list[Tau2Task]
    simulations: list[Tau2SimulationRun]
