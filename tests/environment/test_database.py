"""The per-episode copy-on-write database."""

from __future__ import annotations

import copy
import hashlib
import tracemalloc
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from policy_agent.environment import (
    ABSENT,
    Change,
    Database,
    FieldDiff,
    ToolError,
    canonical_json,
    database_hash,
)

INITIAL: dict[str, dict[str, dict[str, JsonValue]]] = {
    "bookings": {
        "B2": {"guest": "G1", "status": "confirmed", "cribs": 0, "nights": [1, 2]},
        "B1": {"guest": "G2", "status": "cancelled", "cribs": 1, "nights": []},
    },
    "guests": {"G1": {"name": "Ana", "vip": True}, "G2": {"name": "Bo", "vip": False}},
    "credit_cards": {},
}


@pytest.fixture
def tables() -> dict[str, dict[str, dict[str, JsonValue]]]:
    return copy.deepcopy(INITIAL)


@pytest.fixture
def db(tables: dict[str, dict[str, dict[str, JsonValue]]]) -> Database:
    return Database(tables)


def test_get_returns_a_read_only_record_that_is_not_copied(db: Database) -> None:
    record = db.get("bookings", "B2")
    assert record == INITIAL["bookings"]["B2"]
    assert db.get("bookings", "B2") is record
    with pytest.raises(TypeError, match=r"^records read from the database are read-only; build"):
        record["status"] = "hacked"
    with pytest.raises(TypeError, match="read-only"):
        record["nights"].append(3)  # type: ignore[union-attr]
    mutable = copy.deepcopy(record)
    mutable["nights"].append(3)  # type: ignore[union-attr]
    assert db.get("bookings", "B2") == INITIAL["bookings"]["B2"]
    assert db.changes == ()


@pytest.mark.parametrize(
    ("table", "record_id", "message"),
    [
        ("bookings", "B999", "Booking B999 not found"),
        ("guests", "G9", "Guest G9 not found"),
        ("credit_cards", "C1", "Credit card C1 not found"),
        (
            "bookingz",
            "B1",
            "there is no table 'bookingz'; the tables are: bookings, credit_cards, guests",
        ),
    ],
)
def test_unknown_table_or_id_is_a_tool_error(
    db: Database, table: str, record_id: str, message: str
) -> None:
    with pytest.raises(ToolError) as error:
        db.get(table, record_id)
    assert error.value.message == message
    with pytest.raises(ToolError, match=message):
        db.delete(table, record_id)


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("addresses", "Address"),
        ("companies", "Company"),
        ("status", "Status"),
        ("inventory", "Inventory"),
    ],
)
def test_missing_record_names_the_table_in_the_singular(table: str, name: str) -> None:
    with pytest.raises(ToolError, match=f"^{name} X1 not found$"):
        Database({table: {}}).get(table, "X1")


def test_records_are_in_id_order_after_inserts_and_deletes(db: Database) -> None:
    assert [i for i, _ in db.records("bookings")] == ["B1", "B2"]
    db.insert("bookings", "B0", {"guest": "G1", "status": "new", "cribs": 0, "nights": []})
    db.insert("bookings", "B3", {"guest": "G1", "status": "new", "cribs": 0, "nights": []})
    db.delete("bookings", "B1")
    assert db.ids("bookings") == ["B0", "B2", "B3"]
    assert [i for i, _ in db.reader.records("bookings")] == ["B0", "B2", "B3"]
    assert db.reader.get("bookings", "B1") is None
    assert db.exists("bookings", "B0") and not db.exists("bookings", "B1")


def test_find_compares_numbers_by_value_and_never_bool_with_int(db: Database) -> None:
    assert [i for i, _ in db.find("bookings", status="confirmed")] == ["B2"]
    assert [i for i, _ in db.find("bookings", cribs=1.0)] == ["B1"]
    assert db.find("guests", vip=1) == []
    assert [i for i, _ in db.find("guests", vip=True)] == ["G1"]
    assert [i for i, _ in db.find("bookings", guest="G1", status="confirmed")] == ["B2"]
    assert [i for i, _ in db.find("bookings", missing=None)] == ["B1", "B2"]


def test_writes_are_logged_as_changes(db: Database) -> None:
    db.update("bookings", "B2", cribs=2)
    db.insert("guests", "G3", {"name": "Cy", "vip": False})
    db.delete("bookings", "B1")
    assert [c.kind for c in db.changes] == ["update", "insert", "delete"]
    update = db.changes[0]
    assert update == Change(
        table="bookings",
        record_id="B2",
        before=INITIAL["bookings"]["B2"],
        after={**INITIAL["bookings"]["B2"], "cribs": 2},
    )
    assert update.field_diff() == [FieldDiff(path="cribs", before=0, after=2)]
    assert str(update) == "update bookings[B2]: cribs: 0 -> 2"
    assert db.changes[1].field_diff() == [
        FieldDiff(path="name", before=ABSENT, after="Cy"),
        FieldDiff(path="vip", before=ABSENT, after=False),
    ]
    assert str(db.changes[2]).startswith('delete bookings[B1]: guest: "G2" -> (absent)')


