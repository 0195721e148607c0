"""Indexed `find`, paged `page`, `highest_number` and the incremental hash, each against a
brute-force reading of the snapshot, after random writes in several episodes of one pack."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from policy_agent.environment import Database, ToolError, database_hash
from policy_agent.environment._records import json_equal

FIELDS = ("guest", "n", "tags")
VALUES: list[JsonValue] = [0, 1, 1.0, -0.0, True, False, None, "a", "b", [1], [True], {"x": 1}]
IDS = [f"B{n}" for n in (1, 2, 3, 7, 9, 10, 11, 12, 20)] + ["B007", "C1", "A"]


def _initial() -> dict[str, dict[str, dict[str, JsonValue]]]:
    bookings: dict[str, dict[str, JsonValue]] = {}
    for number in range(1, 13):
        record: dict[str, JsonValue] = {"guest": "ab"[number % 2], "n": VALUES[number % 6]}
        if number % 3:
            record["tags"] = VALUES[number % len(VALUES)]
        bookings[f"B{number}"] = record
    return {"bookings": bookings, "guests": {"G1": {"name": "Ana"}}}


@dataclass(frozen=True)
class Write:
    episode: int
    kind: str
    record_id: str
    field: str
    value: JsonValue


_WRITES = st.lists(
    st.builds(
        Write,
        st.integers(0, 2),
        st.sampled_from(["insert", "update", "delete", "rollback", "copy", "fresh"]),
        st.sampled_from(IDS),
        st.sampled_from(FIELDS),
        st.sampled_from(VALUES),
    ),
    max_size=25,
)


def _apply(episodes: list[Database], write: Write) -> None:
    database = episodes[write.episode]
    try:
        match write.kind:
            case "insert":
                database.insert("bookings", write.record_id, {write.field: write.value})
            case "update":
                database.update("bookings", write.record_id, **{write.field: write.value})
            case "delete":
                database.delete("bookings", write.record_id)
            case "rollback":
                database.rollback(max(0, database.savepoint() - 2))
            case "copy":
                episodes[(write.episode + 1) % 3] = database.copy()
            case _:
                episodes[write.episode] = database.fresh()
    except ToolError:
        pass


def _scan(
    rows: dict[str, dict[str, JsonValue]], wanted: dict[str, JsonValue]
) -> list[tuple[str, dict[str, JsonValue]]]:
    return [
        (record_id, record)
        for record_id, record in sorted(rows.items())
        if all(json_equal(record.get(f), v, exact=False) for f, v in wanted.items())
    ]


@settings(max_examples=200, deadline=None)
@given(_WRITES, st.booleans())
def test_queries_agree_with_a_scan_of_the_snapshot_in_every_episode(
    writes: list[Write], index_first: bool
) -> None:
    tables = _initial()
    pack = Database(tables)
    if index_first:  # the indexes are then built before any episode writes
        for field in FIELDS:
            pack.find("bookings", **{field: None})
    episodes = [pack.fresh() for _ in range(3)]
    for write in writes:
        _apply(episodes, write)
    for database in episodes:
        snapshot = database.snapshot()
        rows = snapshot["bookings"]
        for field in FIELDS:
            for value in VALUES:
                assert database.find("bookings", **{field: value}) == _scan(rows, {field: value})
                both = {field: value, "guest": "a"}
                assert database.find("bookings", **both) == _scan(rows, both)
        ids = sorted(rows)
        for after in [None, *IDS]:
            following = [i for i in ids if after is None or i > after]
            for limit in (1, 3, 50):
                page = database.page("bookings", after=after, limit=limit)
                assert page == [(i, rows[i]) for i in following[:limit]]
        numbered = [(int(m[1]), len(m[1])) for i in ids if (m := re.fullmatch(r"B(\d+)", i))]
        assert database.highest_number("bookings", "B") == max(numbered, default=None)
        assert database.content_hash() == database_hash(snapshot)
    assert tables == _initial()


def test_an_episode_finds_its_own_writes_and_no_other_episodes() -> None:
    pack = Database(_initial())

    def guest_a(database: Database) -> str:
        return " ".join(record_id for record_id, _ in database.find("bookings", guest="a"))

    assert guest_a(pack) == "B10 B12 B2 B4 B6 B8"
    first, second = pack.fresh(), pack.fresh()
    first.update("bookings", "B2", guest="b")
    first.insert("bookings", "B0", {"guest": "a"})
    second.delete("bookings", "B4")
    assert guest_a(first) == "B0 B10 B12 B4 B6 B8"
    assert guest_a(second) == "B10 B12 B2 B6 B8"
    assert guest_a(pack.fresh()) == "B10 B12 B2 B4 B6 B8"


def test_find_of_a_nan_or_of_no_field() -> None:
    database = Database(_initial())
    assert database.find("bookings", n=float("nan")) == []
    database.update("bookings", "B1", n=float("nan"))
    assert "B1" not in [i for i, _ in database.find("bookings", n=VALUES[1])]
    assert [i for i, _ in database.find("guests")] == ["G1"]


def test_a_page_needs_a_positive_limit_and_a_known_table() -> None:
    database = Database(_initial())
    with pytest.raises(ValueError, match=r"^a page holds at least one record, not 0$"):
        database.page("bookings", limit=0)
    with pytest.raises(ToolError, match=r"^there is no table 'rooms'; the tables are: bookings"):
        database.page("rooms", limit=1)


def test_the_pack_tables_are_read_and_hashed_once_for_all_episodes() -> None:
    tables = _initial()
    pack = Database(tables)
    before = copy.deepcopy(tables)
    episodes = [pack.fresh() for _ in range(5)]
    for number, database in enumerate(episodes):
        database.update("bookings", "B3", n=number)
    assert len({database.content_hash() for database in episodes}) == 5
    assert episodes[0].get("bookings", "B1") is episodes[4].get("bookings", "B1")
    assert tables == before
