"""Steps (each record with the events that delayed it), episode ids, outcomes, search text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.records import (
    AgentToolCall,
    ErrorEvent,
    RetryEvent,
    TerminationReason,
    UserMessage,
    UserRetryEvent,
    ViolationEvent,
)
from policy_agent.trajectory import episode_id, parse_episode_id
from policy_agent.tui import (
    is_success,
    search_text,
    steps_of,
    violation_codes,
)
from tests.tui._runs import failed, out_of_steps, successful, user_died


def test_every_record_is_one_step_in_order() -> None:
    episode = successful()
    steps = steps_of(episode)
    assert [step.record for step in steps] == episode.messages
    assert [step.index for step in steps] == list(range(len(episode.messages)))
    assert all(step.events == () for step in steps)


def test_a_violation_and_a_retry_belong_to_the_call_they_delayed() -> None:
    steps = steps_of(failed())
    [delayed] = [step for step in steps if step.events]
    assert isinstance(delayed.record, AgentToolCall)
    assert delayed.record.name == "get_booking_details"
    assert delayed.record.generation is not None and delayed.record.generation.attempt == 2
    assert [type(event) for event in delayed.events] == [ViolationEvent, RetryEvent]


def test_events_after_the_last_record_make_a_last_step_without_record() -> None:
    steps = steps_of(user_died())
    assert isinstance(steps[0].record, UserMessage)
    assert [type(event) for event in steps[0].events] == [UserRetryEvent]
    assert steps[-1].record is None
    assert [type(event) for event in steps[-1].events] == [ErrorEvent]
    assert len(steps) == len(user_died().messages) + 1


def test_ids_and_line_numbers_are_both_accepted() -> None:
    assert episode_id(failed()) == "card_triplet_cribs#1"
    assert parse_episode_id("card_triplet_cribs#1") == ("card_triplet_cribs", 1)
    assert parse_episode_id(" 12 ") == 12
    assert parse_episode_id("a#b#3") == ("a#b", 3)


@pytest.mark.parametrize("text", ["", "0", "card_triplet_cribs", "task#", "#3", "task#-1", "1.5"])
def test_other_ids_are_refused_with_the_forms_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"TASK_ID#TRIAL .* line number"):
        parse_episode_id(text)


@given(
    task=st.text(min_size=1, max_size=30).filter(lambda t: t.strip() == t),
    trial=st.integers(min_value=0, max_value=10**6),
)
def test_an_episode_id_reads_back_as_its_task_and_trial(task: str, trial: int) -> None:
    assert parse_episode_id(f"{task}#{trial}") == (task, trial)


def test_outcomes() -> None:
    assert is_success(successful()) is True
    assert is_success(failed()) is False
    # Not evaluated: an abnormal end failed anyway, a normal one is undecided.
    assert out_of_steps().termination_reason is TerminationReason.MAX_STEPS
    assert is_success(out_of_steps()) is False
    unscored = successful().model_copy(update={"reward": None})
    assert is_success(unscored) is None


def test_search_text_holds_what_a_reader_looks_for() -> None:
    text = search_text(failed())
    assert "i asked for three" in text  # a user message, lower-cased
    assert "two cribs should do." in text  # reasoning
    assert '"count": 2' in text  # arguments
    assert "multiple_tool_calls" in text and "<function=search_available_rooms>" in text
    assert "503 service unavailable" in text
    assert violation_codes(failed()) == ("multiple_tool_calls",)
    assert violation_codes(successful()) == ()


def test_the_tasks_history_is_marked_given() -> None:
    episode = successful()
    marked = episode.model_copy(update={"initial_messages": 2})
    assert [step.given for step in steps_of(marked)][:3] == [True, True, False]
    assert not any(step.given for step in steps_of(episode))
