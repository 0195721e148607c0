"""`policy-agent run` against servers that fail: it stops early and says why, never blaming the
agent. The servers are scripted stand-ins over real HTTP (dead, wrong model, key refused)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.records import Episode, ToolResult
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.trajectory import RunStore
from tests.simulation._support import HOTEL, closed_port_url, lookup_then_thanks

TASKS = ["cancel_free_window", "crib_too_late", "complaint_transfer", "card_triplet_cribs"]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """Agent and user roles that solve any task in four calls, in a background thread."""
    with ScriptedServer(Script.model_validate({"roles": lookup_then_thanks()})) as running:
        yield running


def write_config(
    folder: Path,
    agent_url: str,
    user_url: str | None = None,
    *,
    agent_model: str = "hosted_vllm/agent",
    **fields: Any,
) -> Path:
    """A run config of the hotel's TASKS, an LLM agent (and user) at the given servers."""
    limits = {"retries": 0, "retry_backoff": 0, "timeout": 5}
    user: dict[str, Any] = {"kind": "scripted"}
    if user_url is not None:
        user = {
            "kind": "llm",
            "model": {"model": "hosted_vllm/user", "api_base": user_url, **limits},
        }
    config = {
        "domain": str(HOTEL),
        "agent": {"model": {"model": agent_model, "api_base": agent_url, **limits}},
        "user": user,
        "tasks": TASKS,
        "out": str(folder / "runs"),
        **fields,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_dead_server_stops_the_run_before_any_episode(tmp_path: Path) -> None:
    url = closed_port_url()
    result = invoke("run", write_config(tmp_path, url), "--quiet")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: the check before the run failed, so no episode was started:\n"
        f"agent model hosted_vllm/agent at {url}: cannot reach the server: GET {url}/models: "
    )
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # no run folder: nothing was burnt


def test_a_model_the_server_does_not_serve_stops_the_run(
    tmp_path: Path, server: ScriptedServer
) -> None:
    config = write_config(
        tmp_path, server.base_url, server.base_url, agent_model="hosted_vllm/nvidia/Nemotron"
    )
    result = invoke("run", config, "--quiet")
    assert result.exit_code == 2
    assert (
        f"agent model hosted_vllm/nvidia/Nemotron at {server.base_url}: the server does not "
        f"serve this model: requests name 'nvidia/Nemotron', but GET {server.base_url}/models "
        "lists agent, user\n"
    ) in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_refused_key_stops_the_run_with_the_servers_answer(tmp_path: Path) -> None:
    script = Script.model_validate({"roles": lookup_then_thanks(), "require_api_key": "sekrit"})
    with ScriptedServer(script) as keyed:
        result = invoke("run", write_config(tmp_path, keyed.base_url, keyed.base_url), "--quiet")
    assert result.exit_code == 2
    assert (
        f"agent model hosted_vllm/agent at {keyed.base_url}: the server rejected the request: "
        f"GET {keyed.base_url}/models answered HTTP 401: Unauthorized\nCheck the API key: set "
        "the environment variable named by `api_key_env`"
    ) in result.stderr


def test_without_preflight_a_dead_server_burns_a_streak_then_the_run_stops_resumably(
    tmp_path: Path,
) -> None:
    url = closed_port_url()
    config = write_config(
        tmp_path, url, trials=3, concurrency=1, stop_after_infrastructure_failures=2
    )
    result = invoke("run", config, "--quiet", "--no-preflight")
    assert result.exit_code == 3
    [directory] = (tmp_path / "runs").iterdir()
    assert result.stdout == (
        f"{directory}: 2/12 episodes; pass -; infrastructure failures 2 (agent "
        "ServerUnreachable 2); ends: infrastructure_error 2\n"
    )
    assert (
        "2 episodes failed on infrastructure (not scored against the agent); the most common "
        f"causes:\n  2 × agent ServerUnreachable: agent model hosted_vllm/agent at {url}: "
        "cannot reach the server: "
    ) in result.stderr
    assert (
        "The run stopped: 2 episodes in a row failed on the agent's side (agent "
        "ServerUnreachable), so no more were started; the last said: "
    ) in result.stderr
    assert result.stderr.endswith(
        f"2 of 12 episodes are in {directory}; fix the cause, then run the rest with: "
        f"policy-agent run --resume {directory}\n"
    )
    assert RunStore.open(directory).manifest.finished_at is None


def test_a_finished_run_with_infrastructure_failures_exits_3_and_names_them(
    tmp_path: Path, server: ScriptedServer
) -> None:
    # The agent answers; the user's server is dead for every episode.
    config = write_config(
        tmp_path, server.base_url, closed_port_url(), stop_after_infrastructure_failures=None
    )
    result = invoke("run", config, "--quiet", "--no-preflight")
    assert result.exit_code == 3
    assert "infrastructure failures 4 (user ServerUnreachable 4)" in result.stdout
    assert "  4 × user ServerUnreachable: user model hosted_vllm/user at " in result.stderr
    [directory] = (tmp_path / "runs").iterdir()
    assert RunStore.open(directory).manifest.finished_at is not None


def test_a_clean_run_against_live_servers_passes_the_check_and_exits_0(
    tmp_path: Path, server: ScriptedServer
) -> None:
    result = invoke("run", write_config(tmp_path, server.base_url, server.base_url), "--quiet")
    assert result.exit_code == 0, result.output
    assert "infrastructure failures 0;" in result.stdout
    [directory] = (tmp_path / "runs").iterdir()
    episodes = RunStore.open(directory).read(Episode)
    assert len(episodes) == len(TASKS)
    generations = [
        (record.role, record.generation)
        for episode in episodes
        for record in episode.messages
        if not isinstance(record, ToolResult) and record.generation is not None
    ]
    assert {(role, g.model, g.served_model) for role, g in generations} == {
        ("assistant", "hosted_vllm/agent", "agent"),
        ("user", "hosted_vllm/user", "user"),
    }


def test_a_server_that_answers_as_another_model_is_warned_about_loudly(tmp_path: Path) -> None:
    roles = lookup_then_thanks()
    script = Script.model_validate({"single_model": "qwen", "roles": {"any": roles["agent"]}})
    with ScriptedServer(script) as llama:
        config = write_config(tmp_path, llama.base_url, agent_model="hosted_vllm/nvidia/Nemotron")
        result = invoke("run", config, "--quiet", "--no-preflight")
    assert result.exit_code == 0, result.output
    [directory] = (tmp_path / "runs").iterdir()
    calls = sum(e.totals["agent"].calls for e in RunStore.open(directory).read(Episode))
    assert (
        f"warning: the agent's server says model qwen answered {calls} calls that named "
        "hosted_vllm/nvidia/Nemotron: those answers are qwen's, filed under "
        "hosted_vllm/nvidia/Nemotron; point the agent at the right server or model name\n"
    ) in result.stderr


def test_a_retry_budget_beyond_the_episode_limit_is_warned_about(
    tmp_path: Path, server: ScriptedServer
) -> None:
    config = write_config(tmp_path, server.base_url, episode_timeout_s=4)
    result = invoke("run", config, "--quiet", "--tasks", "cancel_free_window")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "warning: agent: one model call may take up to 5 s (1 attempt of up to `timeout` 5 s, "
        "and the backoff between them), more than episode_timeout_s 4 s"
    )
