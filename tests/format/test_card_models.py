"""`is_card_model`: which served names the card's format is known for."""

from __future__ import annotations

import pytest

from policy_agent.format import is_card_model


@pytest.mark.parametrize(
    "names",
    [
        ("nvidia/Nemotron-Cascade-2-30B-A3B",),
        ("agent", "nvidia/Nemotron-Cascade-2-30B-A3B"),  # --served-model-name agent, vLLM's root
        ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",),
        ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8",),
        ("/models/nemotron_cascade_2_30b_a3b-Q4_K_M.gguf",),
        ("BrendanL79/Nemotron-3-Nano-30B-A3B-MLX-4bit",),
    ],
)
def test_the_cards_families_are_known_by_any_of_their_names(names: tuple[str, ...]) -> None:
    assert is_card_model(names) is True


@pytest.mark.parametrize(
    "names",
    [
        ("agent",),
        ("Qwen/Qwen3-8B",),
        ("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",),
        ("nvidia/NVIDIA-Nemotron-Nano-9B-v2",),
        ("nvidia/Llama-3_3-Nemotron-Super-49B-v1",),
        (),
    ],
)
def test_other_models_and_older_nemotrons_are_not_known(names: tuple[str, ...]) -> None:
    assert is_card_model(names) is False
