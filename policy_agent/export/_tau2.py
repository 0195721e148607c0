"""`--format tau2`: a run as a tau2-bench `Results` file, for tau2's viewers and tooling.

Only tau2's own fields are written; our extras (reasoning, field-level database differences,
generations, events) are left out. The choices a mapping needs:
- termination reasons: `user_stop`, `transfer` and `out_of_scope` are all `user_stop` in tau2
  (its user simulator ends all three with a stop token); `timeout` becomes `max_steps` (the
  episode ran out of its budget; both score 0); `infrastructure_error` becomes `agent_error`
  with `skipped: true`, as tau2's `--skip-failed-samples` records a failed sample;
- an env assertion that is a Python function keeps tau2's shape (the function's name, its
  arguments, `assert_value`); one that is an expression is no toolkit function, so it is
  written as `func_name: "check"`, `arguments: {"expression": ...}`, `assert_value: true`:
  it reads right, but tau2 cannot run it again;
- empty criteria lists are written as null, which is how tau2 tells "nothing expected" (with
  no actions and no env assertions, tau2's DB component scores 1, as ours does);
- a pack made by `policy-agent import-tau2` (named `tau2_<domain>`) is written under tau2's
  own domain name (`mock`, `airline`, ...), so that tau2's tools (`tau2 evaluate-trajs`) find
  its environment in their registry; any other pack keeps its name;
- a task's initial state is written as tau2's: its data as `initialization_data` (our tables
  are tau2's dict tables, `{table: {id: fields}}`), its actions as `initialization_actions`
  (a Python function by its name, a tool call by the tool's), its message history as the
  records the run's first episode of the task started from, or, if none started, as the
  task's initial state makes them (tau2 replays the history's calls and checks their
  results); every simulation's messages begin with that history, as tau2's trajectories do;
- `reward_info.info` carries our note (why the reward is what it is), as tau2 uses it;
- simulation ids are stable (a UUID derived from the run id, task and trial), git_commit is
  "unknown" (tau2's own value when it has none), timestamps are ISO 8601 in UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import assert_never

from pydantic import JsonValue

from policy_agent.domain import DomainPack, StructuredInstructions, Task
from policy_agent.environment import Environment, InitialStateError
from policy_agent.errors import PolicyAgentError
from policy_agent.export._tau2_models import (
    Requestor,
    Tau2Action,
    Tau2ActionCheck,
    Tau2AgentInfo,
    Tau2AssistantMessage,
    Tau2CommunicateCheck,
    Tau2DBCheck,
    Tau2Description,
    Tau2EnvAssertion,
    Tau2EnvAssertionCheck,
    Tau2EnvFunctionCall,
    Tau2EnvironmentInfo,
    Tau2EvaluationCriteria,
    Tau2Info,
    Tau2InitializationData,
    Tau2InitialState,
    Tau2Message,
    Tau2NLAssertionCheck,
    Tau2Results,
    Tau2RewardInfo,
    Tau2SimulationRun,
    Tau2StructuredUserInstructions,
    Tau2Task,
    Tau2TerminationReason,
    Tau2ToolCall,
    Tau2ToolMessage,
    Tau2UserInfo,
    Tau2UserMessage,
    Tau2UserScenario,
)
from policy_agent.llm import ModelConfig
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Episode,
    RecordedAssertion,
    RewardInfo,
    TerminationReason,
    ToolResult,
    UserMessage,
    UserToolCall,
)
from policy_agent.report import LoadedRun
from policy_agent.simulation import ModelAgentConfig, SimulationConfig, history_records
from policy_agent.tau2 import DOMAINS
from policy_agent.user import user_guidelines

_TERMINATION: dict[TerminationReason, Tau2TerminationReason] = {
    TerminationReason.USER_STOP: "user_stop",
    TerminationReason.TRANSFER: "user_stop",
    TerminationReason.OUT_OF_SCOPE: "user_stop",
    TerminationReason.MAX_STEPS: "max_steps",
    TerminationReason.TIMEOUT: "max_steps",
    TerminationReason.TOO_MANY_ERRORS: "too_many_errors",
    TerminationReason.AGENT_ERROR: "agent_error",
    TerminationReason.USER_ERROR: "user_error",
    TerminationReason.INFRASTRUCTURE_ERROR: "agent_error",
}
"""Every termination reason of ours and its tau2 name (the module docstring says why)."""

_IMPORTED_PREFIX = "tau2_"
"""How `policy-agent import-tau2` names a pack: `tau2_<tau2 domain>`."""


class UnknownTasks(PolicyAgentError):
    """Episodes name tasks the pack does not have, so tau2's `tasks` cannot list them."""


