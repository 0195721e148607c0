"""Dual control: the user calls its own tools on the user database; the agent never sees them."""

from __future__ import annotations

from policy_agent.agent import to_chat_messages
from policy_agent.environment import Environment
from policy_agent.records import (
    AgentMessage,
    ChatAssistantMessage,
    ChatUserMessage,
    ConversationRecord,
    UserMessage,
    UserToolCall,
)
from policy_agent.user import default_guidelines, system_prompt
from tests.user._support import TASK, make_pack, request_bodies
from tests.user.conftest import MakeUser, UserModels


async def test_a_user_tool_runs_on_the_user_side_and_only_the_user_sees_its_result(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    pack = make_pack(user_tools=True)
    episode = Environment.from_pack(pack).new_episode()
    before = episode.content_hash()
    model = models(
        [
            {"tool_calls": [{"name": "set_airplane_mode", "arguments": {"on": False}}]},
            "Done, airplane mode is off now.",
        ]
    )
    user = make_llm_user(model, pack=pack)
    history: list[ConversationRecord] = [AgentMessage(content="Please turn airplane mode off.")]

    first = await user.respond(history, seed=3)
    call = first.record
    assert isinstance(call, UserToolCall) and first.stop is None
    result = episode.call(call.name, call.arguments, requestor="user")
    history += [call, result.record(call.call_id, call.name, requestor="user")]
    second = await user.respond(history, seed=4)
    history.append(second.record)

    tools_request, reply_request = request_bodies(model)
    assert tools_request["tools"] == [tool.openai_schema() for tool in pack.user_tools]
    assert tools_request["messages"][0]["content"] == system_prompt(
        default_guidelines(tools=True), TASK.user_scenario
    )
    assert reply_request["tools"] == tools_request["tools"]
    assert reply_request["messages"][1:] == [
        {"role": "user", "content": "Please turn airplane mode off."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "user_call_1",
                    "type": "function",
                    "function": {"name": "set_airplane_mode", "arguments": '{"on": false}'},
                }
            ],
        },
        {"role": "tool", "content": result.content, "tool_call_id": "user_call_1"},
    ]
    assert '"airplane_mode": false' in result.content

    after = episode.content_hash()
    assert after.agent == before.agent and after.user != before.user
    assert episode.user_database.get("phone", "main")["airplane_mode"] is False

    assert isinstance(second.record, UserMessage)
    assert to_chat_messages(history) == [
        ChatAssistantMessage(content="Please turn airplane mode off."),
        ChatUserMessage(content="Done, airplane mode is off now."),
    ]