def test_an_update_that_changes_nothing_is_not_a_change(db: Database) -> None:
    assert db.update("bookings", "B2", cribs=0) == INITIAL["bookings"]["B2"]
    assert db.changes == ()


def test_writing_rejects_values_json_cannot_hold(db: Database) -> None:
    with pytest.raises(TypeError, match=r"bookings\[B2\]\.when: a datetime is not a JSON value"):
        db.update("bookings", "B2", when=datetime(2025, 1, 1))
    with pytest.raises(TypeError, match="record ids are strings"):
        db.insert("bookings", 7, {})  # type: ignore[arg-type]
    with pytest.raises(ToolError, match=r"^Booking B2 already exists$"):
        db.insert("bookings", "B2", {})


def test_a_stored_value_is_copied_on_write(db: Database) -> None:
    nights = [5]
    db.update("bookings", "B2", nights=nights)
    nights.append(6)
    assert db.get("bookings", "B2")["nights"] == [5]


def test_field_diff_descends_into_objects_and_equal_length_lists() -> None:
    change = Change(
        table="t",
        record_id="1",
        before={"pay": {"amount": 1, "cur": "EUR"}, "legs": [{"d": "a"}, {"d": "b"}], "n": [1]},
        after={"pay": {"amount": 1.0, "cur": "EUR"}, "legs": [{"d": "a"}, {"d": "c"}], "n": [1, 2]},
    )
    assert [str(d) for d in change.field_diff()] == [
        "pay.amount: 1 -> 1.0",
        'legs[1].d: "b" -> "c"',
        "n: [1] -> [1, 2]",
    ]


# ------------------------------------------------------------------------ copy-on-write isolation


def test_episodes_do_not_see_each_others_writes_and_the_initial_tables_stay_as_they_were(
    tables: dict[str, dict[str, dict[str, JsonValue]]],
) -> None:
    before = copy.deepcopy(tables)
    pack_db = Database(tables)
    first, second = pack_db.fresh(), pack_db.fresh()
    first.update("bookings", "B2", status="cancelled", nights=[9])
    first.insert("guests", "G3", {"name": "Cy", "vip": False})
    second.delete("bookings", "B2")
    with pytest.raises(TypeError, match="read-only"):
        first.get("bookings", "B1")["nights"].append(1)  # type: ignore[union-attr]
    first.snapshot()["guests"]["G1"]["name"] = "changed"
    first.changes[0].after["status"] = "changed"  # type: ignore[index]

    assert first.get("bookings", "B2")["status"] == "cancelled"
    assert not second.exists("bookings", "B2")
    assert not second.exists("guests", "G3")
    assert pack_db.fresh().snapshot() == before
    assert tables == before


# ------------------------------------------------------------------------ hashing and diff


def _hash_by_the_definition(tables: dict[str, dict[str, dict[str, JsonValue]]]) -> str:
    """The hash as policy_agent/environment/_hash.py's docstring defines it, written out again."""
    total = 0
    for table, records in tables.items():
        for record_id, record in records.items():
            data = canonical_json([table, record_id, record])
            total += int.from_bytes(hashlib.shake_256(data).digest(512), "big")
    digits = f"{total % 2**4096:01024x}"
    content = {"scheme": "adhash-shake256-4096", "sum": digits, "tables": sorted(tables)}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def test_hash_is_the_documented_sum_of_record_terms(db: Database) -> None:
    assert db.content_hash() == _hash_by_the_definition(db.snapshot())
    assert db.content_hash() == database_hash(INITIAL)
    assert canonical_json({"b": "é", "a": [1, 2.5]}) == '{"a":[1,2.5],"b":"é"}'.encode()
    db.update("bookings", "B2", cribs=1.0)
    assert db.content_hash() == _hash_by_the_definition(db.snapshot())
    assert database_hash({}) == _hash_by_the_definition({})


def test_hash_tells_apart_what_canonical_json_tells_apart() -> None:
    base = {"t": {"a": {"n": 1}}}
    others = [
        {"t": {"a": {"n": 1.0}}},
        {"t": {"b": {"n": 1}}},
        {"u": {"a": {"n": 1}}},
        {"t": {"a": {"n": 1}}, "u": {}},
        {"t": {"a": {"n": 1}, "b": {"n": 1}}},
        {"t": {"a": {"n": True}}},
    ]
    hashes = {database_hash(tables) for tables in [base, *others]}
    assert len(hashes) == 1 + len(others)


def test_hash_does_not_depend_on_the_order_tables_were_written_in(
    tables: dict[str, dict[str, dict[str, JsonValue]]],
) -> None:
    reordered = {
        t: dict(reversed(list(rows.items()))) for t, rows in reversed(list(tables.items()))
    }
    assert Database(reordered).content_hash() == Database(tables).content_hash()


