"""The filter line: key terms, free words and phrases, completion, and the `f` toggle."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.tui import EpisodeEntry, EpisodeFilter, EpisodeLog, ReplayRun
from policy_agent.tui._filter import complete, completions, toggle_failed


@pytest.fixture(scope="module")
def log(fixture_run: Path) -> EpisodeLog:
    log = ReplayRun(fixture_run).log
    log.poll()
    return log


@pytest.fixture(scope="module")
def entries(log: EpisodeLog) -> list[EpisodeEntry]:
    return log.entries


def kept(text: str, log: EpisodeLog) -> list[str]:
    episode_filter = EpisodeFilter.parse(text)
    return [entry.id for entry in log.entries if episode_filter.matches(entry, log.text)]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("", ["card_triplet_cribs#0", "card_triplet_cribs#1", "twins_upgrade_for_cribs#0",
              "crib_limit_partial#0"]),
        ("is:failed", ["card_triplet_cribs#1", "twins_upgrade_for_cribs#0",
                       "crib_limit_partial#0"]),
        ("is:passed", ["card_triplet_cribs#0"]),
        ("IS:FAILED task:TRIPLET", ["card_triplet_cribs#1"]),
        ("task:twins task:limit", ["twins_upgrade_for_cribs#0", "crib_limit_partial#0"]),
        ("reason:max", ["twins_upgrade_for_cribs#0"]),
        ("reason:user", ["card_triplet_cribs#0", "card_triplet_cribs#1", "crib_limit_partial#0"]),
        ("code:multiple", ["card_triplet_cribs#1"]),
        ("code:empty", []),
        ("never mind", ["card_triplet_cribs#1"]),  # both words, anywhere
        ('"never mind"', ["card_triplet_cribs#1"]),  # the phrase
        ('"mind never"', []),
        ("503 SERVICE", ["card_triplet_cribs#1"]),  # events are searched too
        ("quiet task:cribs", ["card_triplet_cribs#0"]),
        ("task:", ["card_triplet_cribs#0", "card_triplet_cribs#1", "twins_upgrade_for_cribs#0",
                   "crib_limit_partial#0"]),  # a key still being typed filters nothing yet
        ('"never min', ["card_triplet_cribs#1"]),  # an open quote is closed at the end
    ],
)  # fmt: skip
def test_terms(text: str, ids: list[str], log: EpisodeLog) -> None:
    assert kept(text, log) == ids


def test_a_word_that_looks_like_a_key_is_searched_for() -> None:
    assert EpisodeFilter.parse("failed note:x").words == ("failed", "note:x")
    assert EpisodeFilter.parse("").is_empty and not EpisodeFilter.parse("x").is_empty


@given(st.text(max_size=40))
def test_any_line_parses(text: str) -> None:
    EpisodeFilter.parse(text)


def test_f_toggles_failed_only() -> None:
    assert toggle_failed("") == "is:failed"
    assert toggle_failed("task:crib quiet") == "is:failed task:crib quiet"
    assert toggle_failed("is:failed task:crib") == "task:crib"


def test_the_last_term_completes_from_tasks_reasons_and_codes(
    entries: list[EpisodeEntry],
) -> None:
    candidates = completions(entries)
    assert complete("is:f", candidates) == "is:failed"
    assert complete("is:failed task:tw", candidates) == "is:failed task:twins_upgrade_for_cribs"
    assert complete("reason:inf", candidates) == "reason:infrastructure_error"
    assert complete("code:multi", candidates) == "code:multiple_tool_calls"
    assert complete("task:card_triplet_cribs", candidates) is None  # complete already
    assert complete("quiet ", candidates) is None
    assert complete("zzz", candidates) is None
