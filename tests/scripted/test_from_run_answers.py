"""script-from-run, answer by answer: every kind of model output replays exactly.

Each case records one episode on a script's models (in process: what the models said is the
subject), converts it with `script_from_run`, reads back the YAML it writes and plays the episode
again on it: the records must come out the same. That a script's role is the model field litellm
sends is checked over real HTTP.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from policy_agent.domain import DomainPack
from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.records import ViolationEvent
from policy_agent.scripted import (
    Answer,
    RecordedScript,
    Script,
    SeedRole,
    load_script,
    script_from_run,
    served_model,
)
from policy_agent.simulation import SimulationConfig
from tests._examples import fast_and_thorough
from tests._models import ScriptedModels
from tests.llm.conftest import Serve, serve  # noqa: F401  (the fixture)
from tests.scripted._replaying import RUN_SEED, said, two_calls
from tests.simulation._support import call, model, say, sim_config
from tests.simulation.test_runner import simulate

CANCEL_FREE = [
    call("get_booking_details", {"booking_id": "B11319"}),
    call("cancel_booking", {"booking_id": "B11319"}),
    say("Booking B11319 is cancelled; 567 will be refunded."),
]
GUEST: dict[str, JsonValue] = {"guest_id": "G90974"}


def structured(*calls: tuple[str, dict[str, JsonValue]]) -> dict[str, Any]:
    """An agent answer with the server's parsed tool calls (chat transport, template style)."""
    return {"reasoning": "Call.", "tool_calls": [{"name": n, "arguments": a} for n, a in calls]}


def completion(answer: dict[str, Any]) -> dict[str, Any]:
    """The same answer as the raw text of the completions transport."""
    return {"text": f"{answer['reasoning']}</think>\n{answer['content']}"}


@dataclass(frozen=True, kw_only=True)
class Shape:
    """One episode's setup: agent settings and the recording's answers, in order."""

    agent: dict[str, Any]
    agent_answers: list[Any]
    user_answers: list[Any]
    events: list[str]
    """What the recording must show: `violation:<action>` or `user_retry` per event."""
    one_model: bool = False
    """Agent and user use one model name: `agent_answers` holds both roles' answers in turn."""


SHAPES = {
    # A truncated answer is asked again; the next one has two calls, and the first is kept.
    "keep_first after a cut-off answer": Shape(
        agent={"violations": {"strategy": "keep_first"}},
        agent_answers=[
            {"reasoning": "Let me think about", "finish_reason": "length"},
            two_calls(("get_guest_details", GUEST), ("get_booking_details", {"booking_id": "X"})),
            *CANCEL_FREE,
        ],
        user_answers=["I'm guest G90974; please cancel booking B11319.", "Thanks! ###STOP###"],
        events=["violation:resample", "violation:keep_first"],
    ),
    # Parsed tool calls, then two at once: the episode ends as agent_error on that violation.
    "template style ending in a terminated violation": Shape(
        agent={"style": "template", "violations": {"strategy": "terminate"}},
        agent_answers=[
            structured(("get_guest_details", GUEST)),
            structured(("get_booking_details", {"booking_id": "B11319"}), ("think", {})),
        ],
        user_answers=["I'm guest G90974; please cancel booking B11319."],
        events=["violation:terminate"],
    ),
    "feedback": Shape(
        agent={"violations": {"strategy": "feedback"}},
        agent_answers=[
            two_calls(("get_guest_details", GUEST), ("think", {"thought": "x"})),
            call("get_guest_details", GUEST),
            *CANCEL_FREE,
        ],
        user_answers=["I'm guest G90974; please cancel booking B11319.", "Thanks! ###STOP###"],
        events=["violation:feedback"],
    ),
    # The user and the agent on one model share its answers: one list per seed for both.
    "one model for agent and user": Shape(
        agent={},
        agent_answers=[
            "I'm guest G90974; please cancel booking B11319.",
            two_calls(("get_guest_details", GUEST), ("think", {"thought": "x"})),
            call("get_guest_details", GUEST),
            *CANCEL_FREE,
            "Thanks! ###STOP###",
        ],
        user_answers=[],
        events=["violation:resample"],
        one_model=True,
    ),
    "completions transport with a resample": Shape(
        agent={"transport": "completions"},
        agent_answers=[
            completion(two_calls(("get_guest_details", GUEST), ("think", {"thought": "x"}))),
            completion(call("get_guest_details", GUEST)),
            *(completion(answer) for answer in CANCEL_FREE),
        ],
        user_answers=["I'm guest G90974; please cancel booking B11319.", "Thanks! ###STOP###"],
        events=["violation:resample"],
    ),
    # Reasoning that never ends, then an empty answer: both rejected, and replayed.
    "user answers rejected and asked again": Shape(
        agent={},
        agent_answers=[call("get_guest_details", GUEST), *CANCEL_FREE],
        user_answers=[
            "<think>Which booking was it",
            "",
            "I'm guest G90974; please cancel booking B11319.",
            "Thanks! ###STOP###",
        ],
        events=["user_retry", "user_retry"],
    ),
}


