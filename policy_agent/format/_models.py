"""Which served models the card's format is known for: the Nemotron-Cascade-2 and Nemotron-3
families, whose chat template FORMAT.md distils (Cascade-2's card examples match the
Nemotron-3-Nano-30B-A3B template byte for byte).

A server names its model freely (`vllm serve --served-model-name agent`, a llama.cpp GGUF file
name, a local path), so the rule is a case-insensitive substring of the names the server gives
(vLLM's `/v1/models` lists the served name as `id` and the model it loaded as `root`), with `_`
and spaces read as `-`. The families as Hugging Face names them:

- `nemotron-cascade-2`: nvidia/Nemotron-Cascade-2-30B-A3B and its quantisations;
- `nemotron-3-nano`: nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16 (-FP8, community GGUF/MLX);
- `nemotron-3-super`: nvidia/NVIDIA-Nemotron-3-Super-120B-A12B (-BF16, -FP8, ...).

Older Nemotrons (Llama-3.1-Nemotron-70B, Nemotron-Nano-9B-v2, Llama-3.3-Nemotron-Super-49B) have
other templates and do not match.
"""

from __future__ import annotations

from collections.abc import Iterable

CARD_MODEL_FAMILIES = ("nemotron-cascade-2", "nemotron-3-nano", "nemotron-3-super")
"""What a served model's name contains when the card's format is known for it."""


def is_card_model(names: Iterable[str]) -> bool:
    """Whether any of a served model's names (its served name, the path it was loaded from)
    names a model of the card's families (`CARD_MODEL_FAMILIES`)."""
    for name in names:
        spelled = name.lower().replace("_", "-").replace(" ", "-")
        if any(family in spelled for family in CARD_MODEL_FAMILIES):
            return True
    return False
