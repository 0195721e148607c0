"""Turns a request into the script's next answer, shaped exactly as vLLM's OpenAI server shapes it.

No I/O here: the server hands in the parsed request body and gets back status, body and timing.
Token counts in `usage` are approximate (one token per 4 characters, rounded up): there is no
tokenizer, and tests only need counts that grow with the text. A request that asks for token ids
(`return_token_ids`) gets the stand-in tokenizer's (`_tokenizer`: one token per UTF-8 byte), and
then `usage` counts those tokens (so does a script with `prompt_tokens_details`).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, assert_never

from pydantic import JsonValue

from policy_agent.scripted import _tokenizer
from policy_agent.scripted._script import (
    Answer,
    Rule,
    RulesRole,
    Script,
    SeedRole,
    SequenceRole,
)

Endpoint = Literal["chat", "completions"]


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What to send back for one request."""

    status: int
    body: str
    content_type: str = "application/json"
    delay_s: float = 0.0
    """Wait this long before answering."""
    hang: bool = False
    """Never answer: wait until the client disconnects or the server stops."""
    trickle_s: float | None = None
    """Send the headers at once, then the body one byte every this many seconds."""


def approximate_tokens(text: str) -> int:
    """One token per 4 characters, rounded up: the documented stand-in for a tokenizer."""
    return math.ceil(len(text) / 4)


def error_body(status: int, message: str, kind: str, param: str | None = None) -> str:
    """An error object as vLLM's OpenAI server sends it."""
    error = {"message": message, "type": kind, "param": param, "code": status}
    return json.dumps({"error": error})


@dataclass(frozen=True, kw_only=True)
class _Asked:
    """What a picker may go by: the last message (chat) or prompt (completions), and the seed."""

    text: str
    seed: int | None


class _Picker(Protocol):
    """Chooses a role's next answer (and its index); an error message when the script has none."""

    def pick(self, asked: _Asked) -> tuple[Answer, int] | str: ...


class _Sequence:
    def __init__(self, role: str, spec: SequenceRole) -> None:
        self._role = role
        self._spec = spec
        self._next = 0

    def pick(self, asked: _Asked) -> tuple[Answer, int] | str:
        answers = self._spec.answers
        index = self._next
        if index >= len(answers):
            match self._spec.when_exhausted:
                case "error":
                    return (
                        f"the script's {len(answers)} answer(s) for role {self._role!r} are used "
                        f"up (request #{index + 1}); add answers or set when_exhausted: repeat_last"
                    )
                case "repeat_last":
                    index = len(answers) - 1
                case "cycle":
                    index %= len(answers)
                case _:
                    assert_never(self._spec.when_exhausted)
        self._next += 1
        return answers[index], index


def _matcher(rule: Rule) -> Callable[[str], bool]:
    if rule.contains is not None:
        needle = rule.contains
        return lambda text: needle in text
    pattern = re.compile(rule.regex or "")
    return lambda text: pattern.search(text) is not None


class _Rules:
    def __init__(self, role: str, spec: RulesRole) -> None:
        self._role = role
        self._rules = [(_matcher(rule), rule.answer) for rule in spec.rules]
        self._fallback = spec.fallback

    def pick(self, asked: _Asked) -> tuple[Answer, int] | str:
        text = asked.text
        for index, (matches, answer) in enumerate(self._rules):
            if matches(text):
                return answer, index
        if self._fallback is None:
            return (
                f"no rule of role {self._role!r} matches {text[-200:]!r} and there is no fallback"
            )
        return self._fallback, len(self._rules)


class _BySeed:
    def __init__(self, role: str, spec: SeedRole) -> None:
        self._role = role
        self._answers = spec.answers
        self._next: dict[int, int] = {}

    def pick(self, asked: _Asked) -> tuple[Answer, int] | str:
        seed, role = asked.seed, self._role
        if seed is None:
            return (
                f"role {role!r} answers by seed, but the request has no integer `seed`; "
                "send one (the runner sends each episode's)"
            )
        answers = self._answers.get(seed)
        if answers is None:
            return (
                f"the script has no answers for seed {seed} of role {role!r}. In a replay, the "
                "run asked for something the recording did not: the conversation took another "
                "path (a rejected answer is asked again with the next seed), or the run's seed, "
                "tasks or trials differ from the recorded run's"
            )
        index = self._next.get(seed, 0)
        if index >= len(answers):
            return (
                f"the {len(answers)} answer(s) for seed {seed} of role {role!r} are used up "
                f"(request #{index + 1} with this seed). In a replay, the conversation went on "
                "longer than the recorded one, or this server has served the run already "
                "(restart it before each re-run)"
            )
        self._next[seed] = index + 1
        return answers[index], index