@pytest.mark.parametrize("name", SHAPES)
async def test_each_kind_of_answer_replays_exactly(
    hotel: DomainPack, tmp_path: Path, name: str
) -> None:
    shape = SHAPES[name]
    agent, user = ("shared", "shared") if shape.one_model else ("agent", "user")
    recorder = ScriptedModels.of(
        {agent: {"answers": shape.agent_answers}}
        if shape.one_model
        else {agent: {"answers": shape.agent_answers}, user: {"answers": shape.user_answers}}
    )

    def config(models: ScriptedModels, out: str) -> SimulationConfig:
        return sim_config(
            agent={"model": model(models, agent), **shape.agent},
            user={"kind": "llm", "model": model(models, user)},
            tasks=["cancel_free_window"],
            seed=RUN_SEED,
            greeting=None,
            out=str(tmp_path / out),
        )

    directory, [original] = await simulate(config(recorder, "recorded"), hotel, models=recorder)
    kinds = [
        f"violation:{e.action_taken}" if isinstance(e, ViolationEvent) else e.kind
        for e in original.events
    ]
    assert kinds == shape.events
    recorded = script_from_run(directory)
    assert list(recorded.roles) == list(dict.fromkeys([agent, user]))
    # Answered from the YAML file's text, read as serve-script reads it.
    replayer = ScriptedModels(_read_back(recorded.to_yaml()))
    _, [replayed] = await simulate(config(replayer, "replayed"), hotel, models=replayer)
    assert said(replayed) == said(original)
    assert replayed.reward == original.reward
    assert replayed.termination_reason is original.termination_reason
    # Rejected user answers carry their whole generation now: nothing is replayed from text alone.
    assert recorded.notes == ()


# Any text, and text made of what YAML treats specially: line breaks (YAML 1.1 has three more),
# indentation, quotes and the indicators of blocks, keys and comments; and numbers as YAML 1.2
# writes them where YAML 1.1 sees text (`1e5`, `0o17`), which the writer must quote all the same.
TEXTS = (
    st.text()
    | st.text(alphabet=" \n\t\r\x85\u2028ab#:-|>'\"")
    | st.from_regex(r"[-+]?[0-9]*\.?[0-9]+[eE][-+]?[0-9]+|0o[0-7]+|0x[0-9a-f]+", fullmatch=True)
)


def _text_comes_back_unchanged(role: str, label: str, answers: list[Answer]) -> None:
    recorded = RecordedScript(
        roles={role: SeedRole(mode="by_seed", answers={12: answers, -3: answers[:1]})},
        run_id="20250601-143045-hotel-3fa9c2",
        run_seed=0,
        episodes=(label,),
        labels={role: {12: label, -3: label}},
        notes=(),
    )
    text = recorded.to_yaml()
    assert _read_back(text) == recorded.script
    assert Script.model_validate(yaml.safe_load(text)) == recorded.script


test_any_text_comes_back_from_the_yaml_unchanged, test_any_text_comes_back_thoroughly = (
    fast_and_thorough(
        given(
            role=st.text(min_size=1, max_size=20),
            label=st.text(max_size=20),
            answers=st.lists(
                st.builds(
                    Answer, content=st.none() | TEXTS, reasoning=TEXTS, text=st.none() | TEXTS
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        _text_comes_back_unchanged,
        deadline=None,
    )
)


def _read_back(text: str) -> Script:
    """The script `text` says, read by `load_script` (a fresh folder: hypothesis calls often)."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "script.yaml"
        file.write_text(text, encoding="utf-8")
        return load_script(file)


@pytest.mark.parametrize(
    ("model_string", "role"),
    [
        ("hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B", "nvidia/Nemotron-Cascade-2-30B-A3B"),
        ("openai/gpt-4.1", "gpt-4.1"),
    ],
)
async def test_the_scripts_role_is_the_model_field_litellm_sends(
    serve: Serve,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
    model_string: str,
    role: str,
) -> None:
    assert served_model(model_string) == role
    server = await serve({role: {"mode": "by_seed", "answers": {5: ["Hello."]}}})
    monkeypatch.setenv("REPLAY_KEY", "anything")
    settings = ModelConfig(
        model=model_string, api_base=server.base_url, api_key_env="REPLAY_KEY", retries=0
    )
    client = LLMClient(settings, role="user")
    try:
        answer = await client.chat([{"role": "user", "content": "Hi"}], seed=5)
    finally:
        await client.aclose()
    assert answer.text == "Hello."
