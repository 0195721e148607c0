"""Every way an episode ends, each through the runner's own path (models in process; over real
HTTP, what litellm meets: a server that is down, a body trickled past the timeout, a body without
choices)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from policy_agent.domain import DomainPack
from policy_agent.environment import Environment
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    TerminationReason,
    ToolResult,
    UserMessage,
)
from policy_agent.simulation import EpisodeLimits, OracleAgent, run_episode
from policy_agent.user import UserStep
from tests._models import ScriptedModels
from tests.simulation._support import (
    call,
    closed_port_url,
    model,
    play_one,
    sim_config,
)
from tests.simulation.conftest import Serve

STOP = TerminationReason


async def test_user_stop_after_the_oracle_solves_the_task(hotel: DomainPack) -> None:
    episode = await play_one(sim_config(), hotel, "cancel_free_window")
    assert episode.termination_reason is STOP.USER_STOP
    assert episode.reward is not None and episode.reward.reward == 1.0
    kinds = [record.kind for record in episode.messages]
    assert kinds == [
        "agent_message",  # the greeting
        "user_message",
        *["agent_tool_call", "tool_result"] * 2,  # the guest, the booking
        "agent_message",  # the request for a yes the pack's confirmation rule asks
        "user_message",  # yes
        *["agent_tool_call", "tool_result"],  # the cancellation
        "agent_message",  # the outcome
        "user_message",  # ###STOP###
    ]
    assert episode.steps == len(episode.messages) == 12
    assert episode.database.diff[0].record_id == "B11319"
    assert episode.database.initial_hash != episode.database.final_hash
    assert episode.user_database is None  # the hotel has no user-side tables
    assert episode.totals["agent"].calls == 0  # the oracle calls no model
    assert episode.error is None


async def test_transfer(hotel: DomainPack) -> None:
    episode = await play_one(sim_config(), hotel, "complaint_transfer")
    assert episode.termination_reason is STOP.TRANSFER
    last = episode.messages[-1]
    assert isinstance(last, UserMessage) and "###TRANSFER###" in last.content
    assert episode.reward is not None and episode.reward.reward == 1.0


async def test_out_of_scope_from_an_llm_user(hotel: DomainPack) -> None:
    models = ScriptedModels.of(
        {"user": {"answers": ["I want to book a spa.", "I don't know that. ###OUT-OF-SCOPE###"]}}
    )
    config = sim_config(user={"kind": "llm", "model": model(models, "user")})
    episode = await play_one(config, hotel, "lookup_by_email_refused", models=models)
    assert episode.termination_reason is STOP.OUT_OF_SCOPE
    assert episode.totals["user"].calls == 2
    first = episode.messages[1]
    assert isinstance(first, UserMessage) and first.content == "I want to book a spa."


async def test_max_steps_counts_every_record(hotel: DomainPack) -> None:
    episode = await play_one(sim_config(max_steps=4), hotel, "card_triplet_cribs")
    assert episode.termination_reason is STOP.MAX_STEPS
    # greeting, user, call, result: the limit is checked before a turn, never inside one.
    assert [r.kind for r in episode.messages] == [
        "agent_message",
        "user_message",
        "agent_tool_call",
        "tool_result",
    ]
    assert episode.error == "the episode reached max_steps (4 records)"
    assert episode.reward is not None and episode.reward.reward == 0.0


async def test_too_many_errors(hotel: DomainPack) -> None:
    models = ScriptedModels.of(
        {
            "agent": {
                "answers": [call("get_guest_details", {"guest_id": "G00000"})],
                "when_exhausted": "repeat_last",
            }
        }
    )
    config = sim_config(agent={"model": model(models, "agent")}, max_errors=3)
    episode = await play_one(config, hotel, "cancel_free_window", models=models)
    assert episode.termination_reason is STOP.TOO_MANY_ERRORS
    assert episode.tool_errors == 3
    results = [r for r in episode.messages if isinstance(r, ToolResult)]
    assert len(results) == 3 and all(r.error for r in results)
    assert episode.totals["agent"].calls == 3


async def test_agent_error_when_the_violation_strategy_gives_up(hotel: DomainPack) -> None:
    two_calls = call("get_guest_details", {"guest_id": "G90974"})["content"] * 2
    models = ScriptedModels.of(
        {"agent": {"answers": [{"reasoning": "Both.", "content": two_calls}]}}
    )
    agent = {"model": model(models, "agent"), "violations": {"strategy": "terminate"}}
    episode = await play_one(sim_config(agent=agent), hotel, "cancel_free_window", models=models)
    assert episode.termination_reason is STOP.AGENT_ERROR
    assert [event.kind for event in episode.events] == ["violation"]
    assert episode.error is not None and "violation strategy gave up" in episode.error
    assert episode.totals["agent"].calls == 1


async def test_user_error_when_the_script_runs_out(hotel: DomainPack) -> None:
    task = hotel.task("cancel_free_window")
    unfinished = task.model_copy(
        update={
            "user_scenario": task.user_scenario.model_copy(update={"script": ["Cancel please."]})
        }
    )
    pack = dataclasses.replace(hotel, tasks=(unfinished,))
    episode = await play_one(sim_config(), pack, "cancel_free_window")
    assert episode.termination_reason is STOP.USER_ERROR
    assert episode.events[-1].kind == "error"
    assert isinstance(episode.messages[-1], AgentMessage)  # the oracle's outcome was kept


async def test_infrastructure_error_when_the_agent_server_is_down(hotel: DomainPack) -> None:
    agent = {"model": model(closed_port_url(), "agent", retries=1)}
    episode = await play_one(sim_config(agent=agent), hotel, "cancel_free_window")
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    assert [event.kind for event in episode.events] == ["retry", "error"]  # 2 attempts
    error = episode.events[-1]
    assert error.kind == "error" and error.role == "agent"
    assert error.error_type == "ServerUnreachable"
    assert len(episode.messages) == 2  # greeting and the user's first line are kept
    assert episode.reward is not None and episode.reward.infrastructure_error is not None


async def test_a_hung_server_past_the_episode_limit_is_not_the_agents_timeout(
    hotel: DomainPack,
) -> None:
    # The call's own timeout is longer than the episode's limit: the limit passes while the
    # agent waits for its model, which is the server's failure.
    models = ScriptedModels.of({"agent": {"answers": [{"hang": True}]}})
    config = sim_config(agent={"model": model(models, "agent")}, episode_timeout_s=0.3)
    episode = await play_one(config, hotel, "cancel_free_window", models=models)
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    assert episode.error is not None
    assert re.fullmatch(
        r"the episode reached its limit of 0\.3 s while waiting \d+\.\d s for the agent "
        r"model's answer: a call that outlasts the episode is the server's failure \(hung, or "
        r"far too slow\), not the agent's",
        episode.error,
    )
    [error] = episode.events
    assert (error.kind, error.role, error.error_type) == ("error", "agent", "EpisodeTimeout")
    assert len(episode.messages) == 2
    assert episode.reward is not None and episode.reward.infrastructure_error is not None


async def test_a_server_that_trickles_its_body_times_out_per_attempt(
    hotel: DomainPack, serve: Serve
) -> None:
    # Headers at once, then a byte every 50 ms (~15 s of body): no read ever waits long, but
    # `timeout` bounds the whole attempt, well before the episode's limit. A short timeout keeps
    # the two attempts brief; the body still takes some 60 times as long.
    slow = {"content": "Hello.", "trickle_ms": 50}
    server = await serve({"agent": {"answers": [slow, slow]}})
    agent = {"model": model(server, "agent", timeout=0.25, retries=1)}
    episode = await play_one(
        sim_config(agent=agent, episode_timeout_s=600), hotel, "cancel_free_window"
    )
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    assert [event.kind for event in episode.events] == ["retry", "error"]
    retry, error = episode.events
    assert retry.kind == "retry" and retry.error_type == "LLMTimeout"
    assert error.kind == "error" and error.error_type == "LLMTimeout"
    assert "no answer in time (after 2 attempts): timed out after 0.25 s" in error.message


async def test_a_completion_without_choices_is_the_servers_fault(
    hotel: DomainPack, serve: Serve
) -> None:
    # Over HTTP: litellm's own reading of a body without choices is the subject (before, its
    # empty stand-in choice read as "never closes its reasoning": agent_error).
    empty = {"fault": {"status": 200, "body": {"id": "cmpl-1", "object": "text_completion"}}}
    server = await serve({"agent": {"answers": [empty]}})
    agent = {"model": model(server, "agent"), "transport": "completions"}
    episode = await play_one(sim_config(agent=agent), hotel, "cancel_free_window")
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    [error] = episode.events
    assert error.kind == "error" and error.error_type == "MalformedResponse"
    assert "the response has no choices" in error.message


async def test_a_context_overflow_is_one_failure_and_no_retry(
    hotel: DomainPack,
) -> None:
    body = {"error": {"message": "This model's maximum context length is 8 tokens", "code": 400}}
    models = ScriptedModels.of({"agent": {"answers": [{"fault": {"status": 400, "body": body}}]}})
    agent = {"model": model(models, "agent", retries=2)}
    episode = await play_one(sim_config(agent=agent), hotel, "cancel_free_window", models=models)
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    [error] = episode.events
    assert error.kind == "error" and error.error_type == "ContextLengthExceeded"
    assert len(models.requests) == 1


async def test_user_speaks_first_without_a_greeting(hotel: DomainPack) -> None:
    episode = await play_one(sim_config(greeting=None), hotel, "cancel_free_window")
    assert isinstance(episode.messages[0], UserMessage)
    assert episode.termination_reason is STOP.USER_STOP


class _BrokenUser:
    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        if history:
            raise RuntimeError("a bug in a user simulator")
        return UserStep(record=UserMessage(content="Cancel B11319, please."))


async def test_an_exception_becomes_an_infrastructure_error_with_its_traceback(
    hotel: DomainPack,
) -> None:
    task = hotel.task("cancel_free_window")
    episode = await run_episode(
        task_id=task.id,
        trial=0,
        seed=1,
        agent=OracleAgent(task),
        user=_BrokenUser(),
        environment=Environment.from_pack(hotel).new_episode(),
        limits=EpisodeLimits(max_steps=50, max_errors=5),
    )
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    assert episode.error == "RuntimeError: a bug in a user simulator"
    error = episode.events[-1]
    assert error.kind == "error" and error.role == "runner"
    assert error.detail is not None and "Traceback" in error.detail
    # Everything before the failure is in the line: the cancellation and its changes.
    calls = [r.name for r in episode.messages if isinstance(r, AgentToolCall)]
    assert calls == ["get_guest_details", "get_booking_details", "cancel_booking"]
    assert [change.record_id for change in episode.database.diff] == ["B11319"]


class _TimingOutUser:
    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        raise TimeoutError("a socket gave up")


async def test_a_timeout_inside_a_turn_is_not_the_episode_timeout(hotel: DomainPack) -> None:
    task = hotel.task("cancel_free_window")
    episode = await run_episode(
        task_id=task.id,
        trial=0,
        seed=1,
        agent=OracleAgent(task),
        user=_TimingOutUser(),
        environment=Environment.from_pack(hotel).new_episode(),
        limits=EpisodeLimits(max_steps=50, max_errors=5, timeout_s=60),
    )
    assert episode.termination_reason is STOP.INFRASTRUCTURE_ERROR
    assert episode.error == "TimeoutError: a socket gave up"