def tau2_results_head(
    run: LoadedRun,
    config: SimulationConfig,
    pack: DomainPack,
    ran: Collection[str],
    histories: Mapping[str, Sequence[ConversationRecord]],
) -> Tau2Results:
    """The run as tau2-bench's `Results` without its simulations (`tau2_simulation` makes each,
    so that an export writes them one at a time): its info and the tasks it ran (`ran`), each
    with the message history its first exported episode started from (`histories`; a task
    missing there gets the one its initial state makes).

    Raises `UnknownTasks` when `ran` names tasks the pack does not have.
    """
    known = {task.id for task in pack.tasks}
    if set(ran) - known:
        raise UnknownTasks(
            f"the run has episodes of tasks that pack {pack.root} lacks: "
            f"{', '.join(sorted(set(ran) - known))}; export with the pack the run was made on "
            "(--pack)"
        )
    return Tau2Results(
        timestamp=run.manifest.created_at.isoformat(),
        info=_info(config, pack),
        tasks=[
            _task(task, pack.name, histories.get(task.id) or _history(pack, task))
            for task in pack.tasks
            if task.id in ran
        ],
        simulations=[],
    )


def tau2_termination(reason: TerminationReason) -> Tau2TerminationReason:
    """tau2-bench's name for one of our termination reasons."""
    return _TERMINATION[reason]


def _tau2_domain_name(pack: DomainPack) -> str:
    """The domain name tau2 knows the pack by: `airline` for an imported `tau2_airline`."""
    imported = pack.name.removeprefix(_IMPORTED_PREFIX)
    if pack.name.startswith(_IMPORTED_PREFIX) and imported in DOMAINS:
        return imported
    return pack.name


def _info(config: SimulationConfig, pack: DomainPack) -> Tau2Info:
    agent = config.agent
    user = config.user
    guidelines = None
    if user.model is not None:
        guidelines = user_guidelines(pack, user.guidelines)
    return Tau2Info(
        git_commit="unknown",
        num_trials=config.trials,
        max_steps=config.max_steps,
        max_errors=config.max_errors,
        user_info=Tau2UserInfo(
            implementation="user_simulator" if user.model is not None else "scripted_user",
            llm=None if user.model is None else user.model.model,
            llm_args=None if user.model is None else _llm_args(user.model),
            global_simulation_guidelines=guidelines,
        ),
        agent_info=Tau2AgentInfo(
            implementation="llm_agent" if isinstance(agent, ModelAgentConfig) else "oracle",
            llm=agent.model.model if isinstance(agent, ModelAgentConfig) else None,
            llm_args=_llm_args(agent.model) if isinstance(agent, ModelAgentConfig) else None,
        ),
        environment_info=Tau2EnvironmentInfo(
            domain_name=_tau2_domain_name(pack), policy=pack.policy
        ),
        seed=config.seed,
    )


def _llm_args(model: ModelConfig) -> dict[str, JsonValue]:
    """The model's settings (sampling, server), without the model name tau2 keeps apart."""
    settings: dict[str, JsonValue] = model.model_dump(mode="json", exclude={"model"})
    return settings


def _task(task: Task, domain: str, history: Sequence[ConversationRecord]) -> Tau2Task:
    scenario = task.user_scenario
    instructions: Tau2StructuredUserInstructions | str
    if isinstance(scenario.instructions, StructuredInstructions):
        structured = scenario.instructions.model_dump(exclude={"domain"})
        # tau2 requires the domain, which our packs may leave out (it is the pack's).
        instructions = Tau2StructuredUserInstructions(
            domain=scenario.instructions.domain or domain, **structured
        )
    else:
        instructions = scenario.instructions
    criteria = task.evaluation_criteria
    return Tau2Task(
        id=task.id,
        description=(
            None if task.description is None else Tau2Description(**task.description.model_dump())
        ),
        user_scenario=Tau2UserScenario(persona=scenario.persona, instructions=instructions),
        initial_state=_initial_state(task, history),
        evaluation_criteria=Tau2EvaluationCriteria(
            actions=[Tau2Action(**a.model_dump(mode="json")) for a in criteria.actions] or None,
            env_assertions=[_assertion(a.recorded()) for a in criteria.env_assertions] or None,
            communicate_info=list(criteria.communicate_info) or None,
            nl_assertions=list(criteria.nl_assertions) or None,
            reward_basis=list(criteria.reward_basis),
        ),
    )


def _history(pack: DomainPack, task: Task) -> list[ConversationRecord]:
    """The task's history made afresh, for a task none of whose episodes got to start."""
    if task.initial_state is None or not task.initial_state.messages:
        return []
    try:
        episode = Environment.from_pack(pack).new_episode(task)
    except InitialStateError:
        return []  # tau2 could not start it either; the task is written without its history
    return history_records(task, episode.history)


def _initial_state(task: Task, history: Sequence[ConversationRecord]) -> Tau2InitialState | None:
    state = task.initial_state
    if state is None:
        return None
    data = None
    if state.database or state.user_database:
        data = Tau2InitializationData.model_validate(
            {"agent_data": state.database or None, "user_data": state.user_database or None}
        )
    actions = [
        Tau2EnvFunctionCall(
            env_type=action.side,
            func_name=action.python.rsplit(":", 1)[1] if action.python else action.name or "",
            arguments=dict(action.arguments),
        )
        for action in state.actions
    ]
    messages = [_untimed(m) for m in _messages(history)] if history else None
    return Tau2InitialState(
        initialization_data=data,
        initialization_actions=actions or None,
        message_history=messages,
    )


