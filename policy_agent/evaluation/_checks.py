"""The components that need no model: ACTION, COMMUNICATE, ENV_ASSERTION and the DB diff.

Each follows tau2-bench's evaluator (`tau2/evaluator/*.py`, `Action.compare_with_tool_call`) so
that the same trajectory scores the same here and there.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from policy_agent.domain import Action, EnvAssertion
from policy_agent.environment import (
    ABSENT,
    Absent,
    AssertionCheckError,
    Database,
    EpisodeEnvironment,
)
from policy_agent.evaluation._calls import LoggedCall
from policy_agent.records import ActionCheck, CommunicateCheck, EnvAssertionCheck, FieldDifference


def action_matches(action: Action, call: LoggedCall) -> bool:
    """tau2's `compare_with_tool_call`: same name, and equal values of the compared arguments.

    `compare_args: null` compares the arguments the *call* made (tau2 takes the tool call's
    keys), so an expected argument the call left out, to take its default, is not compared;
    `[]` compares the name only. Values compare as Python values, as in tau2 (`1 == 1.0`).
    """
    if action.name != call.name:
        return False
    keys = set(call.arguments) if action.compare_args is None else set(action.compare_args)
    if not keys:
        return True
    made = {k: v for k, v in call.arguments.items() if k in keys}
    expected = {k: v for k, v in action.arguments.items() if k in keys}
    return made == expected


def check_actions(actions: Sequence[Action], calls: Sequence[LoggedCall]) -> list[ActionCheck]:
    """Whether each expected action is among the calls, agent's or user's, in any order."""
    checks = []
    for action in actions:
        found = any(action_matches(action, call) for call in calls)
        checks.append(
            ActionCheck(
                action=action.recorded(), action_match=found, action_reward=1.0 if found else 0.0
            )
        )
    return checks


def check_communicated(infos: Sequence[str], agent_texts: Sequence[str]) -> list[CommunicateCheck]:
    """Whether each string is in some agent message: case-insensitive, the message's commas removed.

    As in tau2, commas are removed from the message only, so `$1,200` is found as `1200`.
    """
    checks = []
    for info in infos:
        wanted = info.lower()
        said = next((text for text in agent_texts if wanted in text.lower().replace(",", "")), None)
        justification = (
            f"Information {info!r} not communicated."
            if said is None
            else f"Information {info!r} communicated in the message: {said!r}"
        )
        checks.append(
            CommunicateCheck(info=info, met=said is not None, justification=justification)
        )
    return checks


def check_assertions(
    assertions: Sequence[EnvAssertion], environment: EpisodeEnvironment
) -> list[EnvAssertionCheck]:
    """Each assertion on the final state; one that cannot be decided is not met, with its error.

    tau2 lets such an assertion's exception abort the whole batch; here it fails this episode's
    component and says why, so a typo in one task cannot stop a run.
    """
    checks = []
    for assertion in assertions:
        error = None
        try:
            met = environment.evaluate_assertion(assertion)
        except AssertionCheckError as raised:
            met, error = False, str(raised)
        checks.append(
            EnvAssertionCheck(
                env_assertion=assertion.recorded(), met=met, reward=1.0 if met else 0.0, error=error
            )
        )
    return checks


def database_differences(
    expected: EpisodeEnvironment, actual: EpisodeEnvironment
) -> list[FieldDifference]:
    """The fields whose final values differ, agent database first, then the user's."""
    return [
        *_differences("assistant", expected.database, actual.database),
        *_differences("user", expected.user_database, actual.user_database),
    ]


def _differences(name: str, expected: Database, actual: Database) -> list[FieldDifference]:
    found = []
    for change in actual.diff(expected):
        if change.before is None or change.after is None:
            found.append(
                FieldDifference(
                    database=name,
                    table=change.table,
                    record_id=change.record_id,
                    field=None,
                    expected=change.before,
                    actual=change.after,
                )
            )
            continue
        found.extend(
            FieldDifference(
                database=name,
                table=change.table,
                record_id=change.record_id,
                field=difference.path,
                expected=_value(difference.before),
                actual=_value(difference.after),
            )
            for difference in change.field_diff()
        )
    return found


def _value(value: JsonValue | Absent) -> JsonValue:
    """A missing field is shown as null (the record's other fields still tell it apart)."""
    return None if value is ABSENT else value
