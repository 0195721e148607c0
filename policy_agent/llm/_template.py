"""What model a server loaded, and whether its chat template reads `enable_thinking`.

Both questions are asked once, before a run, and never fail it: an unanswered question is said
as such (`problem`).

- `served_model` reads `GET <api_base>/models`. vLLM lists each served name as `id` and the
  model it loaded (a Hugging Face name or a local path) as `root` (0.17.1
  `vllm/entrypoints/openai/engine/protocol.py` and 0.33.0 `vllm/entrypoints/serve/engine/
  protocol.py`, `ModelCard`), so `--served-model-name agent` still says which model it is.
- `thinking_switch` renders one tiny conversation twice with vLLM's `POST /tokenize` (at the
  server root, like `/version`, outside the `/v1` paths the API key guards), with
  `chat_template_kwargs: {enable_thinking: true}` and then `false`: identical token ids mean
  the template ignores the switch. 0.17.1 and 0.33.0 both serve it
  (`vllm/entrypoints/serve/tokenize/api_router.py`) and take `messages`,
  `add_generation_prompt` and `chat_template_kwargs` in `TokenizeChatRequest`
  (`vllm/entrypoints/serve/tokenize/protocol.py`), answering `{"count", "max_model_len",
  "tokens"}`. A server without it (hosted APIs: 404) or with another `/tokenize` (llama.cpp
  tokenizes `content` and, given none, answers no tokens) is not checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import JsonValue

from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import LLMError
from policy_agent.llm._preflight import PREFLIGHT_TIMEOUT_S, _Answer, _key, served_name

_PROBE: list[JsonValue] = [{"role": "user", "content": "Hello"}]
"""The conversation rendered both ways: any template ends it with its generation prompt."""


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """The names a server gives the model behind `api_base`."""

    url: str
    """The URL asked (`GET <api_base>/models`)."""
    names: tuple[str, ...]
    """The served name and, from vLLM, the model it loaded (`root`); empty with a problem."""
    problem: str | None = None
    """Why there are no names (unreachable, HTTP 404, not a model list)."""


@dataclass(frozen=True, kw_only=True)
class ThinkingSwitch:
    """What rendering a conversation with `enable_thinking` true and false showed."""

    url: str
    """The URL asked (`POST <server root>/tokenize`)."""
    honoured: bool | None
    """True: the two renderings differ; False: identical (the template ignores the switch);
    None: not checked (`problem` says why)."""
    tokens: int = 0
    """How many tokens the rendering with `enable_thinking: true` had."""
    problem: str | None = None


async def served_model(config: ModelConfig, api_base: str) -> ServedModel:
    """The names `api_base` gives `config.model`: its list entry's `id` and `root` (every
    entry's, when none is listed under the name asked, as llama.cpp lists its one model).
    Never raises."""
    url = f"{api_base.rstrip('/')}/models"
    answer, problem = await _ask("GET", url, _headers(config), None)
    if answer is None:
        return ServedModel(url=url, names=(), problem=problem)
    if answer.status != 200:
        return ServedModel(url=url, names=(), problem=f"HTTP {answer.status}: {answer.said()}")
    try:
        body = json.loads(answer.text)
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    if not entries:
        return ServedModel(url=url, names=(), problem=f"not a model list: {answer.said()}")
    wanted = served_name(config.model)
    named = [e for e in entries if e.get("id") == wanted] or entries
    names = [str(e[key]) for e in named for key in ("id", "root") if isinstance(e.get(key), str)]
    return ServedModel(url=url, names=tuple(dict.fromkeys(names)))


async def thinking_switch(config: ModelConfig, api_base: str) -> ThinkingSwitch:
    """Whether the chat template behind `api_base` reads `enable_thinking`. Never raises."""
    base = api_base.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    url = f"{root}/tokenize"
    rendered: list[list[int]] = []
    for thinking in (True, False):
        body: dict[str, JsonValue] = {
            "model": served_name(config.model),
            "messages": _PROBE,
            "add_generation_prompt": True,
            "chat_template_kwargs": {**config.chat_template_kwargs, "enable_thinking": thinking},
        }
        answer, problem = await _ask("POST", url, _headers(config), body)
        if answer is None:
            return ThinkingSwitch(url=url, honoured=None, problem=problem)
        if answer.status != 200:
            said = f"HTTP {answer.status}: {answer.said()}"
            return ThinkingSwitch(url=url, honoured=None, problem=said)
        tokens = _tokens(answer.text)
        if not tokens:
            # llama.cpp's /tokenize reads `content`, so it answers our messages with no tokens.
            problem = f"no rendering of the messages in the answer: {answer.said()}"
            return ThinkingSwitch(url=url, honoured=None, problem=problem)
        rendered.append(tokens)
    return ThinkingSwitch(url=url, honoured=rendered[0] != rendered[1], tokens=len(rendered[0]))


def _headers(config: ModelConfig) -> dict[str, str]:
    try:
        key = _key(config, "agent", chat=True)
    except LLMError:
        key = None  # the preflight says so; without a key the server may still answer
    return {"Authorization": f"Bearer {key}"} if key is not None else {}


def _tokens(text: str) -> list[int]:
    try:
        body = json.loads(text)
    except ValueError:
        return []
    tokens = body.get("tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        return []
    return tokens


async def _ask(
    method: str, url: str, headers: dict[str, str], body: dict[str, JsonValue] | None
) -> tuple[_Answer | None, str]:
    """The server's answer, or None and why there is none."""
    import aiohttp  # imported here: the package is imported by readers that never call out

    limit = aiohttp.ClientTimeout(total=PREFLIGHT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.request(method, url, headers=headers, json=body) as response,
        ):
            return _Answer(response.status, await response.text()), ""
    except TimeoutError:
        return None, f"no answer within {PREFLIGHT_TIMEOUT_S:g} s"
    except (aiohttp.ClientError, OSError) as error:
        return None, str(error) or type(error).__name__
