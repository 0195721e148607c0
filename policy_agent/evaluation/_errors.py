"""Errors of evaluation: configuration mistakes found before any episode is scored."""

from __future__ import annotations

from policy_agent.errors import PolicyAgentError


class EvaluationError(PolicyAgentError):
    """An episode cannot be scored as configured; the message says what to change."""


class JudgeRequired(EvaluationError):
    """A task's reward depends on NL assertions, but no judge model is configured."""


class UnknownTask(EvaluationError):
    """An episode names a task that the domain pack does not have."""
