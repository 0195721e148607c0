"""The scripted server's `POST /tokenize`: vLLM's chat rendering, with the card's template.

vLLM renders a `TokenizeChatRequest` (`messages`, `add_generation_prompt`, default true,
`chat_template_kwargs`, `tools`) with the model's chat template and answers `{"count",
"max_model_len", "tokens"}` (0.17.1 and 0.33.0 `vllm/entrypoints/serve/tokenize/protocol.py`).
Here the template is the script's `chat_template`: the card's (`format.render_conversation`) or
the card's deaf to `enable_thinking`; the token ids are the stand-in tokenizer's, one per UTF-8
byte. There is no model, so no `max_model_len` is claimed. No I/O: a request body in, a status
and a body out.
"""

from __future__ import annotations

import json

from pydantic import JsonValue, TypeAdapter, ValidationError

from policy_agent.format import FunctionSpecError, functions_from_openai, render_conversation
from policy_agent.records import ChatMessage
from policy_agent.scripted import _tokenizer
from policy_agent.scripted._responder import error_body
from policy_agent.scripted._script import Script

_MESSAGES = TypeAdapter(list[ChatMessage])


def tokenize_reply(script: Script, body: JsonValue) -> tuple[int, str]:
    """The status and JSON body vLLM's `/tokenize` would send for a chat request `body`."""
    if not isinstance(body, dict) or "messages" not in body:
        message = "the scripted server's /tokenize renders chat requests: send `messages`"
        return 400, error_body(400, message, "BadRequestError", "messages")
    try:
        messages = _MESSAGES.validate_python(body["messages"])
        tools = body.get("tools")
        functions = functions_from_openai(tools) if tools else ()
    except (ValidationError, FunctionSpecError) as error:
        return 400, error_body(400, str(error), "BadRequestError")
    kwargs = body.get("chat_template_kwargs")
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    thinking = kwargs.get("enable_thinking", True)
    if script.chat_template == "ignores_thinking":
        thinking = True  # the template's own default: it never reads the switch
    prompt = render_conversation(
        messages,
        functions,
        thinking=bool(thinking),
        add_generation_prompt=bool(body.get("add_generation_prompt", True)),
        truncate_history_thinking=bool(kwargs.get("truncate_history_thinking", True)),
    )
    ids = _tokenizer.token_ids(prompt)
    return 200, json.dumps({"count": len(ids), "tokens": ids})
