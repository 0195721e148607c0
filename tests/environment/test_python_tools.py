"""Python tools: loading from the repository, results, refusals, crashes and bad references."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from policy_agent.domain import DomainPack
from policy_agent.environment import Environment, EpisodeEnvironment, ToolDefinitionError
from tests._waiting import DEADLINE_S

MakePack = Callable[..., DomainPack]


def _python_tool(reference: str) -> dict[str, object]:
    return {"name": "tool", "implementation": {"python": reference}}


def test_a_tool_reads_and_writes_the_episode_database(episode: EpisodeEnvironment) -> None:
    result = episode.call("late_checkout", {"booking_id": "B11246"})
    # A pydantic model comes back as JSON; `hour` took its schema default (13, not Python's 12).
    assert result.content == '{"booking_id": "B11246", "late_checkout": "13:00"}'
    assert not result.error
    (change,) = result.changes
    assert [str(d) for d in change.field_diff()] == ['late_checkout: (absent) -> "13:00"']
    assert episode.database.get("bookings", "B11246")["late_checkout"] == "13:00"


def test_a_tool_reads_records_as_stored_and_returns_them_as_plain_json(
    episode: EpisodeEnvironment,
) -> None:
    result = episode.call("booking_as_stored", {"booking_id": "B11245"})
    assert isinstance(result.value, dict)
    assert result.value["booking"] == {
        "guest_id": "G1",
        "status": "cancelled",
        "cribs": 0,
        "check_in": "2025-06-10",
        "price": 300,
    }
    assert result.value["same"] == [["B11246", episode.database.get("bookings", "B11246")]]
    assert type(result.value["booking"]) is dict and type(result.value["same"][0]) is list


def test_a_tool_that_changes_a_record_in_place_crashes_and_is_told_how_to_write(
    episode: EpisodeEnvironment,
) -> None:
    result = episode.call("change_a_record_in_place", {"booking_id": "B11246"})
    assert (result.error, result.crashed) == (True, True)
    assert result.content == (
        "Error: records read from the database are read-only; build a new value and write it "
        "with db.update(table, record_id, field=value) (copy.deepcopy(record) gives a mutable "
        "copy)"
    )
    assert episode.database.get("bookings", "B11246")["status"] == "confirmed"


def test_dataclass_results_are_json(episode: EpisodeEnvironment) -> None:
    assert episode.call("greet", {"name": "Zoë"}).content == '{"text": "Hello Zoë"}'


def test_a_tool_error_is_reported_and_its_writes_undone(episode: EpisodeEnvironment) -> None:
    refused = episode.call("late_checkout", {"booking_id": "B11245"})
    assert refused.content == "Error: Booking B11245 is cancelled; it cannot be changed."
    assert (refused.error, refused.crashed, refused.detail) == (True, False, None)

    after_writing = episode.call("refuse_after_writing", {"booking_id": "B11246"})
    assert after_writing.content == "Error: Refused after writing."
    assert after_writing.changes == () and episode.database.changes == ()
    assert episode.database.get("bookings", "B11246")["status"] == "confirmed"


def test_unknown_records_raised_by_the_database_reach_the_model(
    episode: EpisodeEnvironment,
) -> None:
    result = episode.call("late_checkout", {"booking_id": "B404"})
    assert (result.content, result.crashed) == ("Error: Booking B404 not found", False)


def test_a_crash_is_an_error_result_with_a_traceback(episode: EpisodeEnvironment) -> None:
    result = episode.call("crash_after_writing", {"booking_id": "B11246"})
    assert (result.content, result.error, result.crashed) == ("Error: 'missing'", True, True)
    assert result.detail is not None
    assert "KeyError" in result.detail and "hotel.py" in result.detail
    assert episode.database.changes == ()


def test_a_result_that_is_not_json_is_a_crash(episode: EpisodeEnvironment) -> None:
    result = episode.call("not_json", {})
    assert result.crashed
    assert result.content == (
        "Error: tool not_json returned a value that is not JSON (Unable to serialize unknown "
        "type: <class 'object'>); return dicts, lists, strings, numbers, booleans, None or "
        "pydantic models"
    )


def test_tool_files_load_under_a_private_name_once(pack: DomainPack) -> None:
    Environment.from_pack(pack)
    Environment.from_pack(pack)
    loaded = [name for name in sys.modules if name.startswith("_policy_agent_tools_")]
    assert "tools" not in sys.modules and "tools.hotel" not in sys.modules
    hotel = [m for m in loaded if getattr(sys.modules[m], "late_checkout", None) is not None]
    assert len(hotel) == 1


def test_two_repositories_with_the_same_path_do_not_collide(
    tmp_path: Path, make_pack: MakePack
) -> None:
    for name in ("one", "two"):
        (tmp_path / name / "tools").mkdir(parents=True)
        (tmp_path / name / "tools" / "hotel.py").write_text(f"def who(db):\n    return {name!r}\n")
    answers = [
        Environment.from_pack(make_pack([_python_tool("tools/hotel.py:who")], repository=r))
        .new_episode()
        .call("tool", {})
        .content
        for r in (tmp_path / "one", tmp_path / "two")
    ]
    assert answers == ["one", "two"]


def test_a_missing_file_is_a_definition_error(make_pack: MakePack) -> None:
    pack = make_pack([_python_tool("tools/nowhere.py:f")])
    with pytest.raises(
        ToolDefinitionError, match=r"^tool tool: python: there is no file .*nowhere"
    ):
        Environment.from_pack(pack)


def test_a_missing_function_names_what_the_file_defines(make_pack: MakePack) -> None:
    with pytest.raises(ToolDefinitionError) as error:
        Environment.from_pack(make_pack([_python_tool("tools/hotel.py:lat_checkout")]))
    message = str(error.value)
    assert message.startswith("tool tool: python: tools/hotel.py has no function 'lat_checkout'")
    assert "late_checkout" in message
    with pytest.raises(ToolDefinitionError, match="has no function 'NOT_A_FUNCTION'"):
        Environment.from_pack(make_pack([_python_tool("tools/hotel.py:NOT_A_FUNCTION")]))


def test_a_file_that_fails_to_import_names_the_line(tmp_path: Path, make_pack: MakePack) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "bad.py").write_text("import json\n\nraise RuntimeError('boom')\n")
    with pytest.raises(ToolDefinitionError, match=r"failed at line 3: RuntimeError: boom$"):
        Environment.from_pack(make_pack([_python_tool("tools/bad.py:f")], repository=tmp_path))
    (tmp_path / "tools" / "syntax.py").write_text("def f(db):\n    return (\n")
    with pytest.raises(ToolDefinitionError, match="SyntaxError"):
        Environment.from_pack(make_pack([_python_tool("tools/syntax.py:f")], repository=tmp_path))


def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path, make_pack: MakePack) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def f(db):\n    return 'escaped'\n")
    repository = tmp_path / "repo"
    (repository / "tools").mkdir(parents=True)
    (repository / "tools" / "link.py").symlink_to(outside)
    pack = make_pack([_python_tool("tools/link.py:f")], repository=repository)
    with pytest.raises(ToolDefinitionError, match=r"resolves to .*outside\.py, outside the repo"):
        Environment.from_pack(pack)


def test_an_edited_file_is_loaded_again(tmp_path: Path, make_pack: MakePack) -> None:
    (tmp_path / "tools").mkdir()
    source = tmp_path / "tools" / "t.py"
    source.write_text("def f(db):\n    return 1\n")
    pack = make_pack([_python_tool("tools/t.py:f")], repository=tmp_path)
    assert Environment.from_pack(pack).new_episode().call("tool", {}).content == "1"
    source.write_text("def f(db):\n    return 2\n")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert Environment.from_pack(pack).new_episode().call("tool", {}).content == "2"


def test_a_tool_sees_the_pack_clock_as_db_now(tmp_path: Path, make_pack: MakePack) -> None:
    # Time rules (a fee within 48 hours of check-in) need the simulated time, not the wall clock.
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "clock.py").write_text("def now(db):\n    return db.now.isoformat()\n")
    pack = make_pack([_python_tool("tools/clock.py:now")], repository=tmp_path)
    episode = Environment.from_pack(pack).new_episode()
    assert episode.call("tool", {}).content == "2025-06-04T09:00:00"


def _events(episode: EpisodeEnvironment) -> tuple[threading.Event, threading.Event]:
    function = episode.environment.function("tools/hotel.py:cancel_when_released")
    release, finished = function.__globals__["RELEASE"], function.__globals__["FINISHED"]
    release.clear()
    finished.clear()
    return release, finished


async def test_a_python_tool_runs_off_the_event_loop_and_its_writes_are_kept(
    episode: EpisodeEnvironment,
) -> None:
    release, _ = _events(episode)
    call = asyncio.ensure_future(episode.run("cancel_when_released", {"booking_id": "B11246"}))
    # The loop goes on while the tool blocks: this coroutine runs, and releases it.
    await asyncio.sleep(0)
    assert not call.done()
    release.set()
    result = await asyncio.wait_for(call, DEADLINE_S)
    assert (result.content, result.error) == ("cancelled", False)
    assert [(c.record_id, c.after and c.after["status"]) for c in result.changes] == [
        ("B11246", "cancelled")
    ]
    assert episode.database.get("bookings", "B11246")["status"] == "cancelled"
    assert [c.record_id for c in episode.database.changes] == ["B11246"]


async def test_a_python_tool_past_its_deadline_is_a_tool_error_and_its_late_writes_are_lost(
    episode: EpisodeEnvironment,
) -> None:
    release, finished = _events(episode)
    # Before: the tool ran on the event loop, so no deadline could interrupt it.
    result = await episode.run("cancel_when_released", {"booking_id": "B11246"}, timeout_s=0.05)
    assert (result.error, result.crashed) == (True, True)
    assert result.content == "Error: the tool cancel_when_released did not return within 0.05 s"
    assert result.detail is not None
    assert "tools/hotel.py:cancel_when_released" in result.detail
    assert "tool_timeout_s" in result.detail
    # The abandoned tool finishes later, on its own copy: the episode's database never sees it.
    release.set()
    assert await asyncio.to_thread(finished.wait, DEADLINE_S)
    assert episode.database.get("bookings", "B11246")["status"] == "confirmed"
    assert episode.database.changes == ()


async def test_a_declarative_tool_runs_in_place(episode: EpisodeEnvironment) -> None:
    result = await episode.run("get_booking_details", {"booking_id": "B11246"}, timeout_s=0.05)
    assert not result.error and episode.database.changes == ()
