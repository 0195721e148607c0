"""How to ask vLLM for a grammar: the request field, and the server flags it needs.

Every supported release, 0.17.1 through 0.33.0, reads a grammar from one field, for chat and
completions requests alike: `structured_outputs: {"grammar": "..."}` (`StructuredOutputsParams`
in vllm/sampling_params.py; the `structured_outputs` field of `ChatCompletionRequest` and
`CompletionRequest` in vllm/entrypoints/openai/chat_completion/protocol.py and
completion/protocol.py). The old `guided_grammar` field is gone from all of them: 0.17.1 to
0.22.1 ignore it silently, 0.33.0 logs a warning and ignores it
(vllm/entrypoints/serve/engine/protocol.py, `_REMOVED_GUIDED_FIELDS`), so it is never sent.

No release lets a request choose the backend (`_backend` is not an init field of
`StructuredOutputsParams`; `SamplingParams._validate_structured_outputs` rejects a mismatch):
the server's `--structured-outputs-config.backend` decides, so the syntax must suit it.
"""

from __future__ import annotations

import re
from typing import Literal, assert_never

from pydantic import JsonValue

from policy_agent.format._grammar_syntax import GrammarSyntax

SUPPORTED_VLLM = ("0.17.1", "0.33.0")
"""The oldest and newest vLLM release whose request fields and reasoning gate were checked."""

Endpoint = Literal["chat", "completions"]


def grammar_request_fields(
    grammar: str, syntax: GrammarSyntax, release: str, endpoint: Endpoint = "chat"
) -> dict[str, JsonValue]:
    """The extra request fields (litellm `extra_body`) that make vLLM `release` decode with
    `grammar`, for a `/v1/chat/completions` or `/v1/completions` request.

    `syntax` does not change the fields (no release reads a per-request backend); it is checked
    so a caller cannot send an empty grammar. Raises `ValueError` for a release outside
    `SUPPORTED_VLLM` or an empty grammar.
    """
    _check_release(release)
    if not grammar.strip():
        raise ValueError(f"an empty {syntax.value} grammar: vLLM rejects it")
    match endpoint:
        case "chat" | "completions":
            return {"structured_outputs": {"grammar": grammar}}
        case _:
            assert_never(endpoint)


def serve_backend(syntax: GrammarSyntax) -> str:
    """The `vllm serve --structured-outputs-config.backend` value a grammar in `syntax` needs.

    Lark grammars use llguidance's extensions (`%json`, lexeme definitions), which vLLM's
    xgrammar backend does not read: `guidance`. EBNF is xgrammar's own syntax: `xgrammar`
    (`auto`, the default, picks xgrammar for a grammar xgrammar parses).
    """
    match syntax:
        case GrammarSyntax.LARK:
            return "guidance"
        case GrammarSyntax.EBNF:
            return "xgrammar"
        case _:
            assert_never(syntax)


def _check_release(release: str) -> None:
    # A bare release line ("0.21") stands for its releases; a full version is compared whole.
    version = _version(release)
    low, high = (_version(v) for v in SUPPORTED_VLLM)
    assert low is not None and high is not None
    if version is not None and re.fullmatch(r"\d+\.\d+", release.strip()):
        version, low, high = version[:2], low[:2], high[:2]
    if version is None or not low <= version <= high:
        raise ValueError(
            f"vLLM release {release!r}: the grammar request was checked for vLLM "
            f"{SUPPORTED_VLLM[0]} through {SUPPORTED_VLLM[1]}; give a release in that range"
        )


def _version(release: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", release.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)
