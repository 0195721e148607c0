"""What the one-action grammar costs: building it per pack, and the engine compiling it.

    python benchmarks/grammar.py

For each pack (the hotel pack, and the tau2 packs from the grammar tests' fixture): the time
`answer_grammar` takes, against rendering the same pack's card system prompt in the same run
(the one other per-pack text the agent builds), and the grammar's size. Then llguidance (and
xgrammar, when installed) compile the largest pack's grammar, against compiling the hotel
pack's. The engines get a byte-level tokenizer: the Nemotron tokenizer cannot be downloaded
here, and with a 131k-token vocabulary compiling costs more (vLLM compiles each distinct grammar
once and caches it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_agent.format import GrammarSyntax, answer_grammar, card_system_prompt
from tests.format.grammar_support import PACKS, functions

REPEATS = 20


def best_of(action: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of `repeats` runs, in milliseconds (the least disturbed by the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    print(
        "| pack | tools | Lark build (ms) | EBNF build (ms) | prompt (ms) | Lark / EBNF size (kB) |"
    )
    print("|---|---|---|---|---|---|")
    sizes: dict[str, int] = {}
    for pack in PACKS:
        specs = functions(pack)
        lark = best_of(partial(answer_grammar, specs, syntax=GrammarSyntax.LARK))
        ebnf = best_of(partial(answer_grammar, specs, syntax=GrammarSyntax.EBNF))
        prompt = best_of(partial(card_system_prompt, "policy", specs))
        text = {s: answer_grammar(specs, syntax=s) for s in GrammarSyntax}
        sizes[pack] = len(text[GrammarSyntax.LARK])
        kilobytes = " / ".join(f"{len(text[s]) / 1000:.1f}" for s in GrammarSyntax)
        print(f"| {pack} | {len(specs)} | {lark:.2f} | {ebnf:.2f} | {prompt:.3f} | {kilobytes} |")
    largest = max(sizes, key=sizes.__getitem__)
    print(f"\ncompile, byte-level tokenizer: {largest} (largest) against hotel")
    for engine, compile_ in engines().items():
        for syntax in GrammarSyntax:
            if engine == "xgrammar" and syntax is GrammarSyntax.LARK:
                continue
            big = answer_grammar(functions(largest), syntax=syntax)
            small = answer_grammar(functions("hotel"), syntax=syntax)
            big_ms = best_of(partial(compile_, big), 5)
            small_ms = best_of(partial(compile_, small), 5)
            print(
                f"- {engine}, {syntax.value}: {big_ms:.1f} ms ({small_ms:.1f} ms for hotel, "
                f"{big_ms / small_ms:.1f}x)"
            )


def engines() -> dict[str, Callable[[str], object]]:
    found: dict[str, Callable[[str], object]] = {}
    try:
        import llguidance
        from llguidance import LLMatcher, LLTokenizer, TokenizerWrapper
    except ImportError:
        print("llguidance is not installed: pip install 'policy-agent[grammar]'")
    else:
        from tests.format.grammar_support import _ByteTokenizer

        tokenizer = LLTokenizer(TokenizerWrapper(_ByteTokenizer()))

        def guidance(grammar: str) -> object:
            matcher = LLMatcher(tokenizer, llguidance.grammar_from("grammar", grammar))
            assert not matcher.is_error(), matcher.get_error()
            return matcher

        found["llguidance"] = guidance
    try:
        import xgrammar
    except ImportError:
        print("xgrammar is not installed: pip install 'policy-agent[grammar-xgrammar]'")
    else:
        vocab = [bytes([i]) for i in range(256)] + [b"<|im_end|>"]
        info = xgrammar.TokenizerInfo(
            vocab, vocab_type=xgrammar.VocabType.RAW, stop_token_ids=[256]
        )

        def xgr(grammar: str) -> object:
            # A new compiler each time: a compiler caches what it compiled.
            return xgrammar.GrammarCompiler(info, cache_enabled=False).compile_grammar(grammar)

        found["xgrammar"] = xgr
    return found


if __name__ == "__main__":
    main()
