"""The Environment and its episodes: isolation, user tools, hashes, replay, assertions, results."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import JsonValue

from policy_agent.domain import DomainPack, EnvAssertion, load_pack
from policy_agent.environment import (
    AssertionCheckError,
    DatabaseHashes,
    Environment,
    ToolDefinitionError,
    ToolError,
)

MakePack = Callable[..., DomainPack]
DOMAINS = Path(__file__).parents[2] / "domains"


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, JsonValue] = field(default_factory=dict)
    requestor: str = "assistant"


def test_what_an_episode_needs_of_its_environment_is_public(make_pack: MakePack) -> None:
    environment = Environment.from_pack(make_pack())
    assert environment.now == datetime(2025, 6, 4, 9, 0)
    assert environment.sync_hook is None
    database = environment.new_episode().database
    assert environment.tool("get_booking_details").run(database, {"booking_id": "B11245"}) == {
        "id": "B11245",
        **database.get("bookings", "B11245"),
    }
    assert environment.tool("check_phone", "user").checker.tool_name == "check_phone"
    with pytest.raises(ToolError, match=r"^Tool 'check_phone' not found; the tools are: get_"):
        environment.tool("check_phone")
    with pytest.raises(ToolError, match=r"^missing required argument 'booking_id' for get_"):
        environment.tool("get_booking_details").run(database, {})
    assert environment.assertion_check("now != null") is environment.assertion_check("now != null")
    greet = environment.function("tools/hotel.py:greet")
    assert greet is environment.function("tools/hotel.py:greet")
    assert repr(greet(database, "Zoë")) == "Greeting(text='Hello Zoë')"


def test_episodes_are_isolated_and_the_pack_is_never_written(pack: DomainPack) -> None:
    database, user_database = copy.deepcopy(pack.database), copy.deepcopy(pack.user_database)
    environment = Environment.from_pack(pack)
    first, second = environment.new_episode(), environment.new_episode()
    first.call("request_cribs", {"booking_id": "B11246", "count": 1})
    first.call("delete_booking", {"booking_id": "B11245"})
    first.call("toggle_airplane_mode", {}, requestor="user")
    second.call("book_room", {"guest_id": "G1", "check_in": "2025-08-01"})

    assert first.database.get("bookings", "B11246")["cribs"] == 2
    assert second.database.get("bookings", "B11246")["cribs"] == 1
    assert second.database.exists("bookings", "B11245")
    assert not first.database.exists("bookings", "B11247")
    assert second.user_database.get("phone", "main")["airplane_mode"] is False
    assert (pack.database, pack.user_database) == (database, user_database)
    assert environment.new_episode().database.snapshot() == database


def test_user_tools_act_on_the_user_database(pack: DomainPack) -> None:
    episode = Environment.from_pack(pack).new_episode()
    before = episode.content_hash()
    result = episode.call("toggle_airplane_mode", {}, requestor="user")
    assert json.loads(result.content) == {"id": "main", "airplane_mode": True, "signal": "good"}
    after = episode.content_hash()
    assert after.agent == before.agent and after.user != before.user
    assert episode.database.changes == () and len(episode.user_database.changes) == 1


def test_content_hashes_compare_states(pack: DomainPack) -> None:
    environment = Environment.from_pack(pack)
    fresh = environment.new_episode().content_hash()
    assert isinstance(fresh, DatabaseHashes)
    assert fresh == environment.new_episode().content_hash()
    episode = environment.new_episode()
    episode.call("request_cribs", {"booking_id": "B11246", "count": 1})
    assert episode.content_hash().agent != fresh.agent
    assert episode.content_hash().user == fresh.user


def test_replay_reaches_the_same_state(pack: DomainPack) -> None:
    environment = Environment.from_pack(pack)
    calls = [
        Call("request_cribs", {"booking_id": "B11246", "count": 1}),
        Call("request_cribs", {"booking_id": "B11246", "count": 9}),  # an error: changes nothing
        Call("book_room", {"guest_id": "G2", "check_in": "2025-07-01"}),
        Call("toggle_airplane_mode", requestor="user"),
    ]
    episode = environment.new_episode()
    for call in calls:
        episode.call(
            call.name, call.arguments, requestor="user" if call.requestor == "user" else "assistant"
        )
    replayed = environment.replay(calls)
    assert replayed.content_hash() == episode.content_hash()
    assert replayed.database.diff(episode.database) == []
    assert [c.record_id for c in replayed.database.diff()] == ["B11246", "B11247"]
    with pytest.raises(ValueError, match="requestor 'system' is not assistant or user"):
        environment.replay([Call("think", {"thought": "x"}, requestor="system")])


def test_assertions_read_the_tables_and_the_clock(pack: DomainPack) -> None:
    episode = Environment.from_pack(pack).new_episode()
    cribs = EnvAssertion(check="lookup('bookings', 'B11246').cribs == 2")
    assert not episode.evaluate_assertion(cribs)
    episode.call("request_cribs", {"booking_id": "B11246", "count": 1})
    assert episode.evaluate_assertion(cribs)
    assert episode.evaluate_assertion(EnvAssertion(check="now == '2025-06-04T09:00:00'"))
    assert episode.evaluate_assertion(
        EnvAssertion(check="count('bookings', 'guest_id', 'G1') == 2")
    )
    phone = EnvAssertion(check="lookup('phone', 'main').airplane_mode", env_type="user")
    assert not episode.evaluate_assertion(phone)
    episode.call("toggle_airplane_mode", {}, requestor="user")
    assert episode.evaluate_assertion(phone)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("booking_id == 'B1'", "unknown name `booking_id`"),
        ("lookup('bookings', 'B11246').cribs / 0 > 1", "zero"),
        ("lookup('nope', 'x')", "there is no table 'nope'"),
    ],
)
def test_an_assertion_that_cannot_be_decided_raises(
    pack: DomainPack, check: str, message: str
) -> None:
    episode = Environment.from_pack(pack).new_episode()
    with pytest.raises(AssertionCheckError, match=message):
        episode.evaluate_assertion(EnvAssertion(check=check))


def test_content_is_a_string_as_it_is_and_anything_else_as_json(pack: DomainPack) -> None:
    episode = Environment.from_pack(pack).new_episode()
    greeting = episode.call("greet", {"name": "Zoë"})
    assert greeting.content == '{"text": "Hello Zoë"}'  # non-ASCII kept, default separators
    assert episode.call("total", {"prices": [2, 3]}).content == "[5, 2]"
    noted = episode.call("add_note", {"booking_id": "B11246", "text": "é"})
    assert (noted.content, noted.value) == ("Noted on B11246.", "Noted on B11246.")
    assert episode.call("think", {"thought": "x"}).content == ""
    assert all(r.duration_ms >= 0 for r in (greeting, noted))


def test_time_rules_need_a_clock(make_pack: MakePack) -> None:
    episode = Environment.from_pack(make_pack(clock=None)).new_episode()
    result = episode.call("request_cribs", {"booking_id": "B11246", "count": 1})
    assert result.crashed and "there is no clock" in result.content
    with pytest.raises(ToolDefinitionError, match="clock: 'June 4th' is not an ISO 8601 time"):
        Environment.from_pack(make_pack(clock="June 4th"))


@pytest.mark.parametrize("folder", sorted(p.parent for p in DOMAINS.glob("*/domain.yaml")))
def test_every_shipped_pack_runs_its_gold_actions(folder: Path) -> None:
    pack = load_pack(folder)
    environment = Environment.from_pack(pack)
    for task in pack.tasks:
        criteria = task.evaluation_criteria
        episode = environment.new_episode()
        for action in criteria.actions:
            result = episode.call(action.name, action.arguments, requestor=action.requestor)
            assert not result.crashed, f"{task.id}: {action.name}: {result.detail}"
        for assertion in criteria.env_assertions:
            assert episode.evaluate_assertion(assertion), f"{task.id}: {assertion.check}"
        assert environment.replay(criteria.actions).content_hash() == episode.content_hash()
