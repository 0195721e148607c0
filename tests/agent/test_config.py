"""AgentConfig is data for hashed run configs; the Agent builds its prompt once from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policy_agent.agent import Agent, AgentConfig, ViolationPolicy
from policy_agent.domain import DomainPack
from policy_agent.format import FunctionSpec, PromptStyle, card_system_prompt
from policy_agent.llm import LLMClient, ModelConfig
from tests.agent._support import POLICY, TOOLS

MODEL = ModelConfig(model="hosted_vllm/agent", api_base="http://127.0.0.1:9/v1")


def test_the_config_round_trips_through_json_with_its_defaults() -> None:
    config = AgentConfig(model=MODEL)

    assert AgentConfig.model_validate_json(config.model_dump_json()) == config
    assert (config.transport, config.style) == ("chat", PromptStyle.CARD)
    assert config.violations == ViolationPolicy(strategy="resample", max_attempts=3)


def test_unknown_fields_and_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        AgentConfig.model_validate({"model": MODEL, "temperature": 0})
    with pytest.raises(ValidationError, match="transport"):
        AgentConfig.model_validate({"model": MODEL, "transport": "responses"})
    with pytest.raises(ValidationError, match="max_attempts"):
        ViolationPolicy(max_attempts=0)


def test_the_feedback_text_may_use_only_the_detail_placeholder() -> None:
    policy = ViolationPolicy(feedback="Wrong: {detail}. Braces: {{ok}}.")

    assert policy.correction("two calls") == "Wrong: two calls. Braces: {ok}."
    with pytest.raises(ValidationError, match=r"only the placeholder \{detail\}"):
        ViolationPolicy(feedback="Dear {name}: {detail}")


async def test_a_client_for_another_model_config_is_refused() -> None:
    other = LLMClient(MODEL.model_copy(update={"temperature": 0.0}), role="agent")

    with pytest.raises(ValueError, match=r"pass a client made from config\.model"):
        Agent(policy=POLICY, tools=TOOLS, config=AgentConfig(model=MODEL), client=other)


async def test_the_system_prompt_is_built_from_the_pack(hotel: DomainPack) -> None:
    agent = Agent.from_pack(hotel, AgentConfig(model=MODEL))
    functions = [FunctionSpec.from_openai(tool.openai_schema()) for tool in hotel.tools]

    assert agent.system_message.content == card_system_prompt(hotel.policy, functions)
    assert [spec.name for spec in agent.functions] == [tool.name for tool in hotel.tools]
    await agent.client.aclose()


def test_rebuilding_prompts_needs_no_model_client() -> None:
    # Exports rebuild prompts from a run's config; that must not import litellm (seconds).
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from policy_agent.agent import Agent, AgentConfig\n"
        "from policy_agent.records import UserMessage\n"
        "from policy_agent.llm import ModelConfig\n"
        "config = AgentConfig(model=ModelConfig(model='hosted_vllm/m'), transport='completions')\n"
        "agent = Agent(policy='Be kind.', tools=[], config=config)\n"
        "assert agent.prompt([UserMessage(content='hi')]).endswith('<think>\\n')\n"
        "print('litellm' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
