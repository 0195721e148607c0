"""`report` says how much of each role's prompt the server's prefix cache served (models in
process; litellm's reading of the usage details is tests/llm/test_tokens.py's)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.records import AgentMessage, AgentToolCall
from policy_agent.report import build_report, load_run
from tests._models import ScriptedModels
from tests.agent._hotel_script import AGENT_TURNS, scripted
from tests.report._support import STRICT_TASK, run_simulation
from tests.simulation._support import model, sim_config


def cached_run(out: Path, prompt_tokens_details: bool) -> Path:
    """The model card's scenario (completions transport) on a server that reports cache hits
    as `vllm serve --enable-prompt-tokens-details` does, or does not."""
    answers = [scripted(turn, "completions", "card") for turn in AGENT_TURNS]
    models = ScriptedModels.of(
        {"agent": {"answers": answers}}, prompt_tokens_details=prompt_tokens_details
    )
    agent = {"model": model(models, "agent"), "transport": "completions"}
    return run_simulation(sim_config(agent=agent, tasks=[STRICT_TASK], out=str(out)), models)


def test_the_cached_share_of_the_agents_prompts_is_reported(tmp_path: Path) -> None:
    directory = cached_run(tmp_path, prompt_tokens_details=True)
    run = load_run(directory)
    [agent, user, _] = build_report(run).roles
    [episode] = run.episodes
    per_call = [
        r.generation.usage.cached_prompt_tokens
        for r in episode.messages
        if isinstance(r, AgentMessage | AgentToolCall) and r.generation is not None
    ]
    # The first call's prompt was new; each later one shares the conversation so far.
    assert per_call[0] == 0 and all(c is not None and c > 0 for c in per_call[1:])
    assert agent.cached_prompt_tokens == sum(c or 0 for c in per_call)
    assert agent.cached_prompt_tokens is not None
    assert 0 < agent.cached_prompt_tokens < agent.prompt_tokens
    assert user.cached_prompt_tokens is None  # the scripted user calls no model
    shown = CliRunner().invoke(main, ["report", str(directory)]).output
    share = agent.cached_prompt_tokens / agent.prompt_tokens
    assert (
        f"Prefix cache (agent): {agent.cached_prompt_tokens:,} of {agent.prompt_tokens:,} prompt "
        f"tokens ({share:.0%}) were served from the cache" in " ".join(shown.split())
    )


def test_no_cache_line_when_the_server_does_not_say(tmp_path: Path) -> None:
    directory = cached_run(tmp_path, prompt_tokens_details=False)
    assert build_report(load_run(directory)).roles[0].cached_prompt_tokens is None
    assert "Prefix cache" not in CliRunner().invoke(main, ["report", str(directory)]).output
