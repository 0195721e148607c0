"""The scripted user, the configuration and `make_user`'s checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.records import AgentMessage, ConversationRecord, UserMessage
from policy_agent.user import (
    LLMUser,
    ScriptedUser,
    UserConfig,
    UserGaveUp,
    UserSetupError,
    make_user,
)
from tests.user._support import SCRIPTED_TASK, TASK, make_pack

SCRIPTED = UserConfig(kind="scripted")
MODEL = ModelConfig(model="hosted_vllm/user", api_base="http://127.0.0.1:9/v1")


async def test_the_script_is_said_line_by_line_whatever_the_agent_says() -> None:
    user = make_user(SCRIPTED, SCRIPTED_TASK, make_pack(user_tools=False))
    history: list[ConversationRecord] = [AgentMessage(content="Hi! How can I help you today?")]
    first = await user.respond(history, seed=1)
    assert first.record == UserMessage(
        content="I need three cribs for B11246.", timestamp=first.record.timestamp
    )
    assert first.stop is None and first.events == () and first.totals.calls == 0
    history += [first.record, AgentMessage(content="Something unrelated entirely.")]
    second = await user.respond(history, seed=None)
    assert isinstance(second.record, UserMessage)
    assert second.record.content == "Thanks, that's all. ###STOP###"
    assert second.stop == "stop"
    # Stateless: the same history gives the same line again.
    again = await user.respond(history, seed=99)
    assert again.record.content == second.record.content  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "signal"),
    [("###TRANSFER###", "transfer"), ("No idea. ###OUT-OF-SCOPE###", "out_of_scope")],
)
async def test_scripted_lines_end_the_call_with_any_token(line: str, signal: str) -> None:
    user = ScriptedUser(task=SCRIPTED_TASK, lines=[line])
    step = await user.respond([], seed=None)
    assert step.stop == signal


async def test_an_exhausted_script_gives_up_with_a_clear_message() -> None:
    user = ScriptedUser(task=SCRIPTED_TASK, lines=["Only line."])
    history: list[ConversationRecord] = [
        UserMessage(content="Only line."),
        AgentMessage(content="Anything else?"),
    ]
    with pytest.raises(UserGaveUp) as raised:
        await user.respond(history, seed=None)
    assert str(raised.value) == (
        "the script of task scripted_1 has 1 line; the agent asked for more "
        "(end the last line with ###STOP###, or add lines)"
    )
    assert raised.value.events == [] and raised.value.totals.calls == 0


def test_a_scripted_user_needs_a_script() -> None:
    with pytest.raises(UserSetupError, match="task cribs_1 of domain telecom has no user_scenario"):
        make_user(SCRIPTED, TASK, make_pack(user_tools=False))


def test_the_config_checks_model_against_kind() -> None:
    with pytest.raises(ValidationError, match="an `llm` user needs `model`"):
        UserConfig()
    with pytest.raises(ValidationError, match="a `scripted` user calls no model"):
        UserConfig(kind="scripted", model=MODEL)
    with pytest.raises(ValidationError, match="a `scripted` user reads no guidelines"):
        UserConfig(kind="scripted", guidelines="Be nice.")
    with pytest.raises(ValidationError, match="max_retries"):
        UserConfig(model=MODEL, max_retries=-1)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        UserConfig.model_validate({"model": MODEL, "temperature": 0})
    config = UserConfig.model_validate({"model": {"model": "openai/gpt-4.1", "temperature": 0}})
    assert config.model is not None and config.model.temperature == 0
    assert config.max_retries == 3 and config.kind == "llm"


async def test_make_user_shares_the_runs_client_and_refuses_another_models() -> None:
    config = UserConfig(model=MODEL)
    client = LLMClient(MODEL, role="user")
    user = make_user(config, TASK, make_pack(user_tools=False), client=client)
    assert isinstance(user, LLMUser) and user.client is client
    other = LLMClient(MODEL.model_copy(update={"temperature": 0.0}), role="user")
    with pytest.raises(UserSetupError, match="other settings than the user config's `model`"):
        make_user(config, TASK, make_pack(user_tools=False), client=other)
    made = make_user(config, TASK, make_pack(user_tools=False))
    assert isinstance(made, LLMUser) and made.client.role == "user"
