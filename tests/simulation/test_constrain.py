"""`agent.constrain: grammar`: the grammar goes with every agent request, on both transports,
and with no user or judge request; generations and the manifest record it (models in process:
tests/llm/test_extra_body.py and `chat --constrain` in tests/cli send it over real HTTP)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import DomainPack
from policy_agent.format import FunctionSpec, GrammarSyntax, PromptStyle, answer_grammar
from policy_agent.records import AgentMessage, AgentToolCall, TerminationReason
from policy_agent.trajectory import RunStore
from tests._models import ScriptedModels, request_bodies
from tests.simulation._support import call, judged, model, say, sim_config, simulate

ASSERTION = "The agent cancels booking B11319."


def _as_text(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat answer as the completions transport's raw text."""
    return {"text": f"{answer['reasoning']}</think>\n{answer['content']}"}


@pytest.mark.parametrize("transport", ["chat", "completions"])
async def test_the_grammar_goes_with_every_agent_request_and_no_other(
    hotel: DomainPack, tmp_path: Path, transport: str
) -> None:
    answers = [
        call("get_guest_details", {"guest_id": "G90974"}),
        call("get_booking_details", {"booking_id": "B11319"}),
        call("cancel_booking", {"booking_id": "B11319"}),
        say("Booking B11319 is cancelled; 567 will be refunded."),
    ]
    verdict = {
        "results": [{"expectedOutcome": ASSERTION, "reasoning": "Done.", "metExpectation": True}]
    }
    models = ScriptedModels.of(
        {
            "agent": {
                "answers": answers if transport == "chat" else [_as_text(a) for a in answers]
            },
            "user": {
                "answers": [
                    "Hi, I'm guest G90974; please cancel booking B11319.",
                    "Thanks! ###STOP###",
                ]
            },
            "judge": {"answers": [json.dumps(verdict)]},
        }
    )
    pack = judged(hotel, "cancel_free_window", ASSERTION)
    config = sim_config(
        agent={"model": model(models, "agent"), "transport": transport, "constrain": "grammar"},
        user={"kind": "llm", "model": model(models, "user")},
        judge=model(models, "judge"),
        tasks=["cancel_free_window"],
        out=str(tmp_path),
    )
    directory, [episode] = await simulate(config, pack, models=models)

    assert episode.termination_reason is TerminationReason.USER_STOP
    assert episode.reward is not None and episode.reward.reward == 1.0
    functions = [FunctionSpec.from_openai(tool.openai_schema()) for tool in pack.tools]
    grammar = answer_grammar(
        functions, style=PromptStyle.CARD, thinking=True, syntax=GrammarSyntax.EBNF
    )
    sha = hashlib.sha256(grammar.encode()).hexdigest()
    bodies: dict[str, list[dict[str, Any]]] = {}
    for body in request_bodies(models):
        bodies.setdefault(body["model"], []).append(body)
    assert [len(bodies[role]) for role in ("agent", "user", "judge")] == [4, 2, 1]
    assert all(b["structured_outputs"] == {"grammar": grammar} for b in bodies["agent"])
    assert all("prompt" in b for b in bodies["agent"]) is (transport == "completions")
    assert not any("structured_outputs" in b for b in bodies["user"] + bodies["judge"])
    # The greeting the episode opens with is no model call: it has no generation.
    generations = [
        r.generation
        for r in episode.messages
        if isinstance(r, AgentMessage | AgentToolCall) and r.generation is not None
    ]
    assert len(generations) == 4
    assert all((g.constraint, g.grammar_sha256) == ("grammar", sha) for g in generations)
    manifest = RunStore.open(directory).manifest
    assert (manifest.constrain, manifest.grammar_sha256) == ("grammar", sha)


async def test_without_the_constraint_no_request_carries_a_grammar(
    hotel: DomainPack, tmp_path: Path
) -> None:
    models = ScriptedModels.of({"agent": {"answers": [say("Hello, how can I help?")]}})
    config = sim_config(
        agent={"model": model(models, "agent")},
        tasks=["cancel_free_window"],
        max_steps=3,
        out=str(tmp_path),
    )
    directory, [episode] = await simulate(config, hotel, models=models)

    [body] = request_bodies(models)
    assert "structured_outputs" not in body
    said = next(
        r for r in episode.messages if isinstance(r, AgentMessage) and r.generation is not None
    )
    assert said.generation is not None
    assert (said.generation.constraint, said.generation.grammar_sha256) == (None, None)
    manifest = RunStore.open(directory).manifest
    assert (manifest.constrain, manifest.grammar_sha256) == ("none", None)