def _picker(role: str, spec: SequenceRole | RulesRole | SeedRole) -> _Picker:
    match spec:
        case SequenceRole():
            return _Sequence(role, spec)
        case RulesRole():
            return _Rules(role, spec)
        case SeedRole():
            return _BySeed(role, spec)
        case _:
            assert_never(spec)


class Responder:
    """Holds each role's position in the script and builds the replies."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._ids = itertools.count(1)
        self._pickers: dict[str, _Picker] = {}
        self._cache = _tokenizer.PrefixCache()
        self.reset()

    def reset(self) -> None:
        """Start every role's answers from the beginning again (and empty the prefix cache)."""
        self._pickers = {role: _picker(role, spec) for role, spec in self._script.roles.items()}
        self._cache = _tokenizer.PrefixCache()

    def reply(self, endpoint: Endpoint, body: dict[str, JsonValue]) -> Reply:
        """The reply to one parsed request body sent to `endpoint`."""
        role = body.get("model")
        if self._script.single_model is not None:
            # llama.cpp's server answers whatever model a request names, with its own.
            [role] = self._pickers
        picker = self._pickers.get(role) if isinstance(role, str) else None
        if picker is None:
            roles = ", ".join(self._script.roles)
            message = f"The model `{role}` does not exist; the script has roles: {roles}."
            return Reply(status=404, body=error_body(404, message, "NotFoundError", "model"))
        assert isinstance(role, str)
        if endpoint == "chat":
            text = _last_message_text(body.get("messages"))
        else:
            prompt = body.get("prompt")
            text = prompt if isinstance(prompt, str) else ""
        seed = body.get("seed")
        # bool is an int subclass, and `seed: true` is no seed.
        usable_seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        picked = picker.pick(_Asked(text=text, seed=usable_seed))
        if isinstance(picked, str):
            return Reply(status=500, body=error_body(500, picked, "InternalServerError"))
        answer, index = picked
        delay_s = answer.latency_ms if answer.latency_ms is not None else self._script.latency_ms
        delay_s /= 1000
        if answer.hang:
            return Reply(status=503, body="", delay_s=delay_s, hang=True)
        trickle_s = None if answer.trickle_ms is None else answer.trickle_ms / 1000
        if answer.fault is not None:
            return _fault_reply(answer, delay_s, trickle_s)
        if endpoint == "chat":
            result = self._chat_body(role, answer, index, body)
        else:
            result = self._completion_body(role, answer, index, body)
        if isinstance(result, str):
            return Reply(status=500, body=error_body(500, result, "InternalServerError"))
        return Reply(status=200, body=json.dumps(result), delay_s=delay_s, trickle_s=trickle_s)

    def _chat_body(
        self, role: str, answer: Answer, index: int, request: dict[str, JsonValue]
    ) -> dict[str, JsonValue] | str:
        if answer.text is not None and answer.content is None and not answer.tool_calls:
            return (
                f"answer #{index + 1} of role {role!r} has only `text`, which is for "
                "/v1/completions, but the request came to /v1/chat/completions; give `content`"
            )
        number = next(self._ids)
        message: dict[str, JsonValue] = {"role": "assistant", "content": answer.content}
        message[self._script.reasoning_field] = answer.reasoning
        calls: list[JsonValue] = []
        for position, call in enumerate(answer.tool_calls):
            arguments = call.arguments
            calls.append(
                {
                    "id": call.id or f"call_{number}_{position}",
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments, ensure_ascii=False),
                    },
                }
            )
        message["tool_calls"] = calls
        default_reason = "tool_calls" if calls else "stop"
        generated = (answer.reasoning or "") + (answer.content or "") + json.dumps(calls)
        prompt_text = json.dumps(request.get("messages")) + json.dumps(request.get("tools"))
        choice: dict[str, JsonValue] = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": answer.finish_reason or default_reason,
        }
        name = self._name(role)
        envelope = _envelope(
            f"chatcmpl-{number}", "chat.completion", name, choice, prompt_text, generated
        )
        sampled = "" if answer.reasoning is None else answer.reasoning + "</think>"
        sampled += (answer.content or "") + (json.dumps(calls) if calls else "")
        return self._with_tokens(envelope, choice, request, prompt_text, sampled, chat=True)

    def _completion_body(
        self, role: str, answer: Answer, index: int, request: dict[str, JsonValue]
    ) -> dict[str, JsonValue] | str:
        if answer.text is None:
            return (
                f"answer #{index + 1} of role {role!r} has no `text`, which /v1/completions "
                "needs (the raw completion, e.g. `reasoning</think>\\nanswer`)"
            )
        text = _cut_at_stop(answer.text, request.get("stop"))
        prompt = request.get("prompt")
        choice: dict[str, JsonValue] = {
            "index": 0,
            "text": text,
            "logprobs": None,
            "finish_reason": answer.finish_reason or "stop",
        }
        prompt_text = prompt if isinstance(prompt, str) else json.dumps(prompt)
        number = next(self._ids)
        name = self._name(role)
        envelope = _envelope(f"cmpl-{number}", "text_completion", name, choice, prompt_text, text)
        return self._with_tokens(envelope, choice, request, prompt_text, text, chat=False)

    def _name(self, role: str) -> str:
        """The `model` an answer gives: the role asked for, or the single model's name."""
        return self._script.single_model or role

    def _with_tokens(
        self,
        envelope: dict[str, JsonValue],
        choice: dict[str, JsonValue],
        request: dict[str, JsonValue],
        prompt_text: str,
        generated: str,
        *,
        chat: bool,
    ) -> dict[str, JsonValue]:
        """The envelope with what vLLM adds when asked: token ids, logprobs, cached tokens."""
        script = self._script
        prompt_ids = _tokenizer.token_ids(prompt_text)
        sampled = _tokenizer.token_ids(generated)
        usage = envelope["usage"]
        assert isinstance(usage, dict)
        asked_ids = script.return_token_ids and request.get("return_token_ids") is True
        if script.prompt_tokens_details or asked_ids:
            # Counted in the stand-in's tokens, so cached_tokens and the ids agree with usage.
            usage["prompt_tokens"] = len(prompt_ids)
            usage["completion_tokens"] = len(sampled)
            usage["total_tokens"] = len(prompt_ids) + len(sampled)
        if script.prompt_tokens_details:
            usage["prompt_tokens_details"] = {"cached_tokens": self._cache.cached(prompt_ids)}
        if not script.return_token_ids:
            return envelope
        if asked_ids:
            choice["token_ids"] = list[JsonValue](sampled)
            # Chat puts the prompt's ids on the response, completions on the choice.
            (envelope if chat else choice)["prompt_token_ids"] = list[JsonValue](prompt_ids)
        asked = request.get("logprobs")
        if chat and asked is True:
            choice["logprobs"] = _tokenizer.chat_logprobs(sampled)
        elif not chat and isinstance(asked, int) and not isinstance(asked, bool):
            choice["logprobs"] = _tokenizer.completion_logprobs(sampled)
        return envelope