def test_hash_changes_with_a_write_and_comes_back_when_it_is_reverted(db: Database) -> None:
    initial = db.content_hash()
    db.update("bookings", "B2", status="cancelled")
    db.insert("guests", "G3", {"name": "Cy", "vip": False})
    changed = db.content_hash()
    assert changed != initial
    db.update("bookings", "B2", status="confirmed")
    db.delete("guests", "G3")
    assert db.content_hash() == initial
    assert db.diff() == []
    assert len(db.changes) == 4


def test_rollback_undoes_writes_since_the_savepoint(db: Database) -> None:
    db.update("bookings", "B2", cribs=1)
    mark = db.savepoint()
    after_first = db.content_hash()
    db.update("bookings", "B2", cribs=2)
    db.delete("bookings", "B1")
    db.insert("guests", "G3", {"name": "Cy"})
    db.rollback(mark)
    assert db.content_hash() == after_first
    assert len(db.changes) == 1
    assert db.get("bookings", "B2")["cribs"] == 1
    assert db.exists("bookings", "B1") and not db.exists("guests", "G3")


def test_diff_against_the_initial_state_and_another_episode(db: Database) -> None:
    other = db.fresh()
    db.update("bookings", "B2", cribs=3)
    db.insert("guests", "G0", {"name": "Al"})
    other.delete("bookings", "B1")
    assert [(c.kind, c.table, c.record_id) for c in db.diff()] == [
        ("update", "bookings", "B2"),
        ("insert", "guests", "G0"),
    ]
    assert [(c.kind, c.table, c.record_id) for c in db.diff(other)] == [
        ("insert", "bookings", "B1"),
        ("update", "bookings", "B2"),
        ("insert", "guests", "G0"),
    ]
    unrelated = Database(copy.deepcopy(INITIAL))
    assert db.diff(unrelated) == db.diff()
    assert unrelated.diff(db) == [
        Change(table=c.table, record_id=c.record_id, before=c.after, after=c.before)
        for c in db.diff()
    ]


_IDS = st.sampled_from(["B1", "B2", "B3", "B10"])
_VALUES = st.one_of(st.integers(-3, 3), st.booleans(), st.text(max_size=3), st.floats(-2, 2))
_OPS = st.lists(
    st.tuples(st.sampled_from(["insert", "update", "delete", "rollback"]), _IDS, _VALUES),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_hash_and_diff_always_agree_with_the_snapshot(
    ops: list[tuple[str, str, JsonValue]],
) -> None:
    db = Database(copy.deepcopy(INITIAL)).fresh()
    for op, record_id, value in ops:
        try:
            if op == "insert":
                db.insert("bookings", record_id, {"x": value})
            elif op == "update":
                db.update("bookings", record_id, x=value)
            elif op == "delete":
                db.delete("bookings", record_id)
            else:
                db.rollback(max(0, db.savepoint() - 1))
        except ToolError:
            pass
        snapshot = db.snapshot()
        assert db.content_hash() == database_hash(snapshot)
        rebuilt = Database(snapshot)
        assert rebuilt.content_hash() == db.content_hash()
        assert rebuilt.diff(db) == []
        expected_changed = {
            i
            for i in set(snapshot["bookings"]) | set(INITIAL["bookings"])
            if snapshot["bookings"].get(i) != INITIAL["bookings"].get(i)
        }
        assert {c.record_id for c in db.diff()} == expected_changed


# ------------------------------------------------------------------------ memory


def test_a_thousand_episodes_over_a_large_database_do_not_copy_it() -> None:
    large: dict[str, dict[str, dict[str, JsonValue]]] = {
        "reservations": {
            f"R{n:05}": {
                "user": f"user_{n % 500}",
                "flights": [
                    {"number": f"HAT{n % 300:03}", "date": "2024-05-01", "price": 120 + n % 90}
                ],
                "passengers": [{"first": "Ana", "last": "Lee", "dob": "1990-01-01"}] * 2,
                "status": "confirmed",
            }
            for n in range(20_000)
        }
    }
    pack_db = Database(large)
    tracemalloc.start()
    try:
        base_size, _ = tracemalloc.get_traced_memory()
        episodes = [pack_db.fresh() for _ in range(1000)]
        for episode in episodes[:100]:
            episode.update("reservations", "R00007", status="cancelled")
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        copied = copy.deepcopy(large)
        one_copy, _ = tracemalloc.get_traced_memory()
        del copied
    finally:
        tracemalloc.stop()
    # 1000 episodes (100 with a write) together take far less than a single copy of the database.
    assert grown - base_size < one_copy / 10
    assert episodes[0].get("reservations", "R00007")["status"] == "cancelled"
    assert episodes[500].get("reservations", "R00007")["status"] == "confirmed"
