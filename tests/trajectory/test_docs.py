"""docs/runs.md stays true: its example runs, its tables name the real fields."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy_agent.trajectory import (
    INDEX_NAME,
    RUN_ID_PATTERN,
    RunManifest,
    RunStore,
    Versions,
    load_index,
)

from ._support import CONFIG, DOMAIN_HASH, Episode, episode_record, make_manifest

DOC = (Path(__file__).parents[2] / "docs" / "runs.md").read_text(encoding="utf-8")


class _Pack:
    name = "hotel"

    def content_hash(self) -> str:
        return DOMAIN_HASH


def test_the_example_makes_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)
    episodes = [Episode(task_id="t1", trial=0), Episode(task_id="t1", trial=1)]
    monkeypatch.chdir(tmp_path)
    exec(
        code,
        {"config": CONFIG, "pack": _Pack(), "tasks": ["t1"], "trials": 2},
        {"finished_episodes": episodes},
    )
    (run,) = (tmp_path / "runs").iterdir()
    store = RunStore.open(run)
    assert store.read(Episode) == episodes
    assert store.manifest.finished_at is not None
    assert store.manifest.episodes_planned == 2


def test_the_run_id_example_has_the_documented_form() -> None:
    (example,) = re.findall(r"for example `([^`]+)`", DOC)
    assert re.fullmatch(RUN_ID_PATTERN, example)


def test_the_manifest_table_names_every_field() -> None:
    table = DOC.split("## `run.json`")[1].split("\n\n")[1]
    named = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", table, re.MULTILINE))
    fields = {name for pair in named for name in pair if name}
    assert fields == set(RunManifest.model_fields)
    for version in Versions.model_fields:
        assert f"`{version}`" in table


def test_the_index_example_has_the_layout_written(tmp_path: Path) -> None:
    section = DOC.split("## `episodes.index`")[1]
    (example,) = re.findall(r"```\n(.*?)```", section.split("\n## ")[0], re.DOTALL)
    header, *rows = example.splitlines()
    with RunStore.create(tmp_path, make_manifest(), fsync=False) as store:
        store.append(episode_record("card_triplet_cribs", 0))
    load_index(store.episodes_path)
    written_header, written_row = (store.directory / INDEX_NAME).read_text().splitlines()
    assert json.loads(header).keys() == json.loads(written_header).keys()
    assert [type(value) for value in json.loads(rows[0])] == [
        type(value) for value in json.loads(written_row)
    ]
