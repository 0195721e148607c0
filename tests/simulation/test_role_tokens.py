"""`record_tokens` on the user simulator's and the judge's models, over real HTTP: the request
fields go out, every user and judge generation keeps its trace (rejected ones too), and a server
that returns none warns once per role, naming it, without failing the episode."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack
from policy_agent.llm import TokensNotReturned
from policy_agent.records import (
    Episode,
    Generation,
    TerminationReason,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
)
from policy_agent.trajectory import RunStore
from tests._models import request_bodies
from tests.simulation._support import call, judged, model, say, sim_config, simulate
from tests.simulation.conftest import Serve

ASSERTION = "The agent cancels booking B11319."
VERDICT = json.dumps(
    {"results": [{"expectedOutcome": ASSERTION, "reasoning": "Done.", "metExpectation": True}]}
)
AGENT = [
    call("get_guest_details", {"guest_id": "G90974"}),
    call("get_booking_details", {"booking_id": "B11319"}),
    call("cancel_booking", {"booking_id": "B11319"}),
    say("Booking B11319 is cancelled; 567 will be refunded."),
]
USER = ["Hi, I'm guest G90974; please cancel booking B11319.", "Thanks! ###STOP###"]


async def _run(
    hotel: DomainPack,
    serve: Serve,
    out: Path,
    *,
    user: list[Any],
    judge: list[Any],
    **server: Any,
) -> tuple[Path, Episode, dict[str, list[dict[str, Any]]]]:
    scripted = await serve(
        {"agent": {"answers": AGENT}, "user": {"answers": user}, "judge": {"answers": judge}},
        **server,
    )
    config = sim_config(
        agent={"model": model(scripted, "agent")},
        user={"kind": "llm", "model": model(scripted, "user", record_tokens=True)},
        judge=model(scripted, "judge", record_tokens=True),
        tasks=["cancel_free_window"],
        out=str(out),
    )
    directory, [episode] = await simulate(config, judged(hotel, "cancel_free_window", ASSERTION))
    bodies: dict[str, list[dict[str, Any]]] = {}
    for body in request_bodies(scripted):
        bodies.setdefault(body["model"], []).append(body)
    return directory, episode, bodies


def _user_generations(episode: Episode) -> list[Generation]:
    """Every user generation in the order asked: rejected answers are events, kept ones records."""
    rejected = [e.generation for e in episode.events if isinstance(e, UserRetryEvent)]
    kept = [r.generation for r in episode.messages if isinstance(r, UserMessage | UserToolCall)]
    return [g for g in [*rejected, *kept] if g is not None]


def _judge_generations(episode: Episode) -> list[Generation]:
    assert episode.reward is not None and episode.reward.judge is not None
    return episode.reward.judge.generations


async def test_user_and_judge_keep_a_trace_on_every_generation_rejected_ones_included(
    hotel: DomainPack, serve: Serve, tmp_path: Path
) -> None:
    # An empty user answer is rejected and asked again; an unreadable verdict likewise.
    directory, episode, bodies = await _run(
        hotel, serve, tmp_path, user=["", *USER], judge=["no verdict here", VERDICT]
    )

    assert episode.termination_reason is TerminationReason.USER_STOP
    assert episode.reward is not None and episode.reward.reward == 1.0
    assert [len(bodies[role]) for role in ("agent", "user", "judge")] == [4, 3, 2]
    for body in bodies["user"] + bodies["judge"]:
        assert (body["return_token_ids"], body["logprobs"]) == (True, True)
    assert not any("return_token_ids" in body for body in bodies["agent"])

    users, judges = _user_generations(episode), _judge_generations(episode)
    assert [g.raw_completion for g in users] == ["", *USER]
    assert [g.raw_completion for g in judges] == ["no verdict here", VERDICT]
    assert [g.attempt for g in judges] == [1, 2]
    for generation in users + judges:
        assert generation.tokens is not None and generation.tokens.complete
        # The stand-in tokenizer's ids are the UTF-8 bytes of what was sampled.
        assert bytes(generation.tokens.completion_token_ids or []).decode() == (
            generation.raw_completion
        )
    # The judge's second prompt is the first with the rejected answer and the correction after
    # it; the generation keeps those two, as the agent's do.
    assert [m.role for m in judges[1].correction_messages] == ["assistant", "user"]
    assert judges[1].correction_messages[0].content == "no verdict here"
    assert (
        len(judges[1].tokens.prompt_token_ids or []) > len(judges[0].tokens.prompt_token_ids or [])  # type: ignore[union-attr]
    )
    # Readers that never train on tokens read the judge's traces as null too.
    [(_, light)] = list(RunStore.open(directory).latest_episodes(tokens=False))
    assert all(g.tokens is None for g in _user_generations(light) + _judge_generations(light))
    assert [g.raw_completion for g in _judge_generations(light)] == ["no verdict here", VERDICT]


async def test_a_server_without_tokens_warns_once_per_role_and_the_episode_still_counts(
    hotel: DomainPack, serve: Serve, tmp_path: Path
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, episode, _ = await _run(
            hotel, serve, tmp_path, user=USER, judge=[VERDICT], return_token_ids=False
        )

    ours = [str(w.message) for w in caught if isinstance(w.message, TokensNotReturned)]
    assert len(ours) == 2
    assert ours[0].startswith("user (hosted_vllm/user): record_tokens is on")
    assert ours[1].startswith("judge (hosted_vllm/judge): record_tokens is on")
    assert episode.termination_reason is TerminationReason.USER_STOP
    assert episode.reward is not None and episode.reward.reward == 1.0
    generations = _user_generations(episode) + _judge_generations(episode)
    assert len(generations) == 3
    for generation in generations:
        assert generation.tokens is not None
        assert generation.tokens.model_dump() == {
            "prompt_token_ids": None,
            "completion_token_ids": None,
            "completion_logprobs": None,
        }
