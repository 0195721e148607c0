"""Before a run, `policy-agent run` asks the agent's server which model it loaded and, when
thinking is asked on the chat transport, whether its chat template reads `enable_thinking`
(POST /tokenize); each doubt is one warning and kept in run.json. Over real HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.scripted import Script, ScriptedServer
from tests.cli.test_run_failures import write_config
from tests.simulation._support import lookup_then_thanks

CARD_MODEL = "nvidia/Nemotron-Cascade-2-30B-A3B"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def agent_served_as(name: str, **script: Any) -> Script:
    return Script.model_validate({"roles": {name: lookup_then_thanks()["agent"]}, **script})


def agent_server(folder: Path) -> dict[str, Any]:
    [directory] = (folder / "runs").iterdir()
    manifest = json.loads((directory / "run.json").read_text())
    server: dict[str, Any] = manifest["agent_server"]
    return server


def model_warning(names: str, unchecked: str = "") -> str:
    return (
        f"warning: the agent's server serves {names}, not a model the card's format is known "
        "for (Nemotron-Cascade-2, Nemotron-3 Nano or Super): on the chat transport the server "
        "renders the prompt with that model's own template, so `export --format chatml` is not "
        "what the model saw, and the format's system prompt and tool-call markup may not be "
        f"what it was trained on{unchecked}"
    )


def thinking_warning(server: ScriptedServer, tokens: int) -> str:
    url = server.base_url.removesuffix("/v1") + "/tokenize"
    return (
        "warning: thinking is asked (agent.model.thinking: true), but the agent's chat "
        f"template ignores enable_thinking: POST {url} rendered the same {tokens} tokens with "
        "it true and false, so the template alone decides whether the model thinks; set "
        "thinking: false, or serve a template that reads enable_thinking"
    )


def tokenize_requests(server: ScriptedServer) -> list[Any]:
    return [r.body for r in server.requests if r.path == "/tokenize"]


def test_a_model_outside_the_cards_families_is_warned_about_once_and_recorded(
    tmp_path: Path,
) -> None:
    with ScriptedServer(agent_served_as("agent")) as server:
        tasks = ["crib_too_late", "cancel_free_window"]
        result = invoke("run", write_config(tmp_path, server.base_url, tasks=tasks), "--quiet")
        asked = tokenize_requests(server)
    assert result.exit_code == 0, result.stderr
    warning = model_warning("agent")
    assert result.stderr.count("warning: the agent's server serves") == 1
    assert f"{warning}\n" in result.stderr
    assert "ignores enable_thinking" not in result.stderr  # the card's template reads it
    assert agent_server(tmp_path)["warnings"] == [warning.removeprefix("warning: ")]
    assert [body["chat_template_kwargs"] for body in asked] == [
        {"enable_thinking": True},
        {"enable_thinking": False},
    ]
    assert [body["messages"] for body in asked] == [[{"role": "user", "content": "Hello"}]] * 2


def test_the_cards_model_with_the_cards_template_gets_no_warning(tmp_path: Path) -> None:
    with ScriptedServer(agent_served_as(CARD_MODEL)) as server:
        config = write_config(tmp_path, server.base_url, agent_model=f"hosted_vllm/{CARD_MODEL}")
        result = invoke("run", config, "--quiet")
        asked = tokenize_requests(server)
    assert result.exit_code == 0, result.stderr
    assert "warning: the agent's server serves" not in result.stderr
    assert "enable_thinking" not in result.stderr
    assert agent_server(tmp_path)["warnings"] == []
    assert len(asked) == 2  # the template was checked, and reads the switch


def test_a_template_that_ignores_enable_thinking_is_warned_about_when_thinking_is_asked(
    tmp_path: Path,
) -> None:
    script = agent_served_as(CARD_MODEL, chat_template="ignores_thinking")
    with ScriptedServer(script) as server:
        config = write_config(tmp_path, server.base_url, agent_model=f"hosted_vllm/{CARD_MODEL}")
        result = invoke("run", config, "--quiet")
    assert result.exit_code == 0, result.stderr
    # The card's template with thinking on, one token per byte: both renderings are this.
    rendered = "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
    warning = thinking_warning(server, len(rendered) + len("<|im_start|>assistant\n<think>\n"))
    assert result.stderr.count("ignores enable_thinking") == 1
    assert f"{warning}\n" in result.stderr
    assert "warning: the agent's server serves" not in result.stderr
    assert agent_server(tmp_path)["warnings"] == [warning.removeprefix("warning: ")]


def test_instruct_mode_asks_no_thinking_question(tmp_path: Path) -> None:
    script = agent_served_as(CARD_MODEL, chat_template="ignores_thinking")
    with ScriptedServer(script) as server:
        config = write_config(tmp_path, server.base_url, agent_model=f"hosted_vllm/{CARD_MODEL}")
        result = invoke("run", config, "--quiet", "--instruct")
        asked = tokenize_requests(server)
    assert result.exit_code == 0, result.stderr
    assert asked == []
    assert "enable_thinking" not in result.stderr
    assert agent_server(tmp_path)["warnings"] == []


def test_a_server_without_tokenize_runs_and_the_model_warning_says_thinking_was_not_checked(
    tmp_path: Path,
) -> None:
    with ScriptedServer(agent_served_as("agent", chat_template="none")) as server:
        result = invoke("run", write_config(tmp_path, server.base_url), "--quiet")
    assert result.exit_code == 0, result.stderr
    url = server.base_url.removesuffix("/v1") + "/tokenize"
    unchecked = (
        "; whether its chat template reads enable_thinking could not be checked "
        f"(POST {url}: HTTP 404: Not Found)"
    )
    assert f"{model_warning('agent', unchecked)}\n" in result.stderr
    assert "ignores enable_thinking" not in result.stderr
    [directory] = (tmp_path / "runs").iterdir()
    assert (directory / "episodes.jsonl").stat().st_size > 0


def test_no_preflight_skips_the_model_and_template_checks(tmp_path: Path) -> None:
    with ScriptedServer(agent_served_as("agent", chat_template="ignores_thinking")) as server:
        result = invoke("run", write_config(tmp_path, server.base_url), "--quiet", "--no-preflight")
        asked = tokenize_requests(server)
    assert result.exit_code == 0, result.stderr
    assert asked == []
    assert "warning: the agent's server serves" not in result.stderr
    assert agent_server(tmp_path)["warnings"] == []
