"""Run configs: the shipped files, file:line errors, flags over fields, the resume hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policy_agent.simulation import (
    HASH_EXCLUDES,
    TAU2_GREETING,
    ConfigError,
    ModelAgentConfig,
    Overrides,
    apply_overrides,
    config_for_domain,
    load_config,
)
from policy_agent.trajectory import config_hash
from tests.simulation._support import DEMO, HOTEL, VLLM


def test_the_demo_config_is_the_oracle_with_the_scripted_user() -> None:
    config = load_config(DEMO)
    assert config.is_oracle and config.user.kind == "scripted"
    assert config.domain == HOTEL  # relative to the config file, resolved
    assert config.greeting == TAU2_GREETING
    assert config.tasks is None and config.trials == 1


def test_the_vllm_config_serves_nemotron_as_the_card_says() -> None:
    config = load_config(VLLM)
    agent = config.agent
    assert isinstance(agent, ModelAgentConfig)
    assert agent.model.model == "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B"
    assert agent.model.api_base == "http://127.0.0.1:8000/v1"
    assert (agent.model.temperature, agent.model.top_p, agent.model.thinking) == (1.0, 0.95, True)
    assert agent.style.value == "card" and agent.transport == "chat"
    assert config.user.model is not None and config.user.model.api_key_env == "OPENAI_API_KEY"
    text = " ".join(VLLM.read_text().replace("\\\n#", " ").split())
    assert (
        "vllm serve nvidia/Nemotron-Cascade-2-30B-A3B --port 8000 --tensor-parallel-size 1 "
        "--gpu-memory-utilization 0.9 --max-model-len 262144 --reasoning-parser nemotron_v3 "
        "--mamba-ssm-cache-dtype float32 --trust_remote_code --enable-auto-tool-choice "
        "--tool-call-parser qwen3_coder"
    ) in text.replace("# ", "")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems `load_config` lists for a file of `text`, each without the file's name."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [line.removeprefix(f"  {path}:") for line in str(raised.value).splitlines()[1:]]


def test_problems_are_listed_by_file_and_line(tmp_path: Path) -> None:
    listed = problems(
        tmp_path,
        "domain: ../domains/hotel\n"
        "agent:\n"
        "  model:\n"
        "    model: hosted_vllm/x\n"
        "    temperature: -1\n"
        "  style: cards\n"
        "user: {kind: scripted}\n"
        "trails: 2\n"
        "user: {kind: llm}\n",
    )
    assert listed == [
        "5: agent.model.temperature: Input should be greater than or equal to 0",
        "6: agent.style: 'cards' is not a prompt style; expected one of card, template",
        "8: unknown key 'trails' (did you mean 'trials'?)",
        "9: user: duplicate key 'user' (first at line 7)",
    ]


def test_problems_deep_in_the_file_name_their_field(tmp_path: Path) -> None:
    listed = problems(
        tmp_path,
        "domain: x\n"
        "agent:\n"
        "  model:\n"
        "    model: m\n"
        "    model: n\n"
        "    api_key_env: my-key\n"
        "user: {kind: scripted}\n"
        "tasks: [a, 3]\n",
    )
    assert listed == [
        "5: agent.model.model: duplicate key 'model' (first at line 4)",
        "6: agent.model.api_key_env: 'my-key' is not a valid name; use letters, digits and _ "
        "(not starting with a digit)",
        "8: tasks[1]: expected text, found a number (3)",
    ]


def test_a_config_in_the_working_dir_is_named_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "domain: [unclosed\n")
    with pytest.raises(ConfigError, match=r"^run\.yaml:2:1: YAML syntax error"):
        load_config(tmp_path / "run.yaml")
    write(tmp_path, "domain: x\n")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "run.yaml")
    assert str(raised.value) == (
        "2 problems in run.yaml:\n"
        "  run.yaml:1: missing required key 'agent'\n"
        "  run.yaml:1: missing required key 'user'"
    )


def test_an_oracle_takes_no_model_and_a_scripted_user_no_guidelines(tmp_path: Path) -> None:
    text = "domain: x\nagent: {kind: oracle, model: {model: m}}\n"
    text += "user: {kind: scripted, guidelines: Be nice.}\n"
    assert problems(tmp_path, text) == [
        "2: agent: unknown key 'model'; expected one of kind",
        "3: user: a `scripted` user reads no guidelines; remove `guidelines`",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1: a run config is a mapping with at least domain, agent and user"),
        ("domain: [unclosed\n", "2:1: YAML syntax error"),
        ("# a list\n- a\n- b\n", "2: found a list; a run config is a mapping"),
    ],
)
def test_files_that_are_not_configs(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}:{expected}")):
        load_config(path)


def test_flags_override_fields() -> None:
    config = apply_overrides(
        load_config(DEMO),
        Overrides(
            agent_model="hosted_vllm/nemotron",
            agent_api_base="http://127.0.0.1:9000/v1",
            transport="completions",
            style="template",
            instruct=True,
            user_model="openai/gpt-4.1",
            user_api_base="http://127.0.0.1:9001/v1",
            tasks=["crib_too_late"],
            trials=3,
            concurrency=2,
            max_steps=20,
            seed=9,
            out=Path("elsewhere"),
        ),
    )
    agent = config.agent
    assert isinstance(agent, ModelAgentConfig)
    assert agent.model.model == "hosted_vllm/nemotron"
    assert agent.model.api_base == "http://127.0.0.1:9000/v1"
    assert agent.transport == "completions" and agent.style.value == "template"
    assert agent.model.thinking is False
    assert config.user.kind == "llm" and config.user.model is not None
    assert config.user.model.api_base == "http://127.0.0.1:9001/v1"
    assert (config.tasks, config.trials, config.concurrency) == (["crib_too_late"], 3, 2)
    assert (config.max_steps, config.seed, config.out) == (20, 9, Path("elsewhere"))


def test_model_flags_need_a_model() -> None:
    with pytest.raises(ConfigError, match="--instruct: the agent is the oracle"):
        apply_overrides(load_config(DEMO), Overrides(instruct=True))
    with pytest.raises(ConfigError, match="--user-api-base: the user is scripted"):
        apply_overrides(load_config(DEMO), Overrides(user_api_base="http://127.0.0.1:1/v1"))
    with pytest.raises(ConfigError, match="trials: Input should be greater than or equal to 1"):
        apply_overrides(load_config(DEMO), Overrides(trials=0))


def test_a_domain_without_a_config_needs_an_agent_model() -> None:
    with pytest.raises(ConfigError, match="--domain needs --agent-model"):
        config_for_domain(HOTEL, Overrides())
    config = config_for_domain(HOTEL, Overrides(agent_model="hosted_vllm/x"))
    assert not config.is_oracle and config.user.kind == "scripted"


def test_the_resume_hash_ignores_speed_and_place_but_not_meaning() -> None:
    base = load_config(DEMO)

    def hashed(**flags: object) -> str:
        changed = apply_overrides(base, Overrides(**flags))  # type: ignore[arg-type]
        return config_hash(changed.as_json(), exclude=HASH_EXCLUDES)

    same = hashed()
    assert hashed(concurrency=64) == same
    assert hashed(out=Path("/elsewhere")) == same
    moved = base.model_copy(update={"domain": Path("/somewhere/else/hotel")})
    assert config_hash(moved.as_json(), exclude=HASH_EXCLUDES) == same
    assert hashed(seed=1) != same
    assert hashed(trials=2) != same
    assert hashed(max_steps=5) != same


def test_the_agent_constraint_is_read_from_the_config_and_the_flag(tmp_path: Path) -> None:
    default = load_config(VLLM).agent
    assert isinstance(default, ModelAgentConfig) and default.constrain == "none"
    text = f"domain: {HOTEL}\nagent:\n  model: {{model: hosted_vllm/m}}\n  constrain: grammar\n"
    text += "  grammar_syntax: lark\nuser: {kind: scripted}\n"
    agent = load_config(write(tmp_path, text)).agent
    assert isinstance(agent, ModelAgentConfig)
    assert (agent.constrain, agent.grammar_syntax.value) == ("grammar", "lark")
    flagged = apply_overrides(load_config(VLLM), Overrides(constrain="grammar")).agent
    assert isinstance(flagged, ModelAgentConfig) and flagged.constrain == "grammar"
    with pytest.raises(ConfigError, match="--constrain: the agent is the oracle"):
        apply_overrides(load_config(DEMO), Overrides(constrain="grammar"))
    assert problems(tmp_path, text.replace("constrain: grammar", "constrain: always")) == [
        "4: agent.constrain: 'always' is not a valid constrain; expected one of none, grammar"
    ]
    base = load_config(VLLM)
    assert config_hash(
        apply_overrides(base, Overrides(constrain="grammar")).as_json(), exclude=HASH_EXCLUDES
    ) != config_hash(base.as_json(), exclude=HASH_EXCLUDES)
