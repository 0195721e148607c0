"""The scripted server's stand-in tokenizer: one token per UTF-8 byte, logprobs from the id.

There is no model, so the token ids and logprobs the server returns (when a request asks with
vLLM's `return_token_ids` and `logprobs`) come from a rule anyone can recompute:

- a text's token ids are its UTF-8 bytes, so `bytes(ids).decode()` gives the text back;
- the logprob of token id `t` is `-((t % 32) + 1) / 64` (between -0.5 and -1/64);
- a chat prompt's ids are the bytes of its `messages` and `tools` as JSON (the server renders
  no template); a chat completion's are the bytes of its reasoning, `</think>`, the content and
  the tool calls as JSON — a stand-in for the template's markup, not the markup itself;
- with `prompt_tokens_details: true`, `cached_tokens` counts the prompt's leading 16-token
  blocks that an earlier request already had, block by block as vLLM's prefix cache hashes them
  (a chain of block hashes), so a conversation's later turns report most of their prompt as
  cached.

The responses carry them in vLLM's own layout (vLLM 0.17.1 to 0.33.0 agree on it):
`prompt_token_ids` on the chat response and on the completions choice, `token_ids` on the
choice, `logprobs.content[i]` (chat) or `logprobs.token_logprobs` (completions).
"""

from __future__ import annotations

import hashlib

from pydantic import JsonValue

BLOCK = 16
"""Tokens per prefix-cache block (vLLM's default `--block-size`)."""


def token_ids(text: str) -> list[int]:
    """The stand-in token ids of `text`: its UTF-8 bytes."""
    return list(text.encode())


def logprob(token_id: int) -> float:
    """The stand-in logprob of sampling `token_id`."""
    return -((token_id % 32) + 1) / 64


def chat_logprobs(ids: list[int]) -> dict[str, JsonValue]:
    """`choice.logprobs` of a chat completion (top_logprobs 0), as vLLM lays it out."""
    content: list[JsonValue] = []
    for token_id in ids:
        token = bytes([token_id]).decode("utf-8", errors="replace")
        entry: dict[str, JsonValue] = {
            "token": token,
            "logprob": logprob(token_id),
            "bytes": [token_id],
            "top_logprobs": [],
        }
        content.append(entry)
    return {"content": content}


def completion_logprobs(ids: list[int]) -> dict[str, JsonValue]:
    """`choice.logprobs` of a completion with `logprobs: 0`, as vLLM lays it out."""
    tokens = [bytes([token_id]).decode("utf-8", errors="replace") for token_id in ids]
    offsets: list[JsonValue] = []
    position = 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    values: list[JsonValue] = [logprob(token_id) for token_id in ids]
    top: list[JsonValue] = [
        {token: logprob(token_id)} for token, token_id in zip(tokens, ids, strict=True)
    ]
    return {
        "text_offset": offsets,
        "token_logprobs": values,
        "tokens": list[JsonValue](tokens),
        "top_logprobs": top,
    }


class PrefixCache:
    """Which 16-token blocks earlier prompts had: a chain of block hashes, as vLLM keys them."""

    def __init__(self) -> None:
        self._blocks: set[bytes] = set()

    def cached(self, ids: list[int]) -> int:
        """How many leading tokens of `ids` an earlier prompt had (whole blocks); remembers
        `ids`'s own blocks for the requests after it."""
        hits, parent, missed = 0, b"", False
        for start in range(0, len(ids) - len(ids) % BLOCK, BLOCK):
            parent = hashlib.sha256(parent + bytes(ids[start : start + BLOCK])).digest()
            if not missed and parent in self._blocks:
                hits += BLOCK
            else:
                missed = True
                self._blocks.add(parent)
        # vLLM always computes the prompt's last token again, to sample from it.
        return min(hits, (len(ids) - 1) // BLOCK * BLOCK)
