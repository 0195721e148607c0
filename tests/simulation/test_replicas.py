"""Episodes over several replicas: every call of an episode goes to its home replica (recorded on
each generation); a replica that fails mid-episode moves the episode on, and it finishes."""

from __future__ import annotations

from pathlib import Path

from policy_agent.domain import DomainPack
from policy_agent.llm import home_replica
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    RetryEvent,
    TerminationReason,
    UserMessage,
    episode_session,
)
from policy_agent.scripted import ScriptedServer
from policy_agent.simulation import episode_seed
from tests.simulation._support import call, lookup_then_thanks, sim_config, simulate
from tests.simulation.conftest import Serve

TASK = "cancel_free_window"


def on_replicas(servers: list[ScriptedServer], role: str, **fields: object) -> dict[str, object]:
    return {
        "model": f"hosted_vllm/{role}",
        "api_bases": [server.base_url for server in servers],
        "retry_backoff": 0,
        "timeout": 60,
        **fields,
    }


def replicas_of(episode: Episode) -> list[tuple[str, str | None]]:
    """(role, replica) of every model call that wrote a record, in order."""
    return [
        (record.role, record.generation.api_base)
        for record in episode.messages
        if isinstance(record, UserMessage | AgentMessage | AgentToolCall)
        and record.generation is not None
    ]


async def test_every_call_of_each_episode_goes_to_its_home_replica(
    serve: Serve, hotel: DomainPack, tmp_path: Path
) -> None:
    servers = [await serve(lookup_then_thanks()) for _ in range(3)]
    config = sim_config(
        agent={"model": on_replicas(servers, "agent")},
        user={"kind": "llm", "model": on_replicas(servers, "user")},
        tasks=[TASK],
        trials=6,
        concurrency=3,
        seed=5,
        out=str(tmp_path),
    )
    _, done = await simulate(config, hotel)
    homes = set()
    for episode in done:
        assert episode.termination_reason is TerminationReason.USER_STOP
        home = servers[home_replica(episode.session, 3)].base_url
        homes.add(home)
        assert replicas_of(episode) == [
            ("user", home),
            ("assistant", home),
            ("assistant", home),
            ("user", home),
        ]
    assert len(homes) > 1  # six episodes spread over the replicas
    assert sum(len(server.requests) for server in servers) == 6 * 4


async def test_a_replica_failing_mid_episode_moves_it_and_it_finishes(
    serve: Serve, hotel: DomainPack, tmp_path: Path
) -> None:
    session = episode_session(TASK, 0, episode_seed(5, TASK, 0))
    home = home_replica(session, 2)
    # The home replica answers the agent's first call, then fails with 500s from then on.
    failing = lookup_then_thanks() | {
        "agent": {
            "answers": [
                call("get_guest_details", {"guest_id": "G90974"}),
                {"fault": {"status": 500}},
            ],
            "when_exhausted": "repeat_last",
        }
    }
    healthy = lookup_then_thanks()
    servers = [await serve(healthy), await serve(healthy)]
    servers[home] = await serve(failing)
    other = servers[1 - home].base_url
    config = sim_config(
        agent={"model": on_replicas(servers, "agent", retries=1)},
        user={"kind": "llm", "model": on_replicas(servers, "user")},
        tasks=[TASK],
        seed=5,
        out=str(tmp_path),
    )
    _, [episode] = await simulate(config, hotel)
    assert episode.session == session
    assert episode.termination_reason is TerminationReason.USER_STOP
    at_home = servers[home].base_url
    assert replicas_of(episode) == [
        ("user", at_home),
        ("assistant", at_home),
        ("assistant", other),  # moved after the 500
        ("user", at_home),  # the user's replica never failed: it stays
    ]
    [moved] = [event for event in episode.events if isinstance(event, RetryEvent)]
    assert (moved.error_type, moved.api_base, moved.moved_to) == ("ServerError", at_home, other)
