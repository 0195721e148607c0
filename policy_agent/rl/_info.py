"""The observation and `info` of a step, for the gymnasium env and the HTTP server alike."""

from __future__ import annotations

from typing import Any

from policy_agent.rl._episode import StepOutcome


def observation(outcome: StepOutcome) -> dict[str, Any]:
    """The agent's next prompt: ChatML text and OpenAI messages (empty once the episode ended)."""
    prompt = outcome.prompt
    if prompt is None:
        return {"prompt": "", "messages": [], "turn": None, "attempt": None}
    return {
        "prompt": prompt.text,
        "messages": prompt.messages,
        "turn": prompt.turn,
        "attempt": prompt.attempt,
    }


def step_info(outcome: StepOutcome, *, as_json: bool) -> dict[str, Any]:
    """What happened in the step; with `as_json`, only JSON values (no `Episode` object)."""
    info: dict[str, Any] = {
        "turn": None if outcome.prompt is None else outcome.prompt.turn,
        "records": [record.model_dump(mode="json") for record in outcome.records],
        "tool_results": [
            {"name": r.name, "content": r.content, "error": r.error} for r in outcome.tool_results
        ],
        "violation": None
        if outcome.violation is None
        else outcome.violation.model_dump(mode="json"),
    }
    episode = outcome.episode
    if episode is not None:
        reward = episode.reward
        info["termination_reason"] = episode.termination_reason.value
        info["reward_breakdown"] = (
            {} if reward is None else {str(k): v for k, v in reward.reward_breakdown.items()}
        )
        info["reward_info"] = None if reward is None else reward.model_dump(mode="json")
        if not as_json:
            info["episode"] = episode
    return info
