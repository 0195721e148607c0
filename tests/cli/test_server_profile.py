"""`policy-agent run` finds the agent's vLLM release (GET /version), records its profile in
run.json and sends past reasoning in the field that release reads; over real HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.scripted import Script, ScriptedServer
from tests.cli.test_model_warnings import model_warning
from tests.cli.test_run_failures import write_config
from tests.simulation._support import lookup_then_thanks


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def root(server: ScriptedServer) -> str:
    return server.base_url.removesuffix("/v1")


def run_json(folder: Path) -> dict[str, object]:
    [directory] = (folder / "runs").iterdir()
    manifest: dict[str, object] = json.loads((directory / "run.json").read_text())
    return manifest


def test_a_run_on_vllm_0_17_1_records_its_profile_and_sends_reasoning_as_reasoning(
    tmp_path: Path,
) -> None:
    script = Script.model_validate({"roles": lookup_then_thanks(), "vllm_version": "0.17.1"})
    with ScriptedServer(script) as server:
        tasks = ["crib_too_late", "cancel_free_window"]
        config = write_config(tmp_path, server.base_url, tasks=tasks, concurrency=1)
        result = invoke("run", config, "--quiet")
        requests = server.requests
    assert result.exit_code == 0, result.stderr
    assert f"Agent server: vllm-0.17 0.17.1 ({root(server)}/version)" in result.stderr
    assert run_json(tmp_path)["agent_server"] == {
        "profile": "vllm-0.17",
        "version": "0.17.1",
        "detected_from": f"{root(server)}/version",
        "warnings": [model_warning("agent").removeprefix("warning: ")],
    }
    [directory] = (tmp_path / "runs").iterdir()
    shown = invoke("show", directory, "--plain", "--width", "200")
    assert shown.exit_code == 0, shown.stderr
    assert "; agent server vllm-0.17 0.17.1\n" in shown.stdout
    agent_chats = [
        r.body for r in requests if r.path == "/v1/chat/completions" and r.body["model"] == "agent"
    ]
    second = agent_chats[1]["messages"]
    [past] = [m for m in second if m["role"] == "assistant" and "tool_calls" in m]
    assert past["reasoning"] == "Next: get_guest_details."
    assert "reasoning_content" not in past


def test_a_server_without_a_version_gets_the_card_minimum_and_a_warning(tmp_path: Path) -> None:
    with ScriptedServer(Script.model_validate({"roles": lookup_then_thanks()})) as server:
        config = write_config(tmp_path, server.base_url, tasks=["crib_too_late"])
        result = invoke("run", config, "--quiet")
    assert result.exit_code == 0, result.stderr
    url = f"{root(server)}/version"
    assert (
        f"warning: the agent's vLLM version is unknown (GET {url}: HTTP 404); assuming the card "
        "minimum vllm-0.17 (set agent.server_profile or --server-profile to choose)\n"
    ) in result.stderr
    assert run_json(tmp_path)["agent_server"] == {
        "profile": "vllm-0.17",
        "version": None,
        "detected_from": f"card minimum (GET {url}: HTTP 404)",
        "warnings": [model_warning("agent").removeprefix("warning: ")],
    }


def test_the_server_profile_option_names_the_profile_without_asking(tmp_path: Path) -> None:
    script = Script.model_validate({"roles": lookup_then_thanks(), "vllm_version": "0.17.1"})
    with ScriptedServer(script) as server:
        config = write_config(tmp_path, server.base_url, tasks=["crib_too_late"])
        result = invoke("run", config, "--quiet", "--server-profile", "vllm-0.27")
    assert result.exit_code == 0, result.stderr
    manifest = run_json(tmp_path)
    assert manifest["agent_server"] == {
        "profile": "vllm-0.27",
        "version": None,
        "detected_from": "config",
        "warnings": [model_warning("agent").removeprefix("warning: ")],
    }
    assert manifest["config"]["agent"]["server_profile"] == "vllm-0.27"  # type: ignore[index]


def test_an_unknown_server_profile_is_a_usage_problem(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", tasks=["crib_too_late"])
    result = invoke("run", config, "--server-profile", "vllm-9.9")
    assert result.exit_code == 2
    assert "agent.server_profile: " in result.stderr
    assert "not 'vllm-9.9'" in result.stderr
