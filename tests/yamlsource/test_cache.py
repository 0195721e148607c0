"""Big YAML files' values kept as JSON: hits, misses, and a cache that is never a reason to fail."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given

from policy_agent.yamlsource import CACHE_SETTING, YamlCache, load_yaml
from tests.yamlsource._support import JSON_VALUES

TEXT = "rooms:\n  R1: {beds: 1, view: yes}\n  R2:\n    beds: 2\n    since: 2025-06-04\n"
VALUE = {"rooms": {"R1": {"beds": 1, "view": "yes"}, "R2": {"beds": 2, "since": "2025-06-04"}}}


@pytest.fixture
def cache(tmp_path: Path) -> YamlCache:
    return YamlCache(folder=tmp_path / "cache", min_bytes=0)


@pytest.fixture
def file(tmp_path: Path) -> Path:
    path = tmp_path / "db.yaml"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _entry(cache: YamlCache, file: Path) -> Path:
    key = cache.key(file.read_bytes())
    assert key is not None
    return cache.folder / f"{key}.json"


def test_a_miss_parses_the_yaml_and_keeps_its_value(cache: YamlCache, file: Path) -> None:
    assert load_yaml(file, cache=cache).data == VALUE
    assert json.loads(_entry(cache, file).read_text())["value"] == VALUE
    assert [path.name for path in cache.folder.iterdir()] == [_entry(cache, file).name]


def test_a_hit_reads_the_kept_value_not_the_yaml(cache: YamlCache, file: Path) -> None:
    load_yaml(file, cache=cache)
    entry = _entry(cache, file)
    kept = json.loads(entry.read_text())
    entry.write_text(json.dumps({**kept, "value": {"kept": True}}))
    assert load_yaml(file, cache=cache).data == {"kept": True}


def test_a_changed_file_is_parsed_again(cache: YamlCache, file: Path) -> None:
    load_yaml(file, cache=cache)
    file.write_text(TEXT.replace("beds: 2", "beds: 3"), encoding="utf-8")
    document = load_yaml(file, cache=cache)
    assert document.data == {"rooms": {**VALUE["rooms"], "R2": {"beds": 3, "since": "2025-06-04"}}}
    assert len(list(cache.folder.iterdir())) == 2


@pytest.mark.parametrize(
    "corrupt",
    [
        b'{"key": "',
        b"\xff\xfe not JSON",
        b"[1, 2]",
        b'{"key": "another file\'s", "value": 1}',
        b'{"key": "KEY"}',
    ],
)
def test_a_corrupt_entry_is_a_miss_and_is_written_anew(
    cache: YamlCache, file: Path, corrupt: bytes
) -> None:
    load_yaml(file, cache=cache)
    entry = _entry(cache, file)
    entry.write_bytes(corrupt.replace(b"KEY", entry.stem.encode()))
    assert load_yaml(file, cache=cache).data == VALUE
    assert json.loads(entry.read_text())["value"] == VALUE


def test_an_entry_that_cannot_be_read_is_a_miss(cache: YamlCache, file: Path) -> None:
    load_yaml(file, cache=cache)
    entry = _entry(cache, file)
    entry.unlink()
    entry.mkdir()  # reading it fails (IsADirectoryError), even for root
    assert load_yaml(file, cache=cache).data == VALUE


def test_a_folder_that_cannot_be_written_means_no_cache(tmp_path: Path, file: Path) -> None:
    (tmp_path / "a-file").write_text("")
    cache = YamlCache(folder=tmp_path / "a-file" / "yaml", min_bytes=0)
    assert load_yaml(file, cache=cache).data == VALUE
    assert load_yaml(file, cache=cache).data == VALUE


def test_after_a_hit_lines_are_found_in_the_yaml_file(cache: YamlCache, file: Path) -> None:
    load_yaml(file, cache=cache)
    document = load_yaml(file, cache=cache)
    assert document.file == file
    assert document.line_of(("rooms", "R2", "since")) == 5
    assert document.line_of(("rooms", "R1", "missing")) == 2


def test_a_file_with_problems_is_not_kept(cache: YamlCache, file: Path) -> None:
    file.write_text(TEXT + "rooms: {}\n", encoding="utf-8")
    for _ in range(2):
        [issue] = load_yaml(file, cache=cache).issues
        assert (issue.line, issue.message) == (6, "duplicate key 'rooms' (first at line 1)")
    assert not cache.folder.exists()


def test_a_small_file_is_not_kept(tmp_path: Path, file: Path) -> None:
    cache = YamlCache(folder=tmp_path / "cache", min_bytes=len(TEXT) + 1)
    assert load_yaml(file, cache=cache).data == VALUE
    assert not cache.folder.exists()


def test_strings_json_would_change_are_kept_exact(cache: YamlCache, tmp_path: Path) -> None:
    file = tmp_path / "odd.yaml"
    file.write_text('- "\\u0000 é \\u2028 \\U0001F600"\n- 123456789012345678901234567890\n- -0.0\n')
    first = load_yaml(file, cache=cache).data
    assert (
        load_yaml(file, cache=cache).data
        == first
        == ["\0 é \u2028 \U0001f600", 123456789012345678901234567890, -0.0]
    )


def test_the_users_cache_folder_and_the_setting_that_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(CACHE_SETTING, raising=False)
    assert YamlCache.from_environment() == YamlCache(folder=tmp_path / "policy-agent" / "yaml")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    found = YamlCache.from_environment()
    assert (
        found is not None and found.folder == tmp_path / "home" / ".cache" / "policy-agent" / "yaml"
    )
    for off in ("off", "0", "false", "No"):
        monkeypatch.setenv(CACHE_SETTING, off)
        assert YamlCache.from_environment() is None


@given(JSON_VALUES)
def test_a_hit_reads_back_exactly_what_the_yaml_held(value: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = YamlCache(folder=Path(folder) / "cache", min_bytes=0)
        file = Path(folder) / "a.yaml"
        file.write_text(yaml.safe_dump(value, default_style='"'), encoding="utf-8")
        parsed = load_yaml(file, cache=cache).data
        assert len(list(cache.folder.iterdir())) == 1
        cached = load_yaml(file, cache=cache).data
        assert cached == parsed == value
        assert json.dumps(cached) == json.dumps(parsed)  # the same kinds: 1.0 stays a float


def test_the_entries_used_last_are_kept(tmp_path: Path) -> None:
    cache = YamlCache(folder=tmp_path / "cache", min_bytes=0, max_entries=2)
    files = []
    for number in range(3):
        files.append(tmp_path / f"{number}.yaml")
        files[-1].write_text(f"value: {number}\n", encoding="utf-8")
    load_yaml(files[0], cache=cache)
    load_yaml(files[1], cache=cache)
    os.utime(_entry(cache, files[1]), (1, 1))  # as if used long ago
    os.utime(_entry(cache, files[0]), (2, 2))
    load_yaml(files[0], cache=cache)  # a hit: used now
    load_yaml(files[2], cache=cache)
    kept = {path.name for path in cache.folder.iterdir()}
    assert kept == {_entry(cache, files[0]).name, _entry(cache, files[2]).name}
