"""ModelConfig: defaults from the model card, what may be combined, and what reaches the server."""

from __future__ import annotations

import hashlib

import pytest
import yaml
from pydantic import ValidationError

from policy_agent.llm import ModelConfig

MODEL = "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B"


def test_defaults_follow_the_model_card() -> None:
    config = ModelConfig(model=MODEL)
    assert (config.temperature, config.top_p, config.thinking) == (1.0, 0.95, True)
    assert (config.timeout, config.retries, config.max_tokens) == (300, 2, None)
    assert config.servers == ()


def test_the_default_retry_budget_fits_the_default_episode_limit() -> None:
    # Else every run with the defaults would warn that one hung call can outlast the episode.
    from policy_agent.llm import longest_call_s
    from policy_agent.simulation import SimulationConfig

    limit = SimulationConfig.model_fields["episode_timeout_s"].default
    assert longest_call_s(ModelConfig(model=MODEL)) < limit


def test_loads_from_yaml_and_hashes_the_same_every_time() -> None:
    text = f"""
model: {MODEL}
api_bases: [http://gpu1:8000/v1, http://gpu2:8000/v1]
api_key_env: VLLM_KEY
thinking: false
top_k: 20
chat_template_kwargs: {{truncate_history_thinking: false}}
"""
    config = ModelConfig.model_validate(yaml.safe_load(text))
    assert config.servers == ("http://gpu1:8000/v1", "http://gpu2:8000/v1")
    again = ModelConfig.model_validate(yaml.safe_load(text))
    digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
    assert digest == hashlib.sha256(again.model_dump_json().encode()).hexdigest()
    assert "VLLM_KEY" in config.model_dump_json()


def test_chat_extras_carry_thinking_and_the_vllm_sampling_fields() -> None:
    config = ModelConfig(
        model=MODEL,
        thinking=False,
        top_k=20,
        min_p=0.05,
        repetition_penalty=1.1,
        skip_special_tokens=False,
        chat_template_kwargs={"truncate_history_thinking": False},
        extra_body={"priority": 1},
    )
    assert config.request_extras(chat=True) == {
        "priority": 1,
        "top_k": 20,
        "min_p": 0.05,
        "repetition_penalty": 1.1,
        "skip_special_tokens": False,
        "chat_template_kwargs": {"truncate_history_thinking": False, "enable_thinking": False},
    }
    # The completions transport renders its own generation prompt: no chat template arguments.
    assert config.request_extras(chat=False) == {
        "priority": 1,
        "top_k": 20,
        "min_p": 0.05,
        "repetition_penalty": 1.1,
        "skip_special_tokens": False,
    }
    assert ModelConfig(model=MODEL).request_extras(chat=True) == {
        "chat_template_kwargs": {"enable_thinking": True}
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"api_base": "http://a:8000/v1", "api_bases": ["http://b:8000/v1"]},
            "give `api_base` for one server or `api_bases` for several replicas, not both",
        ),
        ({"api_base": "localhost:8000/v1"}, "'localhost:8000/v1' is not an http(s) URL"),
        ({"api_bases": ["http://a/v1", "ftp://b/v1"]}, "'ftp://b/v1' is not an http(s) URL"),
        ({"api_bases": ["http://a/v1", "http://a/v1"]}, "lists the same URL twice"),
        ({"chat_template_kwargs": {"enable_thinking": True}}, "set `thinking`, not"),
        ({"extra_body": {"top_k": 5, "seed": 1}}, "extra_body sets top_k, seed: use the field"),
        ({"api_key_env": "MY KEY"}, "api_key_env"),
        ({"temprature": 0.5}, "Extra inputs are not permitted"),
        ({"top_p": 0}, "top_p"),
        ({"retries": -1}, "retries"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_mistakes_are_rejected_with_a_clear_message(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ModelConfig.model_validate({"model": MODEL, **fields})
    assert message in str(caught.value)


def test_is_frozen() -> None:
    config = ModelConfig(model=MODEL)
    with pytest.raises(ValidationError, match="frozen"):
        config.temperature = 0.0


@pytest.mark.parametrize(
    ("fields", "sends"),
    [
        ({"model": MODEL}, True),
        ({"model": "openai/my-vllm", "api_base": "http://127.0.0.1:8000/v1"}, True),
        # A hosted API (the user simulator's gpt-4.1) may reject fields it does not know.
        ({"model": "gpt-4.1"}, False),
        ({"model": "gpt-4.1", "send_chat_template_kwargs": True}, True),
        ({"model": MODEL, "send_chat_template_kwargs": False}, False),
    ],
)
def test_chat_template_kwargs_go_only_to_servers_with_a_chat_template(
    fields: dict[str, object], sends: bool
) -> None:
    extras = ModelConfig.model_validate(fields).request_extras(chat=True)
    assert ("chat_template_kwargs" in extras) is sends