def _envelope(
    response_id: str,
    kind: str,
    model: str,
    choice: dict[str, JsonValue],
    prompt_text: str,
    generated: str,
) -> dict[str, JsonValue]:
    prompt_tokens = approximate_tokens(prompt_text)
    completion_tokens = approximate_tokens(generated)
    return {
        "id": response_id,
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _fault_reply(answer: Answer, delay_s: float, trickle_s: float | None) -> Reply:
    assert answer.fault is not None
    fault = answer.fault
    status, body = fault.status, fault.body
    if body is None:
        kind = "RateLimitError" if status == 429 else "InternalServerError"
        text = error_body(status, f"scripted fault: HTTP {status}", kind)
    else:
        text = body if isinstance(body, str) else json.dumps(body)
    return Reply(
        status=status,
        body=text,
        content_type=fault.content_type,
        delay_s=delay_s,
        trickle_s=trickle_s,
    )


def _cut_at_stop(text: str, stop: JsonValue) -> str:
    """vLLM ends the output at the first stop string and leaves the stop string out."""
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cut = len(text)
    for candidate in stops:
        if isinstance(candidate, str) and candidate:
            found = text.find(candidate)
            if found != -1:
                cut = min(cut, found)
    return text[:cut]


def _last_message_text(messages: JsonValue) -> str:
    if not isinstance(messages, list) or not messages:
        return ""
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text") for p in content if isinstance(p, dict))
        return "".join(p for p in parts if isinstance(p, str))
    return ""
