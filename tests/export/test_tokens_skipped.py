"""Readers that never look at tokens (`report`, `show`'s index, `evaluate`) skip them unparsed.

The store keeps token traces in `tokens.jsonl`, which those readers never open; runs written
before it keep them inline, and `without_tokens` cuts each generation's `TokenTrace` out of a
line as bytes. Either way what is read is the episode with every `tokens` None, and a report is
the same as from the whole episode, in both layouts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from policy_agent.records import Episode
from policy_agent.report import RunReport, build_report, load_run
from policy_agent.trajectory import TOKENS_NAME, RunStore, with_tokens, without_tokens
from policy_agent.tui import ReplayRun
from tests.export.conftest import ModelRun, model_run_on


@pytest.fixture(scope="module")
def token_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelRun]:
    """The model card's scenario on the completions transport, with record_tokens on."""
    folder = tmp_path_factory.mktemp("completions")
    return {"completions": model_run_on(folder, "completions", "card", record_tokens=True)}


@pytest.fixture(scope="module")
def layouts(
    token_runs: dict[str, ModelRun], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The run as the store writes it (`sidecar`) and as runs before tokens.jsonl were (`inline`:
    every trace in its episode line, no tokens.jsonl)."""
    sidecar = token_runs["completions"].directory
    inline = tmp_path_factory.mktemp("inline") / sidecar.name
    shutil.copytree(sidecar, inline)
    (inline / TOKENS_NAME).unlink()
    lines = RunStore.open(sidecar).iter_lines()
    episodes = [
        with_tokens(sidecar, Episode.model_validate(line.value), line.number) for line in lines
    ]
    (inline / "episodes.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in episodes))
    return {"sidecar": sidecar, "inline": inline}


def _no_tokens(episode: Episode) -> Episode:
    value = episode.model_dump(mode="json")
    for message in value["messages"]:
        if message.get("generation") is not None:
            message["generation"]["tokens"] = None
    return Episode.model_validate(value)


def test_the_store_keeps_the_traces_out_of_the_episode_line(layouts: dict[str, Path]) -> None:
    assert b'"tokens":{' not in (layouts["sidecar"] / "episodes.jsonl").read_bytes()
    assert b'"tokens":{' in (layouts["inline"] / "episodes.jsonl").read_bytes()
    assert (layouts["sidecar"] / TOKENS_NAME).stat().st_size > 0


def test_both_layouts_read_as_the_same_episodes_with_tokens(layouts: dict[str, Path]) -> None:
    sidecar = list(RunStore.open(layouts["sidecar"]).latest_episodes())
    inline = list(RunStore.open(layouts["inline"]).latest_episodes())
    assert sidecar == inline


@pytest.mark.parametrize("layout", ["sidecar", "inline"])
def test_a_line_without_tokens_is_the_episode_with_every_trace_none(
    layouts: dict[str, Path], layout: str
) -> None:
    store = RunStore.open(layouts[layout])
    whole = [episode for _, episode in store.latest_episodes()]
    skipped = [episode for _, episode in store.latest_episodes(tokens=False)]
    assert any(
        message.generation is not None and message.generation.tokens is not None
        for episode in whole
        for message in episode.messages
        if hasattr(message, "generation")
    )
    # Read without its traces, an episode still says where they are (sidecar layout).
    offsets = [episode.tokens_offset for episode in skipped]
    assert all(offset is not None for offset in offsets) == (layout == "sidecar")
    plain = [episode.model_copy(update={"tokens_offset": None}) for episode in skipped]
    assert plain == [_no_tokens(episode) for episode in whole]


def test_the_report_is_the_same_with_tokens_skipped_in_either_layout(
    layouts: dict[str, Path],
) -> None:
    def report(layout: str, *, tokens: bool) -> RunReport:
        built = build_report(load_run(layouts[layout], tokens=tokens))
        return built.model_copy(update={"directory": "the run"})  # the copy is elsewhere

    whole = report("inline", tokens=True)
    assert report("inline", tokens=False) == whole
    assert report("sidecar", tokens=False) == whole
    assert report("sidecar", tokens=True) == whole


@pytest.mark.parametrize("layout", ["sidecar", "inline"])
def test_the_replay_index_skips_tokens_and_loading_an_episode_keeps_them(
    layouts: dict[str, Path], layout: str
) -> None:
    directory = layouts[layout]
    replay = ReplayRun(directory)
    replay.log.poll()
    loaded = replay.log.load(replay.log.entries[0])
    [(_, first), *_] = list(RunStore.open(directory).latest_episodes())
    assert loaded == first
    assert loaded.tokens_offset is None
    assert any(
        message.generation.tokens
        for message in loaded.messages
        if hasattr(message, "generation") and message.generation
    )


@pytest.mark.parametrize(
    "value",
    [
        # A tool's data with a key named tokens: not a token trace, kept.
        {"database": {"tokens": {"prompt_token_ids": [1, 2], "other": 3}}},
        # A message whose text quotes a trace: escaped in JSON, so never matched.
        {
            "text": '"tokens":{"prompt_token_ids":[1],"completion_token_ids":[2],'
            '"completion_logprobs":[-0.5]}'
        },
        # A trace-like object holding an object: not what model_dump_json writes.
        {
            "tokens": {
                "prompt_token_ids": [1],
                "completion_token_ids": [2],
                "completion_logprobs": [{"x": 1}],
            }
        },
    ],
)
def test_what_is_not_a_token_trace_is_left_as_it_is(value: dict[str, object]) -> None:
    data = json.dumps(value, separators=(",", ":")).encode()
    assert without_tokens(data) == data


def test_every_trace_of_a_line_is_cut_and_the_rest_kept() -> None:
    trace = {
        "prompt_token_ids": [1, 2],
        "completion_token_ids": None,
        "completion_logprobs": [-0.25, None],
    }
    value = {"a": {"tokens": trace, "b": 1}, "c": [{"tokens": trace}], "tokens": 3}
    data = json.dumps(value, separators=(",", ":")).encode()
    expected = {"a": {"tokens": None, "b": 1}, "c": [{"tokens": None}], "tokens": 3}
    assert json.loads(without_tokens(data)) == expected


def test_a_line_without_a_trace_is_returned_as_it_is() -> None:
    assert without_tokens(b'{"kind":"episode"}\n') == b'{"kind":"episode"}\n'
