"""A role whose model litellm does not know gets an entry in litellm's model map (so that its
per-call lookups stop walking every fallback pattern); a model it knows is never touched."""

from __future__ import annotations

from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.llm._litellm import litellm


def test_an_unknown_model_gets_an_entry_with_the_configured_prices() -> None:
    # No api_base: litellm's acompletion serves it (a vLLM server is called directly).
    model = "hosted_vllm/policy-agent-test-entry"
    LLMClient(
        ModelConfig(
            model=model,
            price_per_input_token=1e-6,
            price_per_output_token=2e-6,
        ),
        role="agent",
    )
    info = litellm.get_model_info(model)
    assert (info["input_cost_per_token"], info["output_cost_per_token"]) == (1e-6, 2e-6)
    assert (info["litellm_provider"], info["mode"]) == ("hosted_vllm", "chat")


def test_a_model_litellm_knows_keeps_its_own_entry() -> None:
    before = litellm.get_model_info("openai/gpt-4.1")
    LLMClient(
        ModelConfig(
            model="openai/gpt-4.1",
            api_base="http://127.0.0.1:9/v1",
            price_per_input_token=1.0,
            price_per_output_token=1.0,
        ),
        role="user",
    )
    assert litellm.get_model_info("openai/gpt-4.1") == before
    assert before["input_cost_per_token"] != 1.0