def _untimed(message: Tau2Message) -> Tau2Message:
    """A history message as a task holds it: tau2 numbers and stamps it when a run starts."""
    return message.model_copy(update={"turn_idx": None, "timestamp": None})


def _assertion(assertion: RecordedAssertion) -> Tau2EnvAssertion:
    if assertion.python is not None:
        # tau2-bench's own kind (an imported pack): the toolkit function by its name.
        return Tau2EnvAssertion(
            env_type=assertion.env_type,
            func_name=assertion.python.rsplit(":", 1)[1],
            arguments=dict(assertion.arguments),
            assert_value=assertion.assert_value,
            message=assertion.message,
        )
    return Tau2EnvAssertion(
        env_type=assertion.env_type,
        func_name="check",
        arguments={"expression": assertion.source},
        assert_value=True,
        message=assertion.message,
    )


def tau2_simulation(run_id: str, episode: Episode) -> Tau2SimulationRun:
    """One episode of run `run_id` as a tau2-bench simulation."""
    totals = episode.totals
    return Tau2SimulationRun(
        id=_simulation_id(run_id, episode),
        task_id=episode.task_id,
        timestamp=episode.ended_at.isoformat(),
        start_time=episode.started_at.isoformat(),
        end_time=episode.ended_at.isoformat(),
        duration=episode.duration_s,
        termination_reason=tau2_termination(episode.termination_reason),
        agent_cost=totals["agent"].cost_usd if "agent" in totals else None,
        user_cost=totals["user"].cost_usd if "user" in totals else None,
        reward_info=None if episode.reward is None else _reward(episode.reward),
        messages=_messages(episode.messages),
        trial=episode.trial,
        seed=episode.seed,
        skipped=episode.termination_reason.is_infrastructure,
    )


def _simulation_id(run_id: str, episode: Episode) -> str:
    """A UUID that is the same every time the same episode is exported."""
    name = f"policy-agent:{run_id}:{episode.task_id}:{episode.trial}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _reward(reward: RewardInfo) -> Tau2RewardInfo:
    db = reward.db_check
    notes = [text for text in (reward.note, reward.infrastructure_error) if text]
    return Tau2RewardInfo(
        reward=reward.reward,
        db_check=None if db is None else Tau2DBCheck(db_match=db.db_match, db_reward=db.db_reward),
        env_assertions=[
            Tau2EnvAssertionCheck(
                env_assertion=_assertion(check.env_assertion), met=check.met, reward=check.reward
            )
            for check in reward.env_assertions
        ]
        or None,
        action_checks=[
            Tau2ActionCheck(
                action=Tau2Action(**check.action.model_dump(mode="json")),
                action_match=check.action_match,
                action_reward=check.action_reward,
            )
            for check in reward.action_checks
        ]
        or None,
        nl_assertions=[Tau2NLAssertionCheck(**c.model_dump()) for c in reward.nl_assertions]
        or None,
        communicate_checks=[
            Tau2CommunicateCheck(**c.model_dump()) for c in reward.communicate_checks
        ]
        or None,
        reward_basis=list(reward.reward_basis),
        reward_breakdown=dict(reward.reward_breakdown),
        info={"note": " ".join(notes)} if notes else None,
    )


def _messages(records: Sequence[ConversationRecord]) -> list[Tau2Message]:
    messages: list[Tau2Message] = []
    for index, record in enumerate(records):
        stamp = record.timestamp.isoformat()
        usage: dict[str, JsonValue] | None = None
        if not isinstance(record, ToolResult) and record.generation is not None:
            usage = record.generation.usage.model_dump()
        match record:
            case AgentMessage():
                messages.append(
                    Tau2AssistantMessage(
                        content=record.content, turn_idx=index, timestamp=stamp, usage=usage
                    )
                )
            case AgentToolCall() | UserToolCall():
                side: Requestor = "assistant" if isinstance(record, AgentToolCall) else "user"
                call = Tau2ToolCall(
                    id=record.call_id,
                    name=record.name,
                    arguments=record.arguments,
                    requestor=side,
                )
                message_type = Tau2AssistantMessage if side == "assistant" else Tau2UserMessage
                messages.append(
                    message_type(
                        content=record.content if isinstance(record, AgentToolCall) else None,
                        tool_calls=[call],
                        turn_idx=index,
                        timestamp=stamp,
                        usage=usage,
                    )
                )
            case UserMessage():
                messages.append(
                    Tau2UserMessage(
                        content=record.content, turn_idx=index, timestamp=stamp, usage=usage
                    )
                )
            case ToolResult():
                messages.append(
                    Tau2ToolMessage(
                        id=record.call_id,
                        content=record.content,
                        requestor=record.requestor,
                        error=record.error,
                        turn_idx=index,
                        timestamp=stamp,
                    )
                )
            case _:
                assert_never(record)
    return messages
