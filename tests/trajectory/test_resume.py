"""Resume: refused when the config or the domain changed (saying what changed), else recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import JsonValue

from policy_agent.trajectory import (
    MANIFEST_NAME,
    ResumeRefused,
    RunStore,
    changed_fields,
    changed_parts,
    check_resumable,
    config_hash,
)

from ._support import CONFIG, DOMAIN_HASH, EXCLUDE, NOW, Episode, make_manifest, new_run


def _finished_run(tmp_path: Path) -> Path:
    with new_run(tmp_path) as store:
        store.append(Episode(task_id="t0", trial=0))
        store.finish(now=NOW + timedelta(minutes=5))
    return store.directory


def _resume(directory: Path, config: dict[str, JsonValue], domain_hash: str) -> RunStore:
    return RunStore.resume(
        directory,
        config_hash=config_hash(config, exclude=EXCLUDE),
        domain_hash=domain_hash,
        config=config,
    )


def test_resume_with_the_same_setup_records_when_and_reopens(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    later = NOW + timedelta(hours=2)
    store = RunStore.resume(
        directory,
        config_hash=config_hash(CONFIG, exclude=EXCLUDE),
        domain_hash=DOMAIN_HASH,
        now=later,
    )
    assert store.writable
    assert store.manifest.resumed_at == [later]
    assert store.manifest.finished_at is None, "a resumed run is running again"
    assert RunStore.open(directory).manifest == store.manifest
    store.append(Episode(task_id="t0", trial=1))
    store.finish(now=later + timedelta(minutes=1))
    store.close()
    again = RunStore.resume(
        directory, config_hash=store.manifest.config_hash, domain_hash=DOMAIN_HASH
    )
    assert again.manifest.resumed_at[0] == later and len(again.manifest.resumed_at) == 2
    assert [(e.task_id, e.trial) for e in again.read(Episode)] == [("t0", 0), ("t0", 1)]
    again.close()


def test_fields_left_out_of_the_hash_may_change(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    config: dict[str, JsonValue] = {
        **CONFIG,
        "concurrency": 32,
        "output": {"dir": "/elsewhere", "format": "jsonl"},
        "progress": "plain",
    }
    before = RunStore.open(directory).manifest
    assert config != CONFIG and config_hash(config, exclude=EXCLUDE) == before.config_hash
    store = _resume(directory, config, DOMAIN_HASH)
    try:
        assert store.writable
        assert [(e.task_id, e.trial) for e in store.read(Episode)] == [("t0", 0)]
        # The run is still the one it was: its recorded config and hash do not follow the edit.
        assert (store.manifest.config, store.manifest.config_hash) == (
            before.config,
            before.config_hash,
        )
        assert len(store.manifest.resumed_at) == 1 and store.manifest.finished_at is None
    finally:
        store.close()


def test_a_changed_config_is_refused_naming_the_fields(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    before = (directory / MANIFEST_NAME).read_bytes()
    config: dict[str, JsonValue] = {
        **CONFIG,
        "max_steps": 100,
        "agent": {"model": "hosted_vllm/another-model-with-a-long-name", "temperature": 0.6},
        "seed": 3,
        "concurrency": 1,
    }
    del config["trials"]
    with pytest.raises(ResumeRefused) as caught:
        _resume(directory, config, DOMAIN_HASH)
    message = str(caught.value)
    assert message.startswith(f"cannot resume {directory}:\n  - the run config changed: ")
    assert "agent; max_steps: 200 -> 100; seed (added); trials (removed)" in message
    assert "concurrency" not in message
    assert "Start a new run instead (drop --resume)" in message
    assert caught.value.changes == [
        "the run config changed: agent; max_steps: 200 -> 100; seed (added); trials (removed)"
    ]
    assert (directory / MANIFEST_NAME).read_bytes() == before, "a refusal modifies nothing"


def test_a_changed_domain_is_refused_naming_the_domain(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    with pytest.raises(ResumeRefused) as caught:
        _resume(directory, CONFIG, "e" * 64)
    assert caught.value.changes == [
        "the domain pack 'hotel' changed (its hash was dddddddddddd, now eeeeeeeeeeee): its "
        "policy, tools, Python tool files, database or tasks differ from those the run started "
        "with"
    ]


def test_both_changes_are_reported_together(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    with pytest.raises(ResumeRefused) as caught:
        _resume(directory, {**CONFIG, "max_steps": 5}, "e" * 64)
    assert [change.split(" changed")[0] for change in caught.value.changes] == [
        "the run config",
        "the domain pack 'hotel'",
    ]


def test_without_the_new_config_the_refusal_shows_the_hashes(tmp_path: Path) -> None:
    directory = _finished_run(tmp_path)
    store = RunStore.open(directory)
    with pytest.raises(ResumeRefused) as caught:
        check_resumable(store, "0123456789abcdef", DOMAIN_HASH)
    assert caught.value.changes == [
        f"the run config changed (its hash was {store.manifest.config_hash[:12]}, now 0123456789ab)"
    ]


def test_changed_fields_compares_nested_values_whole_and_skips_excluded_paths() -> None:
    old: dict[str, JsonValue] = {"a": {"x": 1, "y": [1, 2]}, "b": "same", "c": {"keep": 1, "n": 2}}
    new: dict[str, JsonValue] = {"a": {"y": [1, 2], "x": 1}, "b": "same", "c": {"keep": 1, "n": 3}}
    assert changed_fields(old, new, exclude={"c.n"}) == []
    assert changed_fields(old, new, exclude=set()) == ['c: {"keep":1,"n":2} -> {"keep":1,"n":3}']


PARTS = {"the policy": "p1", "the tasks": "t1", "tools/hotel.py": "h1"}


def _run_with_parts(tmp_path: Path) -> Path:
    manifest = make_manifest().model_copy(update={"domain_parts": PARTS})
    with RunStore.create(tmp_path, manifest, fsync=False) as store:
        store.append(Episode(task_id="t0", trial=0))
    return store.directory


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ({**PARTS, "tools/hotel.py": "h2"}, "tools/hotel.py differs"),
        ({**PARTS, "the tasks": "t2", "tools/hotel.py": "h2"}, "the tasks, tools/hotel.py differ"),
        (
            {"the policy": "p1", "the tasks": "t1", "tools/other.py": "o1"},
            "tools/hotel.py (no longer used), tools/other.py (added) differ",
        ),
    ],
)
def test_a_changed_domain_names_the_parts_that_changed(
    tmp_path: Path, parts: dict[str, str], named: str
) -> None:
    directory = _run_with_parts(tmp_path)
    with pytest.raises(ResumeRefused) as caught:
        RunStore.resume(
            directory,
            config_hash=config_hash(CONFIG, exclude=EXCLUDE),
            domain_hash="e" * 64,
            domain_parts=parts,
        )
    assert caught.value.changes == [
        "the domain pack 'hotel' changed (its hash was dddddddddddd, now eeeeeeeeeeee): "
        f"{named} from those the run started with"
    ]


def test_changed_parts_cannot_be_named_against_a_run_that_kept_none() -> None:
    assert changed_parts({}, PARTS) == []
    assert changed_parts(PARTS, PARTS) == []
