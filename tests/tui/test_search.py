"""The replay's search inside a conversation: which steps match (the highlight's own rule), the
folds a match opens, and where `m` and `M` jump."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from policy_agent.tui import (
    FOLDED,
    MatchJump,
    RenderOptions,
    Step,
    match_count,
    matching_steps,
    next_match,
    render_step,
    revealing,
    search_pattern,
    steps_of,
)
from tests.tui._runs import failed

STEPS = steps_of(failed())
STARTED = failed().started_at


def highlighted(step: Step, words: tuple[str, ...]) -> bool:
    """Whether the step, everything unfolded, shows a reversed (highlighted) character."""
    console = Console(file=io.StringIO(), width=80, color_system="standard")
    options = RenderOptions(highlight=words)
    segments = console.render(render_step(step, started_at=STARTED, options=options))
    return any(segment.text and segment.style and segment.style.reverse for segment in segments)


def test_steps_match_wherever_a_word_shows_whatever_its_case() -> None:
    # B11246: the first message, the call's arguments and raw completion, both results.
    assert matching_steps(STEPS, ("b11246",)) == (0, 5, 6, 7, 8)
    assert matching_steps(STEPS, ("NEVER MIND", "elena")) == (2, 4, 10)
    assert matching_steps(STEPS, ("quiet room",)) == ()


def test_tool_names_and_argument_keys_match_as_the_filter_finds_them() -> None:
    # The list's filter finds an episode by a tool's name or an argument's key (search_text);
    # inside the conversation they are highlighted, so `m` reaches them: the call, its result.
    assert matching_steps(STEPS, ("get_booking_details",)) == (5, 6)
    assert matching_steps(STEPS, ("booking_id",)) == (5, 7)
    assert all(highlighted(STEPS[i], ("booking_id",)) for i in (5, 7))


def test_words_are_literal_and_empty_words_match_nothing() -> None:
    assert matching_steps(STEPS, ("+1-415",)) == (4,)  # a phone number, not a pattern
    assert matching_steps(STEPS, ("g9092.",)) == ()  # "." is a dot, not any character
    assert matching_steps(STEPS, ("",)) == ()  # a filter of "" keeps every episode
    assert search_pattern(("", "")) is None and search_pattern(()) is None


def test_folded_parts_hide_matches_until_revealed() -> None:
    # Only in the raw completion of the call a violation rejected.
    words = ("search_available_rooms",)
    [index] = matching_steps(STEPS, words)
    folded = replace(FOLDED, highlight=words)
    assert match_count(STEPS[index], folded) == 0
    assert revealing(STEPS[index], folded) == replace(folded, raw=True)
    assert match_count(STEPS[index], replace(folded, raw=True)) == 1
    # Past the twelve lines a folded result shows; in the reasoning.
    result = replace(FOLDED, highlight=("amount_paid",))
    assert revealing(STEPS[6], result) == replace(result, full_results=True)
    reasoning = replace(FOLDED, highlight=("two cribs",))
    assert revealing(STEPS[7], reasoning) == replace(reasoning, reasoning=True)
    # Shown already: nothing to open.
    shown = replace(FOLDED, highlight=("b11246",))
    assert revealing(STEPS[0], shown) == shown


@given(
    word=st.text(alphabet="bB1246cribsCRIBS _\"'.()[]+*?:é", min_size=1, max_size=4)
    | st.sampled_from(["booking_id", "Never mind", "503", "get_booking_details", "→"])
)
def test_a_step_matches_exactly_when_a_word_is_highlighted_in_it(word: str) -> None:
    expected = tuple(step.index for step in STEPS if highlighted(step, (word,)))
    assert matching_steps(STEPS, (word,)) == expected


def test_next_and_previous_match_wrap_around() -> None:
    matches = (0, 5, 6)
    assert next_match(matches, 0, 1) == MatchJump(step=5, number=2, total=3, wrapped=False)
    assert next_match(matches, 3, -1) == MatchJump(step=0, number=1, total=3, wrapped=False)
    assert next_match(matches, 6, 1) == MatchJump(step=0, number=1, total=3, wrapped=True)
    assert next_match(matches, 0, -1) == MatchJump(step=6, number=3, total=3, wrapped=True)
    assert next_match(matches, 9, 1) == MatchJump(step=0, number=1, total=3, wrapped=True)
    assert next_match((4,), 4, 1) == MatchJump(step=4, number=1, total=1, wrapped=True)
    assert next_match((), 2, 1) is None


def test_the_notice_says_which_match_of_how_many() -> None:
    assert MatchJump(step=5, number=2, total=3, wrapped=False).notice == "match 2 of 3"
    assert MatchJump(step=0, number=1, total=3, wrapped=True).notice == "match 1 of 3 (wrapped)"


@pytest.mark.parametrize("delta", [1, -1])
@given(
    matches=st.sets(st.integers(min_value=0, max_value=50), min_size=1).map(sorted),
    start=st.integers(min_value=0, max_value=50),
)
def test_jumping_round_visits_every_match_once_and_wraps_once(
    delta: int, matches: list[int], start: int
) -> None:
    current, visited, wraps = start, [], 0
    for _ in matches:
        jump = next_match(matches, current, delta)
        assert jump is not None and jump.step == matches[jump.number - 1]
        visited.append(jump.step)
        wraps += jump.wrapped
        current = jump.step
    assert sorted(visited) == matches
    # A round wraps once, unless every match lies ahead of where it started.
    assert wraps == (0 if all((index - start) * delta > 0 for index in matches) else 1)
