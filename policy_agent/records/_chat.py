"""OpenAI-format chat messages: what `policy_agent.format` renders to ChatML.

They are persisted too: a generation keeps the correction messages of the `feedback` strategy
(`Generation.correction_messages`), because they were part of that turn's prompt. The names
carry `Chat` to keep them apart from the conversation records (`UserMessage` is what a user
said in an episode; `ChatUserMessage` is a `user` turn of a prompt).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import AliasChoices, ConfigDict, Field, JsonValue, field_validator, model_validator

from policy_agent.records._base import Record


class ChatSystemMessage(Record):
    """Instructions; only the first message of a conversation is the system prompt proper."""

    role: Literal["system"] = "system"
    content: str


class ChatUserMessage(Record):
    """A `user` turn: text from the user (or the user simulator), or a format correction."""

    role: Literal["user"] = "user"
    content: str


class FunctionCallPayload(Record):
    """The `function` of an assistant tool call; `arguments` may be given as a JSON string."""

    name: str
    arguments: dict[str, JsonValue]

    @field_validator("arguments", mode="before")
    @classmethod
    def _decode_json_string(cls, value: object) -> object:
        # OpenAI sends arguments as a JSON string; servers decode it before templating.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"arguments is not valid JSON: {error}") from None
        return value


class ChatToolCall(Record):
    """One entry of an assistant message's `tool_calls`."""

    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCallPayload


class ChatAssistantMessage(Record):
    """A model turn: text, reasoning, calls.

    The reasoning is read from `reasoning_content` (what litellm and the chat template call it)
    or `reasoning` (vLLM's own field name); it is written as `reasoning_content`.
    """

    model_config = ConfigDict(populate_by_name=True)

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning_content: str | None = Field(
        default=None, validation_alias=AliasChoices("reasoning_content", "reasoning")
    )
    tool_calls: list[ChatToolCall] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_reasoning(cls, data: object) -> object:
        # Both names at once is ambiguous unless they agree (vLLM's own echo sends both).
        if isinstance(data, dict) and "reasoning" in data and "reasoning_content" in data:
            if data["reasoning"] != data["reasoning_content"]:
                raise ValueError(
                    "give the reasoning once, as reasoning or reasoning_content; "
                    "this message has both and they differ"
                )
            data = {k: v for k, v in data.items() if k != "reasoning"}
        return data


class ChatToolMessage(Record):
    """The result of one tool call."""

    role: Literal["tool"] = "tool"
    content: str
    tool_call_id: str


ChatMessage = Annotated[
    ChatSystemMessage | ChatUserMessage | ChatAssistantMessage | ChatToolMessage,
    Field(discriminator="role"),
]
"""One OpenAI-format conversation message, told apart by `role`."""
