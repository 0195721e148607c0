"""A big YAML database is read from the user's YAML cache after its first load, and a problem
in it is still placed in the YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_agent.domain import PackError, load_pack
from policy_agent.yamlsource import CACHE_SETTING
from tests.domain._support import pack_data, write_pack

BOOKS = 16_000
"""Enough books for a db.yaml past the cache's 1 MB threshold."""


def _big_pack(folder: Path, last_record: str) -> Path:
    """A pack whose db.yaml holds BOOKS books and then `last_record`'s book (YAML flow)."""
    lines = ["books:"]
    for number in range(BOOKS):
        lines += [f"  BK{number}:", f"    title: Collected works, volume {number}"]
        lines += [f"    pages: {100 + number % 400}"]
    lines += [f"  BK_LAST: {last_record}", "loans: {}", ""]
    text = "\n".join(lines)
    assert len(text.encode()) > 1_000_000
    return write_pack(folder, pack_data(database="db.yaml"), {"db.yaml": text})


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(CACHE_SETTING, raising=False)
    return tmp_path / "cache" / "policy-agent" / "yaml"


def test_a_big_yaml_database_is_kept_and_read_back_the_same(
    tmp_path: Path, cache_home: Path
) -> None:
    folder = _big_pack(tmp_path / "pack", "{title: The last one, pages: 7}")
    first = load_pack(folder)
    assert len(list(cache_home.glob("*.json"))) == 1
    second = load_pack(folder)
    assert second.database == first.database
    assert second.content_hash == first.content_hash
    assert first.database["books"]["BK_LAST"] == {"title": "The last one", "pages": 7}


def test_a_problem_after_a_cache_hit_is_placed_in_the_yaml_file(
    tmp_path: Path, cache_home: Path
) -> None:
    folder = _big_pack(tmp_path / "pack", "{id: BK2}")
    found = []
    for _ in range(2):
        with pytest.raises(PackError) as error:
            load_pack(folder)
        found.append([(p.file, p.line, p.message) for p in error.value.problems])
    assert len(list(cache_home.glob("*.json"))) == 1
    last_line = len((folder / "db.yaml").read_text().splitlines()) - 1  # before `loans: {}`
    assert (
        found[0]
        == found[1]
        == [(folder / "db.yaml", last_line, "the record's id 'BK2' differs from its key 'BK_LAST'")]
    )


def test_the_cache_can_be_turned_off(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_SETTING, "off")
    load_pack(_big_pack(tmp_path / "pack", "{title: x}"))
    assert not cache_home.exists()
