"""Readers that never look at tokens (`report`, `show`'s index, `evaluate`) skip them unparsed.

`without_tokens` cuts each generation's `TokenTrace` out of a line as bytes; what is read is
then the episode with every `tokens` None, and a report is the same as from the whole line.
"""

from __future__ import annotations

import json

import pytest

from policy_agent.records import Episode
from policy_agent.report import build_report, load_run
from policy_agent.trajectory import RunStore, without_tokens
from policy_agent.tui import ReplayRun
from tests.export.conftest import ModelRun, model_run_on


@pytest.fixture(scope="module")
def token_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelRun]:
    """The model card's scenario on the completions transport, with record_tokens on."""
    folder = tmp_path_factory.mktemp("completions")
    return {"completions": model_run_on(folder, "completions", "card", record_tokens=True)}


def _no_tokens(episode: Episode) -> Episode:
    value = episode.model_dump(mode="json")
    for message in value["messages"]:
        if message.get("generation") is not None:
            message["generation"]["tokens"] = None
    return Episode.model_validate(value)


def test_a_line_without_tokens_is_the_episode_with_every_trace_none(
    token_runs: dict[str, ModelRun],
) -> None:
    store = RunStore.open(token_runs["completions"].directory)
    whole = [episode for _, episode in store.latest_episodes()]
    skipped = [episode for _, episode in store.latest_episodes(tokens=False)]
    assert any(
        message.generation is not None and message.generation.tokens is not None
        for episode in whole
        for message in episode.messages
        if hasattr(message, "generation")
    )
    assert skipped == [_no_tokens(episode) for episode in whole]


def test_the_report_is_the_same_with_tokens_skipped(token_runs: dict[str, ModelRun]) -> None:
    directory = token_runs["completions"].directory
    with_tokens = build_report(load_run(directory))
    without = build_report(load_run(directory, tokens=False))
    assert without == with_tokens


def test_the_replay_index_skips_tokens_and_loading_an_episode_keeps_them(
    token_runs: dict[str, ModelRun],
) -> None:
    directory = token_runs["completions"].directory
    replay = ReplayRun(directory)
    replay.log.poll()
    loaded = replay.log.load(replay.log.entries[0])
    [(_, first), *_] = list(RunStore.open(directory).latest_episodes())
    assert loaded == first


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
