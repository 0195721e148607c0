"""OpenAI-format conversations rendered to ChatML exactly as the Nemotron chat template does.

`render_conversation(messages, functions, thinking=...)` equals transformers'
`apply_chat_template(messages, tools=..., add_generation_prompt=True, enable_thinking=...)` with
the Nemotron-3-Nano-30B-A3B template (the one Cascade-2's card examples match byte for byte;
the copy read is llama.cpp's models/templates/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja). That
template has no `/think` or `/no_think` switches: text in any message is rendered as written,
and only `thinking` (`enable_thinking`, the run config's) opens or closes the reasoning block.
The comments below name the template's rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import assert_never

from pydantic import JsonValue

from policy_agent.format._functions import FunctionSpec
from policy_agent.format._profiles import CARD_MINIMUM, ServerProfile
from policy_agent.format._prompt import with_template_tools
from policy_agent.records import (
    ChatAssistantMessage,
    ChatMessage,
    ChatSystemMessage,
    ChatToolMessage,
    ChatUserMessage,
)


def render_conversation(
    messages: Sequence[ChatMessage],
    functions: Sequence[FunctionSpec] | None = None,
    *,
    thinking: bool = True,
    add_generation_prompt: bool = True,
    truncate_history_thinking: bool = True,
    served_by: ServerProfile | None = CARD_MINIMUM,
) -> str:
    """The ChatML prompt the model sees for `messages` (and `functions` passed as `tools=`).

    `thinking` is `enable_thinking`; `truncate_history_thinking` is the template kwarg of the
    same name (reasoning before the last user message is dropped unless it is False).
    `served_by` is the vLLM release line that hands `functions` to the template (it writes a
    missing description as `None` and, from 0.27, drops unknown keys); None renders the tool
    dicts exactly as given, as transformers would.
    """
    body = list(messages)
    system = ""
    if body and isinstance(first := body[0], ChatSystemMessage):
        # The first system message becomes the system turn, its text as written.
        body = body[1:]
        system = first.content
    # The system turn is always emitted, even empty.
    tools = with_template_tools(system, functions or (), served_by=served_by)
    parts = [f"<|im_start|>system\n{tools}<|im_end|>\n"]
    last_user = max((i for i, m in enumerate(body) if isinstance(m, ChatUserMessage)), default=-1)
    for index, message in enumerate(body):
        match message:
            case ChatSystemMessage() | ChatUserMessage():
                parts.append(f"<|im_start|>{message.role}\n{message.content}<|im_end|>\n")
            case ChatAssistantMessage():
                in_history = truncate_history_thinking and index < last_user
                parts.append(_render_assistant(message, in_history=in_history))
            case ChatToolMessage():
                parts.append(_render_tool_result(body, index))
            case _:
                assert_never(message)
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n" + ("<think>\n" if thinking else "<think></think>"))
    return "".join(parts)


def render_tool_call(name: str, arguments: Mapping[str, JsonValue]) -> str:
    """One `<tool_call>` block as the template writes it into an assistant turn.

    Mappings and lists are JSON (non-ASCII kept); everything else is Python `str()`, so a
    boolean is `True`/`False`, null is `None` and 2.5 is `2.5`.
    """
    parameters = "".join(
        f"<parameter={key}>\n"
        f"{json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value}"
        "\n</parameter>\n"
        for key, value in arguments.items()
    )
    return f"<tool_call>\n<function={name}>\n{parameters}</function>\n</tool_call>\n"


def _render_assistant(message: ChatAssistantMessage, *, in_history: bool) -> str:
    reasoning = message.reasoning_content
    if reasoning is not None and reasoning.strip():
        content = f"<think>\n{reasoning}\n</think>\n{message.content or ''}"
    else:
        content = message.content or ""
        # Content that already carries (possibly broken) think tags is left as written.
        if "<think>" not in content and "</think>" not in content:
            content = "<think></think>" + content
    if message.tool_calls:
        if not in_history:
            text = content.strip() + "\n"
        else:
            # Only what follows the last `</think>` is kept; an unclosed `<think>` is dropped.
            if "</think>" in content:
                content = content.split("</think>")[-1]
            elif "<think>" in content:
                content = content.split("<think>")[0]
            text = "<think></think>" + content.strip() + "\n"
        calls = "".join(
            render_tool_call(call.function.name, call.function.arguments)
            for call in message.tool_calls
        )
        return f"<|im_start|>assistant\n{text}{calls}<|im_end|>\n"
    if in_history and "<think>" in content and "</think>" in content:
        content = "<think></think>" + content.split("</think>")[-1]
    return f"<|im_start|>assistant\n{content.strip()}<|im_end|>\n"


def _render_tool_result(body: Sequence[ChatMessage], index: int) -> str:
    # Consecutive results share one user turn. As in the template, a result that opens the
    # conversation (no previous message) gets no `<|im_start|>user` header.
    opens = index > 0 and not isinstance(body[index - 1], ChatToolMessage)
    closes = index == len(body) - 1 or not isinstance(body[index + 1], ChatToolMessage)
    message = body[index]
    return (
        ("<|im_start|>user\n" if opens else "")
        + f"<tool_response>\n{message.content}\n</tool_response>\n"
        + ("<|im_end|>\n" if closes else "")
    )


_WORD_JOINER = "\u2060"
_MARKUP = re.compile(
    r"<(?=\||/?think>|/?tool_call>|/?tool_response>|/?function[=>]|/?parameter[=>])"
)


def neutralise(text: str) -> str:
    """Text from outside the model (user, tool results) made unable to fake prompt structure.

    Used in completions mode, where we render the prompt: a tool result containing
    `</tool_response>` or `<|im_end|>` would otherwise end its turn early and could inject a
    fake assistant turn or tool call. Every `<` that starts such markup (`<|...` special tokens,
    `<think>`, `<tool_call>`, `<tool_response>`, `<function=`, `<parameter=` and their closing
    tags) is followed by U+2060 WORD JOINER: invisible, carries no meaning, and splits the tag
    so the tokenizer can no longer produce the special or structural token. All other text is
    unchanged, the result is deterministic, and neutralising twice changes nothing more.
    """
    return _MARKUP.sub("<" + _WORD_JOINER, text)
