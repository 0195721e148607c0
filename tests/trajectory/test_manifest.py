"""run.json: run ids, the config hash, versions, atomic rewrites."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import JsonValue, ValidationError

from policy_agent.trajectory import (
    MANIFEST_NAME,
    RUN_ID_PATTERN,
    AgentServer,
    NotARun,
    RunManifest,
    collect_versions,
    config_hash,
    new_run_id,
)
from policy_agent.trajectory._manifest import read_manifest, write_manifest
from tests._waiting import DEADLINE_S

from ._support import CONFIG, DOMAIN_HASH, EXCLUDE, NOW, make_manifest


def test_run_id_is_utc_time_domain_and_six_hex() -> None:
    run_id = new_run_id("hotel", now=datetime(2025, 6, 1, 14, 30, 45, tzinfo=UTC))
    assert re.fullmatch(r"20250601-143045-hotel-[0-9a-f]{6}", run_id)
    assert re.fullmatch(RUN_ID_PATTERN, run_id)


def test_run_id_converts_local_time_to_utc() -> None:
    local = datetime(2025, 6, 1, 16, 30, 45, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert new_run_id("hotel", now=local).startswith("20250601-163045-hotel-")


def test_run_ids_in_the_same_second_differ() -> None:
    ids = {new_run_id("hotel", now=NOW) for _ in range(50)}
    assert len(ids) == 50


def test_run_ids_sort_by_start_time() -> None:
    times = [NOW + timedelta(seconds=s) for s in (0, 1, 59, 3600, 86400 * 40)]
    ids = [new_run_id("hotel", now=t) for t in times]
    assert sorted(ids) == ids


@pytest.mark.parametrize("name", ["", "ho tel", "../hotel", "hotel-x", "hôtel"])
def test_run_id_refuses_a_domain_name_unfit_for_a_folder(name: str) -> None:
    with pytest.raises(ValueError, match=r"cannot go into a run id"):
        new_run_id(name)


def test_config_hash_ignores_key_order_and_excluded_fields() -> None:
    reordered: dict[str, JsonValue] = dict(reversed(list(CONFIG.items())))
    base = config_hash(CONFIG, exclude=EXCLUDE)
    assert config_hash(reordered, exclude=EXCLUDE) == base
    changed_excluded: dict[str, JsonValue] = {
        **CONFIG,
        "concurrency": 64,
        "output": {"dir": "elsewhere", "format": "jsonl"},
        "progress": "plain",
    }
    assert config_hash(changed_excluded, exclude=EXCLUDE) == base


@pytest.mark.parametrize(
    "change",
    [
        {"max_steps": 100},
        {"agent": {"model": "hosted_vllm/nemotron", "temperature": 0.6}},
        {"output": {"dir": "runs", "format": "json"}},
        {"seed": 7},
    ],
)
def test_config_hash_changes_with_any_other_field(change: dict[str, JsonValue]) -> None:
    assert config_hash({**CONFIG, **change}, exclude=EXCLUDE) != config_hash(
        CONFIG, exclude=EXCLUDE
    )


def test_config_hash_leaves_the_config_untouched() -> None:
    config = json.loads(json.dumps(CONFIG))
    config_hash(config, exclude=EXCLUDE)
    assert config == CONFIG


def test_versions_name_litellm_without_importing_it() -> None:
    code = (
        "import sys\n"
        "from policy_agent.trajectory import collect_versions\n"
        "v = collect_versions()\n"
        "print(v.litellm, 'litellm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=DEADLINE_S
    )
    version, imported = result.stdout.split()
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version)
    assert imported == "False"


def test_versions_name_this_process() -> None:
    versions = collect_versions()
    assert versions.python == ".".join(map(str, sys.version_info[:3]))
    assert versions.policy_agent and versions.platform


def test_start_fills_the_manifest() -> None:
    manifest = make_manifest()
    assert manifest.run_id.startswith("20250601-123045-hotel-")
    assert manifest.created_at == NOW
    assert manifest.finished_at is None
    assert manifest.resumed_at == []
    assert manifest.config == CONFIG
    assert manifest.config_hash == config_hash(CONFIG, exclude=EXCLUDE)
    assert manifest.config_hash_excludes == ["concurrency", "output.dir", "progress"]
    assert manifest.domain_hash == DOMAIN_HASH


def test_manifest_refuses_naive_times_and_bad_run_ids() -> None:
    data = json.loads(make_manifest().model_dump_json())
    with pytest.raises(ValidationError, match=r"created_at"):
        RunManifest.model_validate({**data, "created_at": "2025-06-01T12:30:45"})
    with pytest.raises(ValidationError, match=r"run_id"):
        RunManifest.model_validate({**data, "run_id": "../../etc"})


def test_manifest_round_trips_through_run_json(tmp_path: Path) -> None:
    manifest = make_manifest()
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert list(tmp_path.iterdir()) == [tmp_path / MANIFEST_NAME]


def test_manifest_is_written_to_a_temporary_file_fsynced_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle: int) -> None:
        calls.append("fsync " + os.readlink(f"/proc/self/fd/{handle}"))
        real_fsync(handle)

    def replace(source: str, target: Path) -> None:
        calls.append(f"replace {Path(source).name} -> {Path(target).name}")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_manifest(tmp_path, make_manifest())
    assert len(calls) == 3
    assert re.fullmatch(rf"fsync {tmp_path}/\.run\.json\.\w+\.tmp", calls[0])
    assert re.fullmatch(r"replace \.run\.json\.\w+\.tmp -> run\.json", calls[1])
    assert calls[2] == f"fsync {tmp_path}"


def test_a_failed_rewrite_leaves_the_old_manifest_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_manifest()
    write_manifest(tmp_path, old)

    def crash(source: str, target: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match=r"Input/output"):
        write_manifest(tmp_path, old.model_copy(update={"finished_at": NOW}))
    assert read_manifest(tmp_path) == old
    assert list(tmp_path.iterdir()) == [tmp_path / MANIFEST_NAME]


def test_reading_a_missing_or_broken_manifest_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotARun, match=r"there is no run.json"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"run_id": "x"}')
    with pytest.raises(
        NotARun, match=r"run.json is not a valid manifest: run_id: String should match pattern"
    ):
        read_manifest(tmp_path)


def test_an_agent_server_recorded_before_warnings_existed_reads_with_none() -> None:
    old = {"profile": "vllm-0.17", "version": "0.17.1", "detected_from": "http://h/version"}
    assert AgentServer.model_validate(old).warnings == ()
